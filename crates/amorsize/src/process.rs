//! Running external commands over many inputs: spawning, measuring, batching, ordering.
//!
//! PLACEHOLDER (issue: `amorsize run`).
