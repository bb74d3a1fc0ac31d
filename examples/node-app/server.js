// A tiny HTTP server: answers every request with a greeting.
//   node server.js           listen on $PORT (default 3000)
//   node server.js --print   print the greeting and exit (no network needed)
'use strict';

const http = require('node:http');

const name = process.env.GREETING_NAME || 'world';
const greeting = `Hello, ${name}! Node.js ${process.version} answering from an image built by rbuild.`;

if (process.argv.includes('--print')) {
  console.log(greeting);
  process.exit(0);
}

const port = Number.parseInt(process.env.PORT || '3000', 10);

const server = http.createServer((req, res) => {
  console.log(`${req.method} ${req.url}`);
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${greeting}\n`);
});

server.listen(port, () => {
  console.log(`listening on port ${port}`);
});

// As PID 1 in a container, node gets no default signal handling: stop on
// SIGTERM and SIGINT ourselves so `podman stop` is quick.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
