#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests
# (including BuildKit's conformance vectors and the real-world corpus from
# ../shared, which skip loudly when that folder is absent).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --quiet
