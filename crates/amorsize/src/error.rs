//! The one error type of the library.
//!
//! Every fallible function in amorsize returns [`Result<T>`](crate::Result), whose error is
//! [`Error`]. Each variant names what went wrong in words a person can act on; none of them is
//! produced by a panic inside the library.
//!
//! ```
//! use amorsize::{Error, Optimizer};
//! fn first_of_halves(items: &[u32]) -> amorsize::Result<u32> {
//!     let out = amorsize::par_map(items, |x| 100 / x)?; // a panic becomes Err(TaskPanicked)
//!     Ok(out[0])
//! }
//! assert_eq!(first_of_halves(&[2, 4]).unwrap(), 50);
//! let err = first_of_halves(&[2, 0, 4]).unwrap_err();
//! assert!(matches!(err, Error::TaskPanicked { index: 1, .. }));
//! assert!(Optimizer::new().min_speedup(-1.0).validate().is_err());
//! ```

use thiserror::Error as ThisError;

/// Everything that can go wrong in amorsize.
///
/// ```
/// use amorsize::{Error, Optimizer};
/// let err = Optimizer::new().sample_size(0).validate().unwrap_err();
/// assert!(matches!(err, Error::InvalidConfig { ref setting, .. } if setting == "sample_size"));
/// println!("{err}"); // invalid setting `sample_size`: ...
/// ```
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// A setting is out of its valid range; `setting` names it.
    #[error("invalid setting `{setting}`: {reason}")]
    InvalidConfig {
        /// The name of the setting (as the builder method is called).
        setting: String,
        /// Why the value is rejected, including the valid range.
        reason: String,
    },
    /// The user's function panicked on item `index`.
    #[error("the task panicked on item {index}: {message}")]
    TaskPanicked {
        /// Index of the first item whose call panicked.
        index: usize,
        /// The panic payload, when it was a string.
        message: String,
    },
    /// The pool (or the manager) was shut down; it accepts no more work.
    #[error("the pool has been shut down")]
    PoolShutDown,
    /// The pool was closed with `close()`; it accepts no more work.
    #[error("the pool is closed and accepts no more work")]
    PoolClosed,
    /// The run was stopped by `terminate()` before all items ran.
    #[error("the run was cancelled before all items ran")]
    Cancelled,
    /// The operating system refused to start any worker thread.
    #[error("could not start worker threads: {0}")]
    Spawn(String),
    /// An input the caller gave is unusable (a shape, an item, a command line).
    #[error("invalid input: {what}: {reason}")]
    InvalidInput {
        /// What was wrong (e.g. "chunk shape", "command").
        what: String,
        /// Why.
        reason: String,
    },
    /// Text read from the system (cgroup, /proc) could not be parsed.
    #[error("could not parse {what}: {reason}")]
    Parse {
        /// Which file or field.
        what: String,
        /// Why.
        reason: String,
    },
    /// A memory budget cannot hold even the smallest unit of work.
    #[error("memory budget of {budget} bytes cannot hold {needed} bytes")]
    MemoryBudget {
        /// Bytes needed by the smallest possible unit (one element, one chunk).
        needed: u64,
        /// The budget in bytes.
        budget: u64,
    },
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What amorsize was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidConfig`].
    ///
    /// ```
    /// let e = amorsize::Error::invalid_config("workers", "must be at least 1");
    /// assert_eq!(e.to_string(), "invalid setting `workers`: must be at least 1");
    /// ```
    pub fn invalid_config(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    ///
    /// ```
    /// let e = amorsize::Error::invalid_input("chunk shape", "rank 1 for an array of rank 2");
    /// assert!(e.to_string().contains("chunk shape"));
    /// ```
    pub fn invalid_input(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    ///
    /// ```
    /// let e = amorsize::Error::io("reading /nope", std::io::Error::from(std::io::ErrorKind::NotFound));
    /// assert!(e.to_string().starts_with("reading /nope"));
    /// ```
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Builds [`Error::TaskPanicked`] from a panic payload as `catch_unwind` returns it.
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
    /// let e = amorsize::Error::from_panic(7, payload);
    /// assert_eq!(e.to_string(), "the task panicked on item 7: boom");
    /// ```
    pub fn from_panic(index: usize, payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "(non-string panic payload)".to_string()
        };
        Error::TaskPanicked { index, message }
    }

    /// This error for a part of the input that starts at `offset`: a panicked item's index
    /// moves by `offset`, other errors stay as they are.
    pub(crate) fn offset_index(self, offset: usize) -> Self {
        match self {
            Error::TaskPanicked { index, message } => Error::TaskPanicked {
                index: index.saturating_add(offset),
                message,
            },
            other => other,
        }
    }
}

/// The result type of amorsize.
///
/// ```
/// fn doubled(items: &[u64]) -> amorsize::Result<Vec<u64>> {
///     amorsize::par_map(items, |x| x * 2)
/// }
/// assert_eq!(doubled(&[1, 2])?, vec![2, 4]);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
