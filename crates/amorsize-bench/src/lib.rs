//! amorsize-bench: the workload suite and the side-by-side comparison of auto (amorsize's
//! `par_map`) with the plain loop, rayon and the best fixed pool setting (the oracle).
//!
//! The binary (`src/main.rs`) parses flags and prints; everything it uses lives here so that
//! tests reach it: [`workloads`] (the built-in workloads and their checksums), [`grid`] (the
//! settings searched), [`measure`] (warm-up, interleaving, result checks), [`strategies`] (the
//! run of one workload under every strategy), [`stats`] (median, geometric mean), [`report`]
//! (ratios, table, JSON), [`svg`] (the bar chart) and [`cli`] (the flags).
#![warn(missing_docs)]

pub mod cli;
pub mod grid;
pub mod measure;
pub mod report;
pub mod stats;
pub mod strategies;
pub mod svg;
pub mod workloads;
