//! Parses (and lowers) every Dockerfile of the real-world corpus in
//! `../shared/corpus/realworld`. Throughput goes to BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::PathBuf;

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/realworld");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIPPED: {} not found", dir.display());
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("read corpus file"))
        .collect()
}

fn bench_corpus(c: &mut Criterion) {
    let files = corpus();
    if files.is_empty() {
        return;
    }
    let bytes: usize = files.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            for f in &files {
                std::hint::black_box(rbuild::dockerfile::parse_bytes(f).expect("parses"));
            }
        })
    });
    group.bench_function("parse+lower", |b| {
        b.iter(|| {
            for f in &files {
                let df = rbuild::dockerfile::parse_bytes(f).expect("parses");
                // One corpus file is a Rego policy that must fail to lower.
                let _ = std::hint::black_box(rbuild::ir::lower(&df));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_corpus);
criterion_main!(benches);
