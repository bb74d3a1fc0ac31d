#!/usr/bin/env bash
# Builds rbuild, makes a busybox base image from Debian's busybox-static
# (`rbuild import`), builds examples/hello on it, and runs the result with
# podman. Installs busybox-static, podman and runc with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

cargo build --release --quiet
bin=$PWD/target/release/rbuild
work=$(mktemp -d /var/tmp/rbuild-example.XXXXXX)
trap 'rm -rf "$work"' EXIT
store=$work/store

echo "== base image: busybox from Debian's busybox-static, via rbuild import"
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for applet in sh cat ls echo; do ln -s busybox "$work/rootfs/bin/$applet"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$bin" import --root "$store" "$work/rootfs.tar" localhost/busybox:latest

echo "== rbuild build examples/hello"
"$bin" build --root "$store" --progress plain -t localhost/rbuild-hello:latest \
    --output "type=docker,dest=$work/hello.tar" examples/hello

echo "== podman load and run"
printf '[containers]\ndefault_ulimits = []\n' > "$work/containers.conf"
podman() {
    CONTAINERS_CONF=$work/containers.conf command podman --root "$work/podman" \
        --runroot "$work/podman-run" --storage-driver vfs --runtime runc \
        --cgroup-manager cgroupfs --events-backend none "$@"
}
podman load -q -i "$work/hello.tar"
podman run --rm --network none localhost/rbuild-hello:latest
