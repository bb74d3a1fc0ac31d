"""The two builders and their surroundings (part of tests/differential/run).

- a private dockerd (docker.io 20.10, BuildKit inside) started on its own
  socket and stopped again at exit;
- the busybox base image, made once from Debian's /bin/busybox, imported into
  rbuild's store and exported from there into docker, so that both builders
  start from the very same bytes;
- one build with each builder, and the Dockerfile line a failed build names;
- a loopback HTTP server for the ADD <url> cases.
"""

import functools
import hashlib
import http.server
import io
import json
import os
import re
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

WORK_ROOT = Path("/var/tmp/rbuild-differential")
SOCKET = "/run/rbuild-diff-docker.sock"
PIDFILE = Path("/run/rbuild-diff-docker.pid")
DOCKER = "/usr/bin/docker"  # 20.10; /usr/local/bin/docker is another version
BASE_REF = "localhost/diff-busybox:latest"
VERBOSE = False
HTTP_BASE = None  # http://127.0.0.1:PORT serving fixtures/differential, set by serve_cases


def serve_cases(root):
    """Serve root over HTTP on a free loopback port, for ADD <url> cases.

    Both builders fetch ADD URLs themselves on the host (dockerd runs on the
    host network), so a loopback server is enough and nothing leaves the
    machine. http.server answers HEAD and GET and sends Last-Modified."""
    global HTTP_BASE
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    HTTP_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    return server


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Failure(Exception):
    """A case (or the whole run) failed; the message says why."""


def run(cmd, check=True, env=None, timeout=300, input=None):
    cmd = [str(c) for c in cmd]
    if VERBOSE:
        print("  $ " + " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                           input=input, errors="replace")
    except subprocess.TimeoutExpired:
        raise Failure(f"timed out after {timeout}s: {' '.join(cmd)}")
    if check and p.returncode != 0:
        raise Failure(f"command failed ({p.returncode}): {' '.join(cmd)}\n"
                      + tail(p.stdout + p.stderr))
    return p


def tail(text, n=20):
    lines = text.rstrip().splitlines()[-n:]
    return "".join(f"      | {line}\n" for line in lines)


def docker_env():
    return dict(os.environ, DOCKER_HOST=f"unix://{SOCKET}", DOCKER_BUILDKIT="1")


# ---------------------------------------------------------------- dockerd

class Dockerd:
    """Use the daemon on SOCKET, starting one when none answers."""

    def __init__(self):
        self.proc = None

    def answers(self):
        try:
            p = subprocess.run([DOCKER, "info", "--format", "{{.ServerVersion}}"],
                               capture_output=True, text=True, env=docker_env(), timeout=30)
        except subprocess.TimeoutExpired:
            return None
        return p.returncode == 0 and p.stdout.strip()

    def start(self, timeout=60, append=False):
        version = self.answers()
        if version:
            return f"using the dockerd already on {SOCKET} ({version})"
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        log = WORK_ROOT / "dockerd.log"
        # No bridge and no iptables: builds use --network host, RUN steps in
        # the cases need no network, and nothing here may touch the host's
        # firewall.
        cmd = ["dockerd", "--iptables=false", "--bridge=none",
               "--data-root", WORK_ROOT / "docker", "--exec-root", "/run/rbuild-diff-exec",
               "--pidfile", PIDFILE, "-H", f"unix://{SOCKET}"]
        # a first start truncates the log, so that its tail explains a failure;
        # a restart appends, so that the reason of the crash stays there
        with open(log, "ab" if append else "wb") as f:
            # own session, so a Ctrl-C on the suite does not hit dockerd
            # before the suite has stopped its builds
            self.proc = subprocess.Popen([str(c) for c in cmd], stdout=f, stderr=f,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"dockerd exited with {self.proc.returncode} at start; "
                              f"see {log}:\n" + tail(log.read_text(errors="replace")))
            version = self.answers()
            if version:
                return f"started dockerd {version} on {SOCKET} (log: {log})"
            time.sleep(0.5)
        self.stop()
        raise Failure(f"dockerd did not answer on {SOCKET} within {timeout}s; see {log}")

    def restart(self):
        """After dockerd died: start it again if this run owns it."""
        if self.proc is None:
            return "it is not this run's daemon, so it is not restarted"
        self.stop()
        try:
            return self.start(append=True)
        except Failure as e:
            return f"restart failed: {e}"

    def stop(self):
        """Stop the daemon this run started (and only that one)."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- base image

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "app:x:1000:1000:app:/home/app:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = "root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n"


def base_tarball(dest):
    """Write the busybox root filesystem as a tarball, entry by entry.

    Made directly with tarfile (fixed mtimes, numeric owners) rather than from
    a directory on disk, so the same busybox gives the same bytes every time."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise Failure("/bin/busybox is missing (apt-get install busybox-static)")
    applets = sorted(set(run([busybox, "--list"]).stdout.split()))

    def add(t, name, kind, mode, uid=0, data=b"", link=""):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, uid, 1700000000
        ti.linkname = link
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as t:
        for name, mode, uid in [("bin", 0o755, 0), ("etc", 0o755, 0), ("home", 0o755, 0),
                                ("home/app", 0o755, 1000), ("root", 0o700, 0),
                                ("tmp", 0o1777, 0)]:
            add(t, name, tarfile.DIRTYPE, mode, uid)
        add(t, "bin/busybox", tarfile.REGTYPE, 0o755, data=busybox.read_bytes())
        seen = {"busybox"}  # never link busybox to itself
        for a in applets:
            if a not in seen:
                seen.add(a)
                add(t, f"bin/{a}", tarfile.SYMTYPE, 0o777, link="busybox")
        add(t, "etc/passwd", tarfile.REGTYPE, 0o644, data=PASSWD.encode())
        add(t, "etc/group", tarfile.REGTYPE, 0o644, data=GROUP.encode())


def make_base(rbuild, store, work):
    """Put the base into rbuild's store and the same bytes into docker.

    The first run imports the tarball (`rbuild import`) and exports it from
    rbuild's store as a docker-archive, kept under WORK_ROOT by the tarball's
    hash; every run loads that archive into both builders. `rbuild import`
    stamps the current time into the config, so re-importing on every run
    would change the image id and defeat the reference cache.
    Returns the image id (config digest)."""
    tarball = work / "base-rootfs.tar"
    base_tarball(tarball)
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()[:16]
    archive = WORK_ROOT / f"base-{digest}.docker.tar"
    if not archive.exists():
        run([rbuild, "import", "--root", work / "import-store", tarball, BASE_REF])
        partial = archive.with_suffix(".partial")
        run([rbuild, "save", "--root", work / "import-store", "--format", "docker",
             "-o", partial, BASE_REF])
        partial.rename(archive)
    run([rbuild, "load", "--root", store, "-i", archive])
    with tarfile.open(archive) as t:
        manifest = json.load(t.extractfile("manifest.json"))
    image_id = "sha256:" + manifest[0]["Config"].rsplit("/", 1)[-1].removesuffix(".json")
    have = run([DOCKER, "image", "inspect", "--format", "{{.Id}}", BASE_REF],
               check=False, env=docker_env()).stdout.strip()
    if have != image_id:
        run([DOCKER, "load", "-i", archive], env=docker_env())
        have = run([DOCKER, "image", "inspect", "--format", "{{.Id}}", BASE_REF],
                   env=docker_env()).stdout.strip()
        if have != image_id:
            raise Failure(f"docker loaded the base as {have}, the archive has {image_id}")
    return image_id


# ---------------------------------------------------------------- builds

def build_flags(case, rbuild):
    """The flags both builders share, from case.json."""
    out = []
    if case.spec.get("serve"):
        out += ["--build-arg", f"DIFF_HTTP={HTTP_BASE}/{case.name}/serve"]
    for k, v in case.spec.get("build_args", {}).items():
        out += ["--build-arg", k if v is None else f"{k}={v}"]
    if case.spec.get("target"):
        out += ["--target", case.spec["target"]]
    for sid, src in case.spec.get("secrets", {}).items():
        out += ["--secret", f"id={sid},src={case.path / src}"]
    return out + case.spec.get("rbuild_flags" if rbuild else "docker_flags", [])


def rbuild_build(rbuild, store, case, context, dest):
    # --network none: the cases need none, and a RUN that reaches out by
    # mistake should fail here rather than depend on the machine.
    cmd = [rbuild, "build", "--root", store, "--progress", "plain", "--network", "none",
           "-f", context / case.dockerfile, *build_flags(case, True),
           "--output", f"type=oci,dest={dest}", context]
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    return run(cmd, check=False, env=env)


def docker_build(case, context, tag):
    """Build with BuildKit; returns the build's CompletedProcess."""
    # --network host: the daemon has no bridge network (--bridge=none); the
    # cases' RUN steps use no network anyway (rbuild runs them with none).
    cmd = [DOCKER, "build", "--network", "host", "--progress", "plain",
           "-f", context / case.dockerfile, *build_flags(case, False), "-t", tag, context]
    return run(cmd, check=False, env=docker_env())


def docker_save(tag, dest):
    """Save tag as a docker-archive; returns None, or the config when it has no layers.

    docker 20.10 refuses to save an image without layers ("empty export -
    not implemented"); for those the config comes from `docker image inspect`
    (which has no history)."""
    p = run([DOCKER, "save", "-o", dest, tag], check=False, env=docker_env())
    if p.returncode == 0:
        return None
    if "empty export" not in p.stderr:
        raise Failure(f"docker save {tag} failed:\n" + tail(p.stderr))
    inspect = json.loads(run([DOCKER, "image", "inspect", tag], env=docker_env()).stdout)[0]
    return {"config": {"config": inspect["Config"]}, "layers": 0}


# ---------------------------------------------------------------- failed builds

def instructions(text):
    """[(line, KEYWORD, rest)] of a Dockerfile, continuation lines joined.

    Just enough of the grammar to find where a failed step sits: parser
    directives (escape), comments, blank lines and line continuations. No
    heredocs, which BuildKit 20.10 does not parse either."""
    escape = "\\"
    lines = text.splitlines()
    out, i, directives = [], 0, True
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*#\s*(\w+)\s*=\s*(\S+)\s*$", line) if directives else None
        if m:
            if m.group(1).lower() == "escape":
                escape = m.group(2)
            i += 1
            continue
        directives = False
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        start, parts = i + 1, []
        while True:
            stripped = line.rstrip()
            if stripped.endswith(escape) and i + 1 < len(lines):
                parts.append(stripped[:-1])
                i += 1
                line = lines[i]
                while i + 1 < len(lines) and (not line.strip() or line.lstrip().startswith("#")):
                    i += 1  # comments and blank lines inside a continuation
                    line = lines[i]
                continue
            parts.append(line)
            break
        i += 1
        words = " ".join(p.strip() for p in parts).split(None, 1)
        out.append((start, words[0].upper(), words[1] if len(words) > 1 else ""))
    return out


def squash(s):
    return " ".join(s.split())


def docker_failed_line(output, dockerfile_text):
    """The Dockerfile line a failed BuildKit 20.10 build is about, or None.

    BuildKit 20.10 prints no `Dockerfile:N` source snippet (that came with
    BuildKit 0.9), so the line is recovered from what it does print:
      - `dockerfile parse error line N: ...` for parse errors;
      - `failed to process "WORD"` when expanding a word fails: the line with WORD;
      - `> [STAGE I/N] INSTRUCTION TEXT:` for a failing step: I counts FROM,
        RUN, COPY, ADD and WORKDIR within the stage;
      - `failed to parse stage name "NAME"`: the line with --from=NAME;
      - `> FROM REF:` or `load metadata for REF` when an image (an unknown
        stage name taken as an image) cannot be resolved: the line naming REF."""
    m = re.search(r"Dockerfile:(\d+)", output)
    if m:
        return int(m.group(1))
    m = re.search(r"dockerfile parse error line (\d+)", output)
    if m:
        return int(m.group(1))
    ins = instructions(dockerfile_text)
    # a word that could not be expanded: the (first) instruction that has it
    m = re.search(r'failed to process ("(?:[^"\\]|\\.)*"): ', output)
    if m:
        word = json.loads(m.group(1))  # Go's %q quoting, close enough to JSON
        for line, kw, rest in ins:
            if word in rest:
                return line
    m = re.search(r"^ > \[(?:(\S+) )?(\d+)/(\d+)\] (.*):$", output, re.M)
    if m:
        stage, idx, text = m.group(1), int(m.group(2)), squash(m.group(4))
        stages, cur = [], None
        for line, kw, rest in ins:
            if kw == "FROM":
                parts = rest.split()
                name = parts[-1].lower() if len(parts) >= 3 and parts[-2].lower() == "as" else None
                cur = {"name": name, "steps": []}
                stages.append(cur)
            if cur is not None and kw in ("FROM", "RUN", "COPY", "ADD", "WORKDIR"):
                cur["steps"].append((line, f"{kw} {rest}"))
        chosen = None
        if stage is None and len(stages) == 1:
            chosen = stages[0]
        for k, s in enumerate(stages):
            if stage is not None and (s["name"] == stage.lower() or f"stage-{k}" == stage):
                chosen = s
        if chosen and idx <= len(chosen["steps"]):
            line, step_text = chosen["steps"][idx - 1]
            if squash(step_text).lower().startswith(text.split()[0].lower()):
                return line
    m = re.search(r'failed to parse stage name "(.*?)"', output)
    if m:
        for line, kw, rest in ins:
            if f"--from={m.group(1)}" in rest:
                return line
    m = re.search(r"^ > (?:FROM|\[internal\] load metadata for) (\S+):$", output, re.M)
    if m:
        ref = m.group(1)
        short = ref[:-len(":latest")] if ref.endswith(":latest") else ref
        for line, kw, rest in ins:
            if re.search(rf"(^|[\s=]){re.escape(short)}(:latest)?(\s|,|$)", rest):
                return line
    return None


def rbuild_failed_line(output):
    """rbuild names the line as `Dockerfile:N` (or `PATH/Dockerfile:N:COL`)."""
    m = re.search(r"Dockerfile:(\d+)", output)
    return int(m.group(1)) if m else None
