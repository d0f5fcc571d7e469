//! TEMPORARY shim for the parts of the chunk controller API that are being written in
//! `controller.rs` by another developer (`record`, `history`, `set_remaining`, `Adjustment`).
//!
//! Inherent methods take precedence over trait methods, so once the real methods land the
//! calls in the scheduler resolve to them; then delete this file and re-export
//! `controller::Adjustment` from `pool/mod.rs` instead of this one.

use super::ChunkController;
use serde::Serialize;
use std::time::Duration;

/// One change of the chunk size made by the controller (placeholder until the controller lands).
///
/// ```
/// let a = amorsize::pool::Adjustment { from: 8, to: 16, mean: std::time::Duration::ZERO, at_chunk: 3 };
/// assert!(a.to > a.from);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adjustment {
    /// Chunk size before.
    pub from: usize,
    /// Chunk size after.
    pub to: usize,
    /// The window mean duration that caused it.
    pub mean: Duration,
    /// Chunks recorded before the change.
    pub at_chunk: usize,
}

/// The controller methods the scheduler uses (shimmed until the real ones land).
#[allow(dead_code)]
pub(crate) trait ControllerApi {
    /// Feeds one finished chunk; returns the next chunk size.
    fn record(&mut self, duration: Duration, items: usize) -> usize;
    /// Every change made so far.
    fn history(&self) -> &[Adjustment];
    /// Tells the controller how many items are left in the job.
    fn set_remaining(&mut self, items_left: usize);
}

impl ControllerApi for ChunkController {
    fn record(&mut self, _duration: Duration, _items: usize) -> usize {
        self.chunk_size()
    }
    fn history(&self) -> &[Adjustment] {
        &[]
    }
    fn set_remaining(&mut self, _items_left: usize) {}
}
