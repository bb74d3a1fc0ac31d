#!/usr/bin/env bash
# Builds rbuild, makes the base images (examples/base-images.sh), builds every
# example with rbuild and checks the results with podman:
#
#   hello        prints its greeting
#   node-app     `node server.js --print` prints the greeting (no network)
#   multi-stage  one layer holding only /hello, and it runs
#   website      nginx answers on a published port, checked with curl
#   compose      both services built by `rbuild bake`, node-app run with
#                `rbuild run`
#
# Installs debootstrap, busybox-static, podman, runc, curl and jq with apt when
# missing. Needs root.
#
# Environment:
#   RBUILD_BIN             use this rbuild binary and skip `cargo build`
#   RBUILD_EXAMPLES_CACHE  base image tarballs and the rbuild store, kept
#                          between runs (default: /var/tmp/rbuild-examples)
#   RBUILD_ROOT            rbuild store (default: $RBUILD_EXAMPLES_CACHE/store)
#   WEBSITE_PORT           host port for the website check (default: 18080)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

if [ -n "${RBUILD_BIN:-}" ]; then
    bin=$RBUILD_BIN
else
    cargo build --release --quiet
    bin=$PWD/target/release/rbuild
fi
cache=${RBUILD_EXAMPLES_CACHE:-/var/tmp/rbuild-examples}
store=${RBUILD_ROOT:-$cache/store}
web_port=${WEBSITE_PORT:-18080}
export RBUILD_EXAMPLES_CACHE=$cache

work=$(mktemp -d /var/tmp/rbuild-example.XXXXXX)
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
podman() {
    CONTAINERS_CONF=$work/containers.conf command podman --root "$work/podman" \
        --runroot "$work/podman-run" --storage-driver vfs --runtime runc \
        --cgroup-manager cgroupfs --events-backend none "$@"
}
cleanup() {
    podman rm -f -t 0 -a >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "!! $*" >&2
    exit 1
}

# build NAME OUTPUT: rbuild build examples/NAME as localhost/example-NAME.
build() {
    echo "== rbuild build examples/$1"
    "$bin" build --root "$store" --progress plain -t "localhost/example-$1:latest" \
        --output "$2" "examples/$1"
}

examples/base-images.sh "$bin" "$store"

# --- hello: a file and a command on the busybox base ---------------------
echo "== rbuild build examples/hello"
"$bin" build --root "$store" --progress plain -t localhost/rbuild-hello:latest \
    --output "type=docker,dest=$work/hello.tar" examples/hello
podman load -q -i "$work/hello.tar"
out=$(podman run --rm --network none localhost/rbuild-hello:latest)
echo "$out"
[ "$out" = "$(cat examples/hello/hello.txt)" ] || fail "hello: unexpected output"
echo "== hello ok"

# --- node-app: Node.js on the Debian base -----------------------------------
build node-app "type=docker,dest=$work/node-app.tar"
podman load -q -i "$work/node-app.tar"
out=$(podman run --rm --network none localhost/example-node-app:latest node server.js --print)
echo "$out"
case $out in
    "Hello, world! Node.js v"*" answering from an image built by rbuild.") ;;
    *) fail "node-app: unexpected greeting" ;;
esac
echo "== node-app ok"

# --- multi-stage: a static binary alone in a FROM scratch image --------------
oci=$work/multi-stage-oci
build multi-stage "type=oci,dest=$oci,tar=false"
blob() { echo "$oci/blobs/${1/://}"; }
manifest=$(jq -r '.manifests[0].digest' "$oci/index.json")
layers=$(jq -r '.layers[].digest' "$(blob "$manifest")")
[ "$(wc -l <<<"$layers")" = 1 ] || fail "multi-stage: expected one layer, got: $layers"
files=$(tar -tzf "$(blob "$layers")" | sed 's|^\./||; s|/$||' | { grep -v '^$' || true; })
echo "layer $layers: $files"
[ "$files" = hello ] || fail "multi-stage: the layer should hold only hello"
# podman loads an OCI layout as a tar archive (an oci-archive).
tar -C "$oci" -cf "$oci.tar" .
podman load -q -i "$oci.tar"
out=$(podman run --rm --network none localhost/example-multi-stage:latest)
echo "$out"
[ "$out" = "Hello from a static C program in a FROM scratch image built by rbuild." ] ||
    fail "multi-stage: unexpected output"
echo "== multi-stage ok"

# --- website: nginx serving a static page ------------------------------------
build website "type=docker,dest=$work/website.tar"
podman load -q -i "$work/website.tar"
podman run -d --name website -p "127.0.0.1:$web_port:80" localhost/example-website:latest >/dev/null
page=
for _ in $(seq 50); do
    page=$(curl -fsS -m 2 "http://127.0.0.1:$web_port/" 2>/dev/null) && break
    sleep 0.2
done
if ! grep -q '<h1>Hello from a static site built by rbuild</h1>' <<<"$page"; then
    podman logs website >&2 || true
    fail "website: no page on http://127.0.0.1:$web_port/"
fi
curl -fsS -m 2 "http://127.0.0.1:$web_port/style.css" >/dev/null || fail "website: no style.css"
podman rm -f -t 2 website >/dev/null
echo "== website ok"

# --- compose: website and node-app together, with rbuild bake ---------------
echo "== rbuild bake -f examples/compose/compose.yaml"
"$bin" bake --root "$store" -f examples/compose/compose.yaml
# Both images, from the steps the single builds above already made.
for image in localhost/example-website:latest localhost/example-node-app:latest; do
    "$bin" inspect --root "$store" --format '{{.Id}}' "$image" >/dev/null ||
        fail "compose: $image was not built"
done
# And run without any daemon, in rbuild's own sandbox.
out=$("$bin" run --root "$store" --network none localhost/example-node-app:latest node server.js --print)
echo "$out"
case $out in
    "Hello, world! Node.js v"*) ;;
    *) fail "compose: node-app greeting from rbuild run" ;;
esac
echo "== compose ok"

echo "== all examples ok"
