#!/usr/bin/env bash
# RUN benchmark (hyperfine): a step writing 20,000 small files and 100 MB,
# then one deleting a quarter of them. Compared with the floor (the same
# commands under plain chroot, each followed by `tar | sha256sum` of what it
# changed) and with `buildah bud --isolation chroot --layers`.
# Needs root, busybox-static, hyperfine (and buildah for the third line).
# Usage: benches/run_compare.sh [rbuild]
set -euo pipefail
cd "$(dirname "$0")/.."
rbuild=$(realpath "${1:-target/release/rbuild}")
work=$(mktemp -d /var/tmp/rbuild-runbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/dev" "$work/ctx"
# The floor's plain chroot has no /dev of its own.
mknod -m 666 "$work/rootfs/dev/null" c 1 3
mknod -m 666 "$work/rootfs/dev/urandom" c 1 9
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$rbuild" import --root "$work/store" "$work/rootfs.tar" localhost/bench-base:latest >/dev/null
"$rbuild" save --root "$work/store" --format oci -o "$work/base.oci.tar" localhost/bench-base:latest

write='mkdir /data && cd /data && i=0 && while [ $i -lt 20000 ]; do echo $i > f$i; i=$((i+1)); done && dd if=/dev/urandom of=/data/big bs=1M count=100 2>/dev/null'
delete='cd /data && rm -f $(seq -f "f%g" 0 4999)'
cat > "$work/ctx/Dockerfile" <<DOCKERFILE
ARG BASE
FROM \${BASE}
RUN $write
RUN $delete
DOCKERFILE

floor="chroot $work/rootfs /bin/sh -c '$write' && tar -C $work/rootfs -cf - data | sha256sum && chroot $work/rootfs /bin/sh -c '$delete' && tar -C $work/rootfs -cf - data | sha256sum"
commands=(
  -n 'floor: chroot + tar | sha256sum' --prepare "rm -rf $work/rootfs/data" "$floor"
  -n 'rbuild build --no-cache' --prepare true
  "$rbuild build --root $work/store --progress quiet --no-cache --build-arg BASE=oci-archive:$work/base.oci.tar $work/ctx"
)
if command -v buildah >/dev/null; then
  commands+=(-n 'buildah bud --isolation chroot --layers' --prepare "buildah --root $work/buildah --runroot $work/buildah-run --storage-driver vfs rmi -a -f >/dev/null 2>&1 || true"
    "buildah --root $work/buildah --runroot $work/buildah-run --storage-driver vfs bud -q --isolation chroot --layers --no-cache --build-arg BASE=oci-archive:$work/base.oci.tar $work/ctx")
fi
# BuildKit: docker 20.10's, through a private dockerd (as the differential
# suite starts one), with the same base image loaded.
if command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; then
  sock=unix://$work/docker.sock
  dockerd --iptables=false --bridge=none --data-root /var/tmp/rbuild-bench-docker \
    --exec-root "$work/docker-exec" --pidfile "$work/docker.pid" -H "$sock" \
    > "$work/dockerd.log" 2>&1 &
  trap 'kill $(cat "$work/docker.pid" 2>/dev/null) 2>/dev/null; sleep 2; rm -rf "$work"' EXIT
  for _ in $(seq 100); do DOCKER_HOST=$sock /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.2; done
  "$rbuild" save --root "$work/store" --format docker -o "$work/base.docker.tar" localhost/bench-base:latest
  DOCKER_HOST=$sock /usr/bin/docker load -q -i "$work/base.docker.tar" >/dev/null
  commands+=(-n 'BuildKit: docker build --no-cache' --prepare true
    "DOCKER_HOST=$sock DOCKER_BUILDKIT=1 /usr/bin/docker build -q --no-cache --network host --build-arg BASE=localhost/bench-base:latest $work/ctx")
fi
[ -n "${DEBUG:-}" ] && exit 0
hyperfine --warmup 1 --runs 5 --export-markdown "$work/run.md" "${commands[@]}"
cat "$work/run.md"
