//! Pool reuse: a [`PoolManager`] hands out warm pools by size and takes them back on drop.
//!
//! PLACEHOLDER with the final signatures.

use crate::pool::AdaptivePool;
use crate::Result;
use std::sync::OnceLock;

/// Keeps warm pools keyed by size.
#[derive(Debug, Default)]
pub struct PoolManager {}

/// A pool lent by a [`PoolManager`]; returned to it on drop.
#[derive(Debug)]
pub struct PoolHandle {
    pool: AdaptivePool,
}

impl std::ops::Deref for PoolHandle {
    type Target = AdaptivePool;
    fn deref(&self) -> &AdaptivePool {
        &self.pool
    }
}

impl PoolManager {
    /// A manager with the default idle timeout (300 s).
    ///
    /// ```
    /// let m = amorsize::PoolManager::new();
    /// let p = m.get(2).unwrap();
    /// assert_eq!(p.workers(), 2);
    /// ```
    pub fn new() -> Self {
        PoolManager {}
    }
    /// A pool of `workers`, reused when an idle one of that size exists.
    ///
    /// ```
    /// let p = amorsize::global_pool_manager().get(1).unwrap();
    /// assert_eq!(p.workers(), 1);
    /// ```
    pub fn get(&self, workers: usize) -> Result<PoolHandle> {
        Ok(PoolHandle {
            pool: AdaptivePool::new(workers)?,
        })
    }
}

/// The process-wide manager that `par_map` uses.
///
/// ```
/// let a = amorsize::global_pool_manager() as *const _;
/// let b = amorsize::global_pool_manager() as *const _;
/// assert_eq!(a, b);
/// ```
pub fn global_pool_manager() -> &'static PoolManager {
    static M: OnceLock<PoolManager> = OnceLock::new();
    M.get_or_init(PoolManager::new)
}
