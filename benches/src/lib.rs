//! Criterion benchmarks for Tandem; see `benches/`.
