#!/usr/bin/env bash
# Cache behaviour next to BuildKit (docker 20.10's, through a private
# dockerd): a context of 5,000 files / 40 MB copied, then one RUN, on a
# busybox base;
#   (a) cold (no cache), (b) again with nothing changed, (c) after editing
#   one file.
# hyperfine, 5 runs each after a warm-up. Debian packages: hyperfine,
# docker.io, busybox-static. (buildah is in benches/run_compare.sh.) Results go to BENCHMARKS.md by hand.
# Usage: benches/cache_compare.sh [rbuild]
set -euo pipefail
cd "$(dirname "$0")/.."
rbuild=$(realpath "${1:-target/release/rbuild}")
work=$(mktemp -d /var/tmp/rbuild-cachebench.XXXXXX)
sock=unix://$work/docker.sock
cleanup() {
    kill "$(cat "$work/docker.pid" 2>/dev/null)" 2>/dev/null || true
    sleep 2
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/ctx"
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$rbuild" import --root "$work/store" "$work/rootfs.tar" localhost/bench-base:latest >/dev/null
"$rbuild" save --root "$work/store" --format docker -o "$work/base.docker.tar" localhost/bench-base:latest

python3 - "$work/ctx/src" <<'PY'
import os, sys, random
root = sys.argv[1]
rng = random.Random(7)
for i in range(5000):
    d = os.path.join(root, f"d{i // 100:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:04d}.bin"), "wb") as f:
        f.write(rng.randbytes(8192))
PY
cat > "$work/ctx/Dockerfile" <<'DOCKERFILE'
ARG BASE
FROM ${BASE}
COPY src /src
RUN ls -R /src | wc -l > /count
DOCKERFILE

dockerd --iptables=false --bridge=none --data-root /var/tmp/rbuild-bench-docker \
    --exec-root "$work/docker-exec" --pidfile "$work/docker.pid" -H "$sock" \
    > "$work/dockerd.log" 2>&1 &
for _ in $(seq 100); do DOCKER_HOST=$sock /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.2; done
DOCKER_HOST=$sock /usr/bin/docker load -q -i "$work/base.docker.tar" >/dev/null

rb="$rbuild build --root $work/store --progress quiet --build-arg BASE=localhost/bench-base:latest $work/ctx"
dk="DOCKER_HOST=$sock DOCKER_BUILDKIT=1 /usr/bin/docker build -q --network host --build-arg BASE=localhost/bench-base:latest $work/ctx"
edit="date +%s%N > $work/ctx/src/d00/f0000.bin"

echo "(a) cold"
hyperfine --warmup 1 --runs 5 --shell bash \
    -n 'rbuild' "$rb --no-cache" -n 'BuildKit' "$dk --no-cache"
echo "(b) nothing changed"
hyperfine --warmup 1 --runs 5 --shell bash -n 'rbuild' "$rb" -n 'BuildKit' "$dk"
echo "(c) one file edited"
hyperfine --warmup 1 --runs 5 --shell bash --prepare "$edit" \
    -n 'rbuild' "$rb" -n 'BuildKit' "$dk"
