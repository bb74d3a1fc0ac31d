//! Benchmarks for rbuild; see the `[[bench]]` targets.
