//! The grids the suite searches: amorsize pool settings (the oracle) and rayon's `with_min_len`.
//!
//! Pure functions of the item count, the core count and the suite size, so they are tested
//! without a clock.
//!
//! ```
//! use amorsize_bench::grid::{pool_grid, rayon_min_lens};
//! // `--quick` (chunk sizes in powers of 4) searches fewer settings than the full suite.
//! let full = pool_grid(10_000, 2, false, 2);
//! let quick = pool_grid(10_000, 2, false, 4);
//! assert!(quick.len() < full.len());
//! assert!(quick.iter().all(|c| full.contains(c)));
//! assert_eq!(rayon_min_lens(10_000), vec![16, 256, 4096]);
//! ```

use serde::Serialize;

/// One fixed setting of amorsize's pool.
///
/// ```
/// use amorsize_bench::grid::{pool_grid, PoolConfig};
/// let grid = pool_grid(100, 2, false, 4);
/// // One worker runs the whole input as a single chunk.
/// assert_eq!(grid[0], PoolConfig { workers: 1, chunk: 100 });
/// assert!(grid.iter().all(|c| c.workers <= 4 && c.chunk <= 100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PoolConfig {
    /// Workers taking part (the caller counts as one).
    pub workers: usize,
    /// Items per chunk.
    pub chunk: usize,
}

/// Chunk sizes `1, base, base², …` up to and including `max` (`max` itself is added when it
/// is not a power of `base`, so the one-chunk-per-worker split is always tried).
///
/// ```
/// use amorsize_bench::grid::chunk_sizes;
/// assert_eq!(chunk_sizes(10, 2), vec![1, 2, 4, 8, 10]);
/// assert_eq!(chunk_sizes(16, 4), vec![1, 4, 16]);
/// assert_eq!(chunk_sizes(0, 2), vec![1]);
/// ```
pub fn chunk_sizes(max: usize, base: usize) -> Vec<usize> {
    let base = base.max(2);
    let max = max.max(1);
    let mut out = vec![];
    let mut c = 1usize;
    while c <= max {
        out.push(c);
        match c.checked_mul(base) {
            Some(n) => c = n,
            None => break,
        }
    }
    if out.last() != Some(&max) {
        out.push(max);
    }
    out
}

/// Worker counts of the pool grid: `1..=2×cores`, plus 8, 16, … 256 for blocking work (more
/// threads than cores pay when items wait: 500 sleeps of 1 ms took 9.2 ms on 64 workers and
/// 5.2 ms on 128 on the 2-core VM, so a grid that stopped at 64 hid the best setting). Never
/// more workers than items.
///
/// ```
/// use amorsize_bench::grid::worker_counts;
/// assert_eq!(worker_counts(2, 1000, false), vec![1, 2, 3, 4]);
/// assert_eq!(worker_counts(2, 1000, true), vec![1, 2, 3, 4, 8, 16, 32, 64, 128, 256]);
/// assert_eq!(worker_counts(2, 100, true), vec![1, 2, 3, 4, 8, 16, 32, 64]);
/// assert_eq!(worker_counts(4, 3, false), vec![1, 2, 3]);
/// ```
pub fn worker_counts(cores: usize, items: usize, blocking: bool) -> Vec<usize> {
    let cores = cores.max(1);
    let mut w: Vec<usize> = (1..=2 * cores).collect();
    if blocking {
        w.extend(
            [8, 16, 32, 64, 128, 256]
                .into_iter()
                .filter(|&x| x > 2 * cores),
        );
    }
    w.retain(|&x| x <= items.max(1));
    w
}

/// The full pool grid: for each worker count, chunk sizes in powers of `base` (2 for the full
/// suite, 4 for `--quick`) up to `items / workers`. One worker runs a single chunk (with one
/// worker the chunk size only adds dispatch cost).
///
/// ```
/// use amorsize_bench::grid::{pool_grid, PoolConfig};
/// let g = pool_grid(8, 2, false, 2);
/// assert!(g.contains(&PoolConfig { workers: 1, chunk: 8 }));
/// assert!(g.contains(&PoolConfig { workers: 2, chunk: 4 }));
/// assert!(g.iter().all(|c| c.workers * c.chunk <= 8 || c.chunk == 1));
/// ```
pub fn pool_grid(items: usize, cores: usize, blocking: bool, base: usize) -> Vec<PoolConfig> {
    let mut g = vec![];
    for workers in worker_counts(cores, items, blocking) {
        if workers == 1 {
            g.push(PoolConfig {
                workers,
                chunk: items.max(1),
            });
            continue;
        }
        for chunk in chunk_sizes(items / workers, base) {
            g.push(PoolConfig { workers, chunk });
        }
    }
    g
}

/// The `with_min_len` values tried for rayon besides its default (which is `with_min_len(1)`
/// and is always measured): 16, 256, 4096, those below the item count.
///
/// ```
/// assert_eq!(amorsize_bench::grid::rayon_min_lens(1000), vec![16, 256]);
/// assert!(amorsize_bench::grid::rayon_min_lens(10).is_empty());
/// ```
pub fn rayon_min_lens(items: usize) -> Vec<usize> {
    [16, 256, 4096].into_iter().filter(|&m| m < items).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_increasing_and_bounded() {
        for max in [1usize, 2, 3, 7, 64, 100, 1_000_000] {
            for base in [2, 4] {
                let c = chunk_sizes(max, base);
                assert!(c.windows(2).all(|p| p[0] < p[1]), "{max} {base}: {c:?}");
                assert_eq!(*c.first().unwrap(), 1);
                assert_eq!(*c.last().unwrap(), max);
            }
        }
    }

    #[test]
    fn quick_grid_is_smaller_than_full_grid() {
        let full = pool_grid(1_000_000, 2, false, 2);
        let quick = pool_grid(1_000_000, 2, false, 4);
        assert!(quick.len() < full.len());
        assert!(quick.len() <= 40);
    }

    #[test]
    fn grid_has_no_duplicates_and_never_more_workers_than_items() {
        for items in [1usize, 2, 5, 200, 10_000] {
            for blocking in [false, true] {
                let g = pool_grid(items, 2, blocking, 2);
                let mut s = std::collections::HashSet::new();
                assert!(g.iter().all(|c| s.insert(*c)), "duplicate in {g:?}");
                assert!(g.iter().all(|c| c.workers <= items && c.chunk >= 1));
            }
        }
    }

    #[test]
    fn blocking_grid_reaches_sixty_four_workers() {
        let g = pool_grid(500, 2, true, 4);
        assert!(g.iter().any(|c| c.workers == 64));
        assert!(!pool_grid(500, 2, false, 4).iter().any(|c| c.workers > 4));
    }
}
