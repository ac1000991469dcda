//! Shared pieces of the comparison and the benchmarks.
