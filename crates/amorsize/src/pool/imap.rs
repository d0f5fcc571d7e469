//! Lazy mapping over an iterator with bounded memory: a driver thread pulls a batch of
//! inputs, runs it on the pool, and hands results to the reader; a slow reader stalls the
//! driver (between batches, never inside a job) instead of growing a buffer.
//!
//! ```
//! use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
//! let pool = amorsize::AdaptivePool::builder().workers(2).imap_batch(4)
//!     .target_chunk_duration(std::time::Duration::from_millis(1)).build()?;
//! let pulled = Arc::new(AtomicUsize::new(0));
//! let counter = pulled.clone();
//! let endless = (0u64..).inspect(move |_| { counter.fetch_add(1, Ordering::Relaxed); });
//! let first: Vec<u64> = pool.imap(endless, |x| x * x).take(10).collect::<Result<_, _>>()?;
//! assert_eq!(first, (0..10u64).map(|x| x * x).collect::<Vec<_>>());
//! // Beyond the 10 read: at most 3 batches of results and 1 of inputs were pulled.
//! assert!(pulled.load(Ordering::Relaxed) <= 10 + 4 * 4);
//! # Ok::<(), amorsize::Error>(())
//! ```

use super::adaptive::Inner;
use super::CancelToken;
use crate::{Error, Result};
use crossbeam_channel::{bounded, unbounded, Receiver};
use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// A panic payload of the input iterator, raised again in the reader.
type Payload = Box<dyn Any + Send>;

/// Pulls up to `batch` inputs on the driver. A panic of the input iterator is caught: the items
/// pulled before it are returned with the payload, to be run and then re-raised in the reader.
/// `pulling` is set while the driver may block in the input (see [`Driver`]); None: the
/// iterator was dropped meanwhile, pull nothing.
fn pull<It: Iterator>(
    iter: &mut It,
    batch: usize,
    pulling: &AtomicBool,
    token: &CancelToken,
) -> Option<(Vec<It::Item>, Option<Payload>)> {
    pulling.store(true, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    if token.is_cancelled() {
        pulling.store(false, Ordering::SeqCst);
        return None;
    }
    let mut items = Vec::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        for x in iter.by_ref().take(batch) {
            items.push(x);
        }
    }));
    pulling.store(false, Ordering::SeqCst);
    Some((items, r.err()))
}

/// The driver thread of an imap, as its iterator's `Drop` sees it: cancelled, then joined —
/// unless it is blocked in the input iterator's `next` (a channel, a socket), which no cancel
/// reaches: then it is left to end by itself when the input yields (it pulls no more after
/// that), so that dropping the iterator never hangs.
struct Driver {
    handle: Option<JoinHandle<()>>,
    pulling: Arc<AtomicBool>,
}

impl Driver {
    fn finish(&mut self, cancel: &CancelToken) {
        cancel.cancel();
        fence(Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            // The driver sets `pulling` before it checks the token and pulls: if it is not set
            // here, the driver will see the cancel before its next pull.
            if !self.pulling.load(Ordering::SeqCst) {
                let _ = h.join();
            }
        }
    }
}

fn offset(e: Error, base: usize) -> Error {
    match e {
        Error::TaskPanicked { index, message } => Error::TaskPanicked {
            index: index + base,
            message,
        },
        other => other,
    }
}

/// The driver's loop, the same for both iterators: pulls batches of `batch` inputs and hands
/// each non-empty one to `run` (which says whether to go on), then the input iterator's panic,
/// if any, to `panicked`. It ends at the end of the input, at a panic, when `run` says so, or
/// when the iterator was dropped.
fn drive<It: Iterator>(
    mut iter: It,
    batch: usize,
    pulling: &AtomicBool,
    token: &CancelToken,
    mut run: impl FnMut(Vec<It::Item>) -> bool,
    panicked: impl FnOnce(Payload),
) {
    while let Some((items, panic)) = pull(&mut iter, batch, pulling, token) {
        // Fewer than a batch: the input ended (or panicked).
        let full = items.len() == batch;
        if !items.is_empty() && !run(items) {
            return;
        }
        if let Some(p) = panic {
            panicked(p);
            return;
        }
        if !full {
            return;
        }
    }
}

/// Starts the driver thread, which runs `body` with the driver's `pulling` flag. A thread
/// that cannot start is the iterator's one item: an error.
fn start_driver(body: impl FnOnce(&AtomicBool) + Send + 'static) -> (Driver, Option<Error>) {
    let pulling = Arc::new(AtomicBool::new(false));
    let flag = pulling.clone();
    let spawned = std::thread::Builder::new()
        .name("amorsize-imap".into())
        .spawn(move || body(&flag));
    match spawned {
        Ok(h) => (
            Driver {
                handle: Some(h),
                pulling,
            },
            None,
        ),
        Err(e) => (
            Driver {
                handle: None,
                pulling,
            },
            Some(Error::Spawn(e.to_string())),
        ),
    }
}

/// The ordered lazy iterator returned by [`AdaptivePool::imap`](super::AdaptivePool::imap).
///
/// ```
/// let p = amorsize::AdaptivePool::new(2).unwrap();
/// let mut it = p.imap(vec![1, 2, 3], |x| x * 10);
/// assert_eq!(it.next().unwrap().unwrap(), 10);
/// ```
pub struct Imap<R> {
    rx: Option<Receiver<Batch<R>>>,
    current: std::vec::IntoIter<R>,
    pending_error: Option<Error>,
    done: bool,
    cancel: CancelToken,
    driver: Driver,
}

/// What the ordered driver sends: a batch's results, or the input iterator's panic.
enum Batch<R> {
    Results(Result<Vec<R>>),
    InputPanicked(Payload),
}

impl<R> std::fmt::Debug for Imap<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap")
            .field("buffered", &self.current.len())
            .field("done", &self.done)
            .finish()
    }
}

pub(crate) fn ordered<It, T, R, F>(inner: Arc<Inner>, iter: It, f: F) -> Imap<R>
where
    It: Iterator<Item = T> + Send + 'static,
    T: Send + Sync + 'static,
    R: Send + 'static,
    F: Fn(&T) -> R + Send + Sync + 'static,
{
    let (tx, rx) = bounded::<Batch<R>>(1);
    let cancel = inner.terminate.child();
    let token = cancel.clone();
    let batch = inner.imap_batch;
    let nested = super::in_worker();
    let (driver, pending_error) = start_driver(move |pulling| {
        let mut base = 0usize;
        let run = |items: Vec<T>| {
            let r = inner
                .run(items.len(), |i| f(&items[i]), token.clone(), false, nested)
                .map_err(|e| offset(e, base));
            let failed = r.is_err();
            base += items.len();
            drop(items);
            tx.send(Batch::Results(r)).is_ok() && !failed
        };
        let panicked = |p| {
            let _ = tx.send(Batch::InputPanicked(p));
        };
        drive(iter, batch, pulling, &token, run, panicked);
    });
    Imap {
        rx: Some(rx),
        current: Vec::new().into_iter(),
        pending_error,
        done: false,
        cancel,
        driver,
    }
}

impl<R> Iterator for Imap<R> {
    type Item = Result<R>;
    fn next(&mut self) -> Option<Result<R>> {
        loop {
            if let Some(r) = self.current.next() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            if let Some(e) = self.pending_error.take() {
                self.done = true;
                return Some(Err(e));
            }
            match self.rx.as_ref().map(|rx| rx.recv()) {
                Some(Ok(Batch::Results(Ok(v)))) => self.current = v.into_iter(),
                Some(Ok(Batch::Results(Err(e)))) => {
                    self.done = true;
                    return Some(Err(e));
                }
                // Sent after the results before it, which have all been read by now.
                Some(Ok(Batch::InputPanicked(p))) => {
                    self.done = true;
                    resume_unwind(p)
                }
                _ => {
                    self.done = true;
                    return None;
                }
            }
        }
    }
}

impl<R> Drop for Imap<R> {
    fn drop(&mut self) {
        drop(self.rx.take());
        self.driver.finish(&self.cancel);
    }
}

/// Credits for results not yet read: the driver takes one per input before a batch starts
/// and the reader returns one per result read, so workers never block inside a job (a reader
/// that uses the same pool in its loop cannot deadlock) and memory stays bounded.
#[derive(Debug, Default)]
struct Credits {
    avail: Mutex<usize>,
    cv: Condvar,
    closed: AtomicBool,
}

impl Credits {
    /// Takes `n` credits; false when the reader is gone.
    fn acquire(&self, n: usize) -> bool {
        let mut a = self.avail.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            if *a >= n {
                *a -= n;
                return true;
            }
            a = self.cv.wait(a).unwrap_or_else(|e| e.into_inner());
        }
    }
    fn release(&self, n: usize) {
        let mut a = self.avail.lock().unwrap_or_else(|e| e.into_inner());
        *a = a.saturating_add(n);
        drop(a);
        self.cv.notify_one();
    }
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _g = self.avail.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }
}

/// The unordered lazy iterator returned by
/// [`AdaptivePool::imap_unordered`](super::AdaptivePool::imap_unordered).
///
/// ```
/// let p = amorsize::AdaptivePool::new(2).unwrap();
/// let n = p.imap_unordered(0..10, |x| x * 2).filter(|r| r.is_ok()).count();
/// assert_eq!(n, 10);
/// ```
pub struct ImapUnordered<R> {
    rx: Option<Receiver<Item<R>>>,
    credits: Arc<Credits>,
    pending_error: Option<Error>,
    done: bool,
    cancel: CancelToken,
    driver: Driver,
}

/// What the unordered driver sends: a result, or the input iterator's panic.
enum Item<R> {
    Result(Result<R>),
    InputPanicked(Payload),
}

impl<R> std::fmt::Debug for ImapUnordered<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapUnordered")
            .field("done", &self.done)
            .finish()
    }
}

pub(crate) fn unordered<It, T, R, F>(inner: Arc<Inner>, iter: It, f: F) -> ImapUnordered<R>
where
    It: Iterator<Item = T> + Send + 'static,
    T: Send + Sync + 'static,
    R: Send + 'static,
    F: Fn(&T) -> R + Send + Sync + 'static,
{
    let batch = inner.imap_batch;
    // Unbounded channel: the credits bound what is in it (at most 2 × batch results, saturating
    // at usize::MAX).
    let (tx, rx) = unbounded::<Item<R>>();
    let credits = Arc::new(Credits {
        avail: Mutex::new(batch.saturating_mul(2)),
        ..Credits::default()
    });
    let cr = credits.clone();
    let nested = super::in_worker();
    let cancel = inner.terminate.child();
    let token = cancel.clone();
    let (driver, pending_error) = start_driver(move |pulling| {
        let mut base = 0usize;
        let run = |items: Vec<T>| {
            if !cr.acquire(items.len()) {
                return false;
            }
            let r = inner
                .run(
                    items.len(),
                    |i| {
                        // The reader is gone: skip the rest.
                        if !token.is_cancelled() {
                            let _ = tx.send(Item::Result(Ok(f(&items[i]))));
                        }
                    },
                    token.clone(),
                    false,
                    nested,
                )
                .map_err(|e| offset(e, base));
            base += items.len();
            match r {
                Ok(_) => true,
                Err(e) => {
                    let _ = tx.send(Item::Result(Err(e)));
                    false
                }
            }
        };
        let panicked = |p| {
            let _ = tx.send(Item::InputPanicked(p));
        };
        drive(iter, batch, pulling, &token, run, panicked);
    });
    ImapUnordered {
        rx: Some(rx),
        credits,
        pending_error,
        done: false,
        cancel,
        driver,
    }
}

impl<R> Iterator for ImapUnordered<R> {
    type Item = Result<R>;
    fn next(&mut self) -> Option<Result<R>> {
        if self.done {
            return None;
        }
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Some(Err(e));
        }
        match self.rx.as_ref().map(|rx| rx.recv()) {
            Some(Ok(Item::Result(Ok(r)))) => {
                self.credits.release(1);
                Some(Ok(r))
            }
            Some(Ok(Item::Result(Err(e)))) => {
                self.done = true;
                Some(Err(e))
            }
            Some(Ok(Item::InputPanicked(p))) => {
                self.done = true;
                resume_unwind(p)
            }
            _ => {
                self.done = true;
                None
            }
        }
    }
}

impl<R> Drop for ImapUnordered<R> {
    fn drop(&mut self) {
        self.credits.close();
        drop(self.rx.take());
        self.driver.finish(&self.cancel);
    }
}
