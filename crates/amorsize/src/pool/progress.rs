//! A progress callback that draws an indicatif bar with rate and ETA (feature `progress-bar`).
//!
//! ```
//! use amorsize::pool::{progress_bar, ChunkPolicy, RunOptions, ThreadPool};
//! let pool = ThreadPool::new(2)?;
//! let opts = RunOptions::new(2, ChunkPolicy::Fixed(8)).with_progress(progress_bar());
//! let out = pool.map_range(100, &opts, |i| i + 1)?;
//! assert_eq!(out.results[99], 100);
//! # Ok::<(), amorsize::Error>(())
//! ```

use super::{Progress, ProgressFn};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::{Arc, Mutex};

/// A [`ProgressFn`] drawing a progress bar (items, rate, ETA) on stderr; the bar is created
/// on the first report and finished when `done == total`.
///
/// ```
/// let cb = amorsize::pool::progress_bar();
/// cb(amorsize::pool::Progress { done: 10, total: 10, elapsed: std::time::Duration::ZERO });
/// ```
pub fn progress_bar() -> ProgressFn {
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    Arc::new(move |p: Progress| {
        let mut g = bar.lock().unwrap_or_else(|e| e.into_inner());
        let b = g.get_or_insert_with(|| {
            let b = ProgressBar::new(p.total as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} items  {per_sec}  eta {eta}  ({elapsed})",
            ) {
                b.set_style(style);
            }
            b
        });
        b.set_length(p.total as u64);
        b.set_position(p.done as u64);
        if p.done >= p.total {
            b.finish();
        }
    })
}
