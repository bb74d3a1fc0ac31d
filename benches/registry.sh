#!/usr/bin/env bash
# Push and pull of a 200 MB, 5-layer image (random bytes, gzip layers) to a
# loopback docker-registry: rbuild next to `skopeo copy`, timed with
# hyperfine in alternating rounds; prints the median of every command's runs
# and the ratios. Also times a second push of an image the registry already
# has (every blob skipped). Debian packages: hyperfine docker-registry skopeo.
# Results go to BENCHMARKS.md by hand. Usage: benches/registry.sh [rbuild] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rbuild=$(realpath "${1:-target/release/rbuild}")
rounds=${2:-5}
work=$(mktemp -d /var/tmp/rbuild-bench-registry.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
cat > "$work/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $host
EOF
docker-registry serve "$work/config.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null; rm -rf "$work"' EXIT
until curl -fs "http://$host/v2/" > /dev/null; do sleep 0.1; done

# The image: FROM scratch and five COPYs of a 40 MB random file.
mkdir -p "$work/ctx"
printf 'FROM scratch\n' > "$work/ctx/Dockerfile"
for i in 1 2 3 4 5; do
    head -c 40M /dev/urandom > "$work/ctx/layer$i"
    printf 'COPY layer%s /layer%s\n' "$i" "$i" >> "$work/ctx/Dockerfile"
done
"$rbuild" build --root "$work/store" --progress quiet -t bench/image:1 "$work/ctx"
# First push: compresses the layers once (kept in the store) and puts every
# blob in the registry, so later uploads of both tools meet the same state.
"$rbuild" push --root "$work/store" bench/image:1 "$host/source/image:1" > /dev/null 2>&1

echo 0 > "$work/n"
next='n=$(($(cat '"$work"'/n)+1)); echo $n > '"$work"'/n'
# Each push goes to a new repository, and neither tool may mount from the
# last one: rbuild's blob-origin records and skopeo's blob-info cache go.
forget="rm -rf $work/store/records/registry-origins /var/lib/containers/cache/blob-info-cache-v1.* $HOME/.local/share/containers/cache/blob-info-cache-v1.*"
rbuild_push="$next; $rbuild push --root $work/store bench/image:1 $host/rbuild\$n/image:1 > /dev/null 2>&1"
skopeo_push="$next; skopeo copy -q --dest-tls-verify=false oci:$work/layout:1 docker://$host/skopeo\$n/image:1"
skopeo copy -q --src-tls-verify=false "docker://$host/source/image:1" "oci:$work/layout:1"
rbuild_pull="$rbuild pull --root $work/pulled $host/source/image:1 > /dev/null 2>&1"
skopeo_pull="skopeo copy -q --src-tls-verify=false docker://$host/source/image:1 oci:$work/pulled-skopeo:1"

for round in $(seq "$rounds"); do
    hyperfine --runs 1 --shell bash --prepare "$forget" --export-json "$work/push-$round.json" \
        -n 'rbuild push' "$rbuild_push" -n 'skopeo copy (push)' "$skopeo_push" > /dev/null
    hyperfine --runs 1 --shell bash \
        --prepare "rm -rf $work/pulled $work/pulled-skopeo" --export-json "$work/pull-$round.json" \
        -n 'rbuild pull' "$rbuild_pull" -n 'skopeo copy (pull)' "$skopeo_pull" > /dev/null
done
hyperfine --warmup 1 --runs 10 --shell bash --export-json "$work/again.json" \
    -n 'rbuild push (every blob present)' \
    "$rbuild push --root $work/store bench/image:1 $host/source/image:1 > /dev/null 2>&1" > /dev/null

python3 - "$work" <<'PY'
import glob, json, statistics, sys
work = sys.argv[1]
times = {}
for path in sorted(glob.glob(f"{work}/*.json")):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
med = {k: statistics.median(v) for k, v in times.items()}
for name, t in med.items():
    print(f"| {name} | {t:.3f} s | {len(times[name])} runs |")
for a, b in [("rbuild push", "skopeo copy (push)"), ("rbuild pull", "skopeo copy (pull)")]:
    print(f"{a} / {b}: {med[a] / med[b]:.2f}x")
PY
