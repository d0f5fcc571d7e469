//! The decision and its explanation.

use crate::{Error, Result};
use serde::Serialize;
use std::fmt;

/// How a plan runs the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Executor {
    /// The plain loop on the calling thread.
    Sequential,
    /// A warm thread pool.
    Threads,
}

/// Everything the decision was based on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diagnostics {}

/// The decision.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    executor: Executor,
    workers: usize,
    chunk_size: usize,
    predicted_speedup: f64,
    diagnostics: Diagnostics,
}

impl Plan {
    /// Sequential or threads.
    pub fn executor(&self) -> Executor {
        self.executor
    }
    /// Workers (1 for sequential).
    pub fn workers(&self) -> usize {
        self.workers
    }
    /// Items per chunk.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }
    /// Predicted speedup over the plain loop.
    pub fn predicted_speedup(&self) -> f64 {
        self.predicted_speedup
    }
    /// The measurements and reasons.
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
    }
    /// Runs `f` over `items` under this plan (results in input order).
    pub fn execute<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
        &self,
        items: &[T],
        f: F,
    ) -> Result<Vec<R>> {
        Ok(items.iter().map(f).collect())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} x{} chunk {}",
            self.executor, self.workers, self.chunk_size
        )
    }
}

/// Settings of the planner.
#[derive(Debug, Clone)]
pub struct Optimizer {
    sample_size: usize,
}

impl Default for Optimizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Optimizer {
    /// Defaults.
    pub fn new() -> Self {
        Optimizer { sample_size: 5 }
    }
    /// Items sampled for a steady workload.
    pub fn sample_size(mut self, n: usize) -> Self {
        self.sample_size = n;
        self
    }
    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        if self.sample_size == 0 {
            return Err(Error::invalid_config("sample_size", "must be at least 1"));
        }
        Ok(())
    }
    /// Plans `f` over `items`.
    pub fn optimize<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
        &self,
        items: &[T],
        _f: F,
    ) -> Result<Plan> {
        self.validate()?;
        Ok(Plan {
            executor: Executor::Sequential,
            workers: 1,
            chunk_size: items.len().max(1),
            predicted_speedup: 1.0,
            diagnostics: Diagnostics::default(),
        })
    }
}

/// Plans `f` over `items` with default settings.
pub fn optimize<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(items: &[T], f: F) -> Result<Plan> {
    Optimizer::new().optimize(items, f)
}
