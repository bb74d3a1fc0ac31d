#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests
# (including BuildKit's conformance vectors and the real-world corpus from
# ../shared, which skip loudly when that folder is absent), then the
# acceptance cases that need no RUN yet.
set -euo pipefail
cd "$(dirname "$0")/.."
acceptance=../shared/acceptance/run

# Tools the tests check images with (skopeo, umoci, podman, oci-image-tool,
# busybox-static): installed by the acceptance suite's own --setup.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    if [ -f "$acceptance" ]; then
        python3 "$acceptance" --setup
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq attr
    else
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo umoci podman runc oci-image-tool busybox-static attr
    fi
fi

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --quiet

if [ -f "$acceptance" ]; then
    cargo build --release --quiet
    # Every case but 13-links and 14-permissions: in the shared folder as this
    # machine has it, their contexts lost what they test (the symlinks of
    # 13-links/context/tree are plain files, and 14's script.sh is 0555, not
    # 0755), so no builder can produce what their case.json expects. They run
    # again once the shared data carries symlinks and modes.
    python3 "$acceptance" --rbuild target/release/rbuild \
        --only '^(?!13-links$|14-permissions$)'
else
    echo "SKIPPED: $acceptance not found; acceptance cases not run"
fi
