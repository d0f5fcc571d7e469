//! Chunked n-dimensional arrays: profiling, memory pressure, chunk-shape recommendation and
//! blockwise execution under a memory budget.
//!
//! PLACEHOLDER (issue: arrays).
