//! The ordered output buffer of `-k`: finished jobs wait here until every earlier job has been
//! printed. It holds at most `capacity` jobs; the runner starts no job that would not fit
//! (back-pressure), so the number of jobs held stays bounded however slow the first job is.
//! The bytes they hold are bounded too: the runner keeps each job's output in a
//! [`JobOutput`](super::JobOutput), which goes to a temporary file once the run's held output
//! passes its memory budget.
//!
//! ```
//! use amorsize::process::Reorder;
//! let mut r = Reorder::new(2); // room for jobs 1 and 2
//! assert!(r.can_start(2) && !r.can_start(3)); // job 3 waits: back-pressure
//! assert!(r.push(2, "second").is_empty()); // held until job 1 is printed
//! assert_eq!(r.held(), 1);
//! assert_eq!(r.push(1, "first"), ["first", "second"]);
//! assert!(r.can_start(4) && !r.can_start(5));
//! ```

use std::collections::BTreeMap;

/// The default capacity of the reorder buffer, in jobs.
///
/// ```
/// use amorsize::process::{Runner, DEFAULT_REORDER_CAPACITY};
/// let e = Runner::builder(["true"]).keep_order(true).build()?.explain(&[]);
/// assert_eq!(e.reorder_capacity, DEFAULT_REORDER_CAPACITY);
/// let shown = format!("reorder buffer of {DEFAULT_REORDER_CAPACITY} jobs");
/// assert!(e.to_string().contains(&shown));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const DEFAULT_REORDER_CAPACITY: usize = 1024;

/// A bounded reorder buffer keyed by job number (1-based, consecutive).
///
/// ```
/// use amorsize::process::Reorder;
/// let mut r = Reorder::new(4);
/// assert!(r.push(2, "b").is_empty());           // waits for job 1
/// assert_eq!(r.push(1, "a"), vec!["a", "b"]);  // both released in order
/// ```
#[derive(Debug)]
pub struct Reorder<T> {
    next: u64,
    capacity: usize,
    held: BTreeMap<u64, T>,
}

impl<T> Reorder<T> {
    /// An empty buffer that admits jobs `next ..< next + capacity` (capacity at least 1).
    ///
    /// ```
    /// let r: amorsize::process::Reorder<()> = amorsize::process::Reorder::new(0);
    /// assert_eq!(r.capacity(), 1);
    /// ```
    pub fn new(capacity: usize) -> Self {
        Reorder {
            next: 1,
            capacity: capacity.max(1),
            held: BTreeMap::new(),
        }
    }

    /// The capacity in jobs.
    ///
    /// ```
    /// assert_eq!(amorsize::process::Reorder::<u8>::new(8).capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether job `seq` may start: its output will have room (`seq < next + capacity`, the sum
    /// saturating at `u64::MAX`).
    ///
    /// ```
    /// let r = amorsize::process::Reorder::<u8>::new(2);
    /// assert!(r.can_start(2) && !r.can_start(3));
    /// ```
    pub fn can_start(&self, seq: u64) -> bool {
        seq < self.next.saturating_add(self.capacity as u64)
    }

    /// Files the result of job `seq` and returns every result now printable, in order.
    ///
    /// ```
    /// let mut r = amorsize::process::Reorder::new(2);
    /// assert_eq!(r.push(1, 'x'), vec!['x']);
    /// ```
    pub fn push(&mut self, seq: u64, value: T) -> Vec<T> {
        self.held.insert(seq, value);
        let mut out = Vec::new();
        while let Some(v) = self.held.remove(&self.next) {
            out.push(v);
            self.next += 1;
        }
        out
    }

    /// Number of finished jobs waiting for an earlier one.
    ///
    /// ```
    /// let mut r = amorsize::process::Reorder::new(4);
    /// r.push(3, ());
    /// assert_eq!(r.held(), 1);
    /// ```
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Takes everything still held, in order (used when the run ends early and some earlier
    /// jobs will never finish).
    ///
    /// ```
    /// let mut r = amorsize::process::Reorder::new(4);
    /// r.push(3, 'c');
    /// r.push(2, 'b');
    /// assert_eq!(r.drain(), vec!['b', 'c']);
    /// ```
    pub fn drain(&mut self) -> Vec<T> {
        std::mem::take(&mut self.held).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_arrival_order_prints_in_input_order() {
        let mut r = Reorder::new(10);
        let mut printed = Vec::new();
        for seq in [3, 1, 5, 2, 4, 7, 6] {
            printed.extend(r.push(seq, seq));
        }
        assert_eq!(printed, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn window_slides_as_jobs_are_printed() {
        let mut r = Reorder::new(2);
        assert!(r.can_start(1) && r.can_start(2) && !r.can_start(3));
        r.push(2, ());
        assert!(!r.can_start(3));
        r.push(1, ());
        assert!(r.can_start(3) && r.can_start(4) && !r.can_start(5));
    }
}
