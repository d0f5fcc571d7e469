//! The runtime chunk controller: a pure state machine from chunk durations to the next chunk size.
//!
//! PLACEHOLDER with the final signatures.

use serde::Serialize;
use std::time::Duration;

/// Settings of the runtime chunk controller.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControllerConfig {
    /// First chunk size.
    pub initial: usize,
    /// Target duration of one chunk.
    pub target: Duration,
    /// How far one adjustment moves toward the target, 0..=1.
    pub adaptation_rate: f64,
    /// Smallest chunk size.
    pub min: usize,
    /// Largest chunk size, if bounded.
    pub max: Option<usize>,
    /// Number of chunk durations in the moving window.
    pub window: usize,
}

/// The runtime chunk controller (placeholder).
#[derive(Debug, Clone)]
pub struct ChunkController {
    size: usize,
}

impl ChunkController {
    /// A controller starting at the configured initial size.
    ///
    /// ```
    /// # use amorsize::pool::*; use std::time::Duration;
    /// let c = ChunkController::new(ControllerConfig { initial: 8, target: Duration::from_millis(1),
    ///     adaptation_rate: 0.3, min: 1, max: None, window: 10 });
    /// assert_eq!(c.chunk_size(), 8);
    /// ```
    pub fn new(cfg: ControllerConfig) -> Self {
        ChunkController { size: cfg.initial }
    }
    /// The current chunk size.
    ///
    /// ```
    /// # use amorsize::pool::*; use std::time::Duration;
    /// # let c = ChunkController::new(ControllerConfig { initial: 8, target: Duration::from_millis(1),
    /// #    adaptation_rate: 0.3, min: 1, max: None, window: 10 });
    /// assert!(c.chunk_size() >= 1);
    /// ```
    pub fn chunk_size(&self) -> usize {
        self.size
    }
}
