//! An opt-in counting global allocator: per-thread current and peak bytes.
//!
//! PLACEHOLDER (issue: arrays).
