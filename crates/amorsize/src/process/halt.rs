//! The halt policy (`--halt now|soon,fail=N`) and the exit-status mapping (pure).
//!
//! ```
//! use amorsize::process::{exit_code, HaltAction, HaltPolicy, Runner, WriteSink};
//! let halt: HaltPolicy = "soon,fail=1".parse()?;
//! assert_eq!(halt.check(1), HaltAction::StopStarting);
//! // In a run: the first failure starts no more jobs, and the exit status counts it.
//! let r = Runner::builder(["false"]).jobs(1).halt(halt).build()?;
//! let s = r.run(["a", "b", "c"].map(String::from), &mut WriteSink::new(std::io::sink()))?;
//! assert!(s.halted);
//! assert_eq!((s.failed, s.exit_code()), (1, exit_code(1, None)));
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::{Error, Result};

/// When the run stops early.
///
/// ```
/// use amorsize::process::{HaltPolicy, HaltWhen};
/// let p: HaltPolicy = "now,fail=1".parse()?;
/// assert_eq!(p, HaltPolicy::Fail { when: HaltWhen::Now, failures: 1 });
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HaltPolicy {
    /// Run every job whatever fails (the default).
    #[default]
    Never,
    /// Stop after `failures` failed jobs.
    Fail {
        /// Kill the running jobs (`now`) or let them finish (`soon`).
        when: HaltWhen,
        /// The number of failed jobs that triggers the halt (at least 1).
        failures: u64,
    },
}

/// How the run halts.
///
/// ```
/// assert_ne!(amorsize::process::HaltWhen::Now, amorsize::process::HaltWhen::Soon);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HaltWhen {
    /// Kill the running jobs and start no more.
    Now,
    /// Start no more jobs; let the running ones finish.
    Soon,
}

/// What the runner must do after a job finished.
///
/// ```
/// use amorsize::process::{HaltAction, HaltPolicy};
/// assert_eq!(HaltPolicy::Never.check(1_000), HaltAction::Continue);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltAction {
    /// Keep going.
    Continue,
    /// Start no more jobs; wait for the running ones.
    StopStarting,
    /// Kill the running jobs and start no more.
    KillRunning,
}

impl HaltPolicy {
    /// The action for `failed` failed jobs so far.
    ///
    /// ```
    /// use amorsize::process::{HaltAction, HaltPolicy};
    /// let p: HaltPolicy = "soon,fail=2".parse()?;
    /// assert_eq!(p.check(1), HaltAction::Continue);
    /// assert_eq!(p.check(2), HaltAction::StopStarting);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn check(&self, failed: u64) -> HaltAction {
        match *self {
            HaltPolicy::Fail { when, failures } if failed >= failures => match when {
                HaltWhen::Now => HaltAction::KillRunning,
                HaltWhen::Soon => HaltAction::StopStarting,
            },
            _ => HaltAction::Continue,
        }
    }
}

impl std::fmt::Display for HaltPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HaltPolicy::Never => f.write_str("never"),
            HaltPolicy::Fail { when, failures } => {
                let w = match when {
                    HaltWhen::Now => "now",
                    HaltWhen::Soon => "soon",
                };
                write!(f, "{w},fail={failures}")
            }
        }
    }
}

impl std::str::FromStr for HaltPolicy {
    type Err = Error;

    /// Parses `never`, `now,fail=N` or `soon,fail=N` (N ≥ 1).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid_config(
                "halt",
                format!("`{s}`: {why} (expected never, now,fail=N or soon,fail=N)"),
            )
        };
        if s == "never" {
            return Ok(HaltPolicy::Never);
        }
        let (when, cond) = s.split_once(',').ok_or_else(|| bad("missing condition"))?;
        let when = match when {
            "now" => HaltWhen::Now,
            "soon" => HaltWhen::Soon,
            _ => return Err(bad("unknown timing")),
        };
        let n = cond
            .strip_prefix("fail=")
            .ok_or_else(|| bad("only fail=N is supported"))?;
        let failures: u64 = n.parse().map_err(|_| bad("N is not a whole number"))?;
        if failures == 0 {
            return Err(bad("N must be at least 1"));
        }
        Ok(HaltPolicy::Fail { when, failures })
    }
}

/// The exit status of a run, as GNU parallel gives it: 0 when every job succeeded, else the
/// number of failed jobs up to 100, and 101 for more; 128 + the signal when the run was
/// interrupted (130 for SIGINT, 143 for SIGTERM).
///
/// ```
/// use amorsize::process::exit_code;
/// assert_eq!(exit_code(0, None), 0);
/// assert_eq!(exit_code(3, None), 3);
/// assert_eq!(exit_code(5000, None), 101);
/// assert_eq!(exit_code(0, Some(15)), 143);
/// ```
pub fn exit_code(failed: u64, interrupted_by: Option<i32>) -> u8 {
    if let Some(sig) = interrupted_by {
        return (128 + sig.clamp(1, 127)) as u8;
    }
    match failed {
        0..=100 => failed as u8,
        _ => 101,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_bad_specs_naming_halt() {
        for bad in [
            "",
            "now",
            "now,fail=0",
            "later,fail=1",
            "now,success=1",
            "soon,fail=x",
        ] {
            let e = bad.parse::<HaltPolicy>().unwrap_err().to_string();
            assert!(e.contains("halt"), "{bad}: {e}");
        }
        assert_eq!("never".parse::<HaltPolicy>().unwrap(), HaltPolicy::Never);
        for good in ["never", "now,fail=2", "soon,fail=1"] {
            assert_eq!(good.parse::<HaltPolicy>().unwrap().to_string(), good);
        }
    }

    #[test]
    fn now_kills_at_the_threshold_and_after() {
        let p: HaltPolicy = "now,fail=3".parse().unwrap();
        assert_eq!(p.check(0), HaltAction::Continue);
        assert_eq!(p.check(2), HaltAction::Continue);
        assert_eq!(p.check(3), HaltAction::KillRunning);
        assert_eq!(p.check(4), HaltAction::KillRunning);
    }

    #[test]
    fn exit_codes_cover_the_boundaries() {
        assert_eq!(exit_code(1, None), 1);
        assert_eq!(exit_code(100, None), 100);
        assert_eq!(exit_code(101, None), 101);
        assert_eq!(exit_code(7, Some(2)), 130);
    }
}
