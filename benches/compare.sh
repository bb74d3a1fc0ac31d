#!/usr/bin/env bash
# Whole-command comparisons with hyperfine (Debian packages hyperfine, pigz):
#   1. COPY of a 5,000-file, 40 MB context into the store, next to the floor
#      `tar -cf - ctx | sha256sum`;
#   2. exporting that image as a gzip docker-archive (`rbuild save`), next to
#      the floor `tar -cf - ctx | pigz -p2 | sha256sum`.
# Results go to BENCHMARKS.md by hand. Usage: benches/compare.sh [rbuild]
set -euo pipefail
cd "$(dirname "$0")/.."
rbuild=$(realpath "${1:-target/release/rbuild}")
work=$(mktemp -d /var/tmp/rbuild-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 - "$work/ctx" <<'PY'
import os, sys, random
root = sys.argv[1]
rng = random.Random(42)
for i in range(5000):
    d = os.path.join(root, f"d{i // 100:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:04d}.bin"), "wb") as f:
        f.write(rng.randbytes(8192))
PY
printf 'FROM scratch\nCOPY . /ctx/\n' > "$work/Dockerfile"
du -sh "$work/ctx"

hyperfine --warmup 2 --runs 10 --export-markdown "$work/copy.md" \
  -n 'floor: tar | sha256sum' "tar -C $work -cf - ctx | sha256sum" \
  -n 'rbuild COPY (--no-cache)' "$rbuild build --root $work/store --progress quiet --no-cache -f $work/Dockerfile $work/ctx"
cat "$work/copy.md"

"$rbuild" build --root "$work/store" --progress quiet -t bench:1 -f "$work/Dockerfile" "$work/ctx"
hyperfine --warmup 1 --runs 10 --export-markdown "$work/export.md" \
  --prepare "rm -rf $work/store/records/compressed" \
  -n 'floor: tar | pigz -p2 | sha256sum' "tar -C $work -cf - ctx | pigz -p2 | sha256sum" \
  -n 'rbuild save (gzip docker-archive)' "$rbuild save --root $work/store -o $work/out.tar bench:1"
cat "$work/export.md"
