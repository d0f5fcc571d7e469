//! amorsize-bench: the workload suite and the side-by-side comparison of auto (amorsize's
//! `par_map`) with the plain loop, rayon and the best fixed pool setting (the oracle).
//!
//! The binary (`src/main.rs`) parses flags and prints; everything it uses lives here so that
//! tests reach it: [`workloads`] (the built-in workloads and their checksums), [`grid`] (the
//! settings searched), [`measure`] (warm-up, interleaving, result checks), [`strategies`] (the
//! run of one workload under every strategy), [`stats`] (median, geometric mean), [`report`]
//! (ratios, table, JSON), [`svg`] (the bar chart) and [`cli`] (the flags).
//!
//! ```
//! use amorsize_bench::{cli::run_workload, report::render, strategies::Settings, workloads::*};
//! // One workload at the test size (a few items of almost no cost), on an assumed 2 cores.
//! let w = by_name("tiny-n")?;
//! let result = run_workload(&w, Size::Tiny, &Calibration::fixed(1.0), Settings::quick(2))?;
//! let row = result.row.expect("every strategy was measured");
//! assert_eq!((row.workload.as_str(), row.items), ("tiny-n", 100));
//! let table = render(&[row.clone()], &amorsize_bench::report::summarize(&[row]));
//! assert!(table.lines().any(|l| l.starts_with("tiny-n")));
//! # Ok::<(), amorsize::Error>(())
//! ```
#![warn(missing_docs)]

pub mod cli;
pub mod grid;
pub mod measure;
pub mod report;
pub mod stats;
pub mod strategies;
pub mod svg;
pub mod workloads;
