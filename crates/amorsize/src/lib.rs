//! # amorsize — parallel execution that tunes itself
//!
//! Hand amorsize a function and a slice and it answers the questions people otherwise guess
//! at: is parallelism worth it here at all, how many workers, how big a chunk — and, while the
//! job runs, how the chunk size must change when items cost unequal time.
//!
//! ```
//! let items: Vec<u64> = (0..10_000).collect();
//! // Plan only: measure a sample, predict, decide, explain.
//! let plan = amorsize::optimize(&items, |x| x.wrapping_mul(2654435761) % 1000)?;
//! println!("{plan}");
//! assert!(plan.workers() >= 1 && plan.chunk_size() >= 1);
//! // Plan and run on a warm pool; results in input order, every item run exactly once.
//! let out = amorsize::par_map(&items, |x| x * 2)?;
//! assert_eq!(out[10], 20);
//! # Ok::<(), amorsize::Error>(())
//! ```
//!
//! The data flows one way: [`system`] + [`sample`] → [`model`] → [`plan`] → [`pool`].
//! [`manager`] keeps pools warm between calls; [`array`](crate::array) applies the same ideas to chunked
//! n-dimensional arrays; [`process`] runs external commands (the `amorsize run` command).
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod alloc;
pub mod array;
mod error;
pub mod exec;
pub mod manager;
pub mod model;
pub mod plan;
pub mod pool;
pub mod process;
pub mod sample;
pub mod system;

pub use error::{Error, Result};
pub use exec::{par_map, par_map_with};
pub use manager::{global_pool_manager, PoolManager};
pub use plan::{optimize, Diagnostics, Executor, Optimizer, Plan};
pub use pool::AdaptivePool;
