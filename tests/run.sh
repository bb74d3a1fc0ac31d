#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests
# (including BuildKit's conformance vectors and the real-world corpus from
# ../shared, which skip loudly when that folder is absent), then the
# acceptance cases that need no RUN yet.
set -euo pipefail
cd "$(dirname "$0")/.."
acceptance=../shared/acceptance/run

# Tools the tests check images with (skopeo, umoci, podman, oci-image-tool,
# busybox-static): installed by the acceptance suite's own --setup; the
# registry tests' docker-registry, htpasswd and openssl, and the docker
# engine the differential suite compares with, installed here.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    if [ -f "$acceptance" ]; then
        python3 "$acceptance" --setup
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq attr \
            docker-registry apache2-utils openssl docker.io tmux git
    else
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo umoci podman runc oci-image-tool busybox-static attr \
            docker-registry apache2-utils openssl docker.io tmux git
    fi
fi

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --quiet

if [ -f "$acceptance" ]; then
    cargo build --release --quiet
    python3 "$acceptance" --rbuild target/release/rbuild
else
    echo "SKIPPED: $acceptance not found; acceptance cases not run"
    # In CI a skipped suite is a failure.
    [ -z "${CI:-}" ] || exit 1
fi

# rbuild against docker 20.10's BuildKit on every case of
# fixtures/differential (starts and stops its own dockerd).
cargo build --release --quiet
python3 tests/differential/run --rbuild target/release/rbuild

# The README's examples, end to end (base images cached in
# /var/tmp/rbuild-examples after the first run on a machine).
RBUILD_BIN=$PWD/target/release/rbuild bash examples/run.sh
