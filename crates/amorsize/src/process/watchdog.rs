//! The runner's deadlines while its loop is blocked writing a job's output.
//!
//! The main loop sends `--timeout`'s SIGTERM, and the SIGKILL at the end of a kill's grace
//! period, between its polls, and notes when each job exited as it reaps it. A sink that
//! blocks (a stdout nobody reads yet: `amorsize run … | (sleep 4; wc -c)`) holds the loop inside
//! its write for as long: a `sleep 30` with a 1 s timeout ran 4.0 s behind a reader that slept
//! 4 s, and the job log said so. This module's one thread looks every [`LOOK_EVERY`] whether a
//! write has lasted that long; if so, it does what the loop would: it sends the signals that
//! fall due (a SIGTERM only to a job whose leader has not exited, with its SIGKILL a grace
//! period later), and notes when each running job's leader exited (`waitid` with `WNOWAIT`,
//! which leaves the child for the loop to reap). The loop takes back what it did ([`Act`])
//! when the write returns. It reaps nothing and decides nothing: the loop hands it the signals
//! due and the jobs running. A write costs the loop two locks, not a wake-up (a run of
//! thousands of short jobs writes thousands of times); the thread's looks cost it 50 wake-ups
//! a second while the run lasts. The runner starts it only for a run where a signal is due (a
//! `--timeout`, a kill under way).
//!
//! Nothing is reaped while the loop is blocked, so every pid it is handed stays that job's (a
//! zombie keeps its pid and its process group) until the loop gets back to it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the thread looks whether a write is under way, and how long one must have
/// lasted before the thread acts: a deadline is kept, and an exit noted, to within this much.
/// (At 5 ms, a run of 3,000 `true` jobs with a `--timeout` took 1.80 s against 1.74 s with
/// looks 500 ms apart and 1.76 s without the thread, medians of 10 alternated runs: within
/// the noise, but the looks are the thread's only cost.)
pub(crate) const LOOK_EVERY: Duration = Duration::from_millis(20);

/// A signal a job's process group is due, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Due {
    pub(crate) pid: i32,
    pub(crate) at: Instant,
    pub(crate) signal: i32,
}

/// What the thread did during a write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Act {
    /// Sent `signal` to the job's process group at `at`.
    Signalled { pid: i32, signal: i32, at: Instant },
    /// Saw the job's leader exited (not reaped) at `at`.
    Exited { pid: i32, at: Instant },
}

/// The write under way.
struct Armed {
    dues: Vec<Due>,
    /// Jobs whose exit is not seen yet.
    running: Vec<i32>,
    since: Instant,
}

struct Watch {
    armed: Option<Armed>,
    acts: Vec<Act>,
    quit: bool,
}

struct Shared {
    watch: Mutex<Watch>,
    cv: Condvar,
}

fn lock(s: &Shared) -> MutexGuard<'_, Watch> {
    s.watch.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The thread, started once per run ([`Watchdog::start`]) and joined when dropped.
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the thread; `grace` is the time from a SIGTERM it sends to its SIGKILL. `None`
    /// when no thread can be started (writes then block the deadlines, as before).
    pub(crate) fn start(grace: Duration) -> Option<Watchdog> {
        let shared = Arc::new(Shared {
            watch: Mutex::new(Watch {
                armed: None,
                acts: Vec::new(),
                quit: false,
            }),
            cv: Condvar::new(),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("amorsize-deadlines".into())
            .spawn(move || watch(&s, grace))
            .ok()?;
        Some(Watchdog {
            shared,
            thread: Some(thread),
        })
    }

    /// Runs `write` while the thread sends the signals `dues` and watches the jobs `running`
    /// exit; returns `write`'s result and what the thread did meanwhile.
    pub(crate) fn during<R>(
        &self,
        dues: Vec<Due>,
        running: Vec<i32>,
        write: impl FnOnce() -> R,
    ) -> (R, Vec<Act>) {
        {
            let mut w = lock(&self.shared);
            w.acts.clear();
            w.armed = Some(Armed {
                dues,
                running,
                since: Instant::now(),
            });
        }
        let r = write();
        let acts = {
            let mut w = lock(&self.shared);
            w.armed = None;
            std::mem::take(&mut w.acts)
        };
        (r, acts)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        lock(&self.shared).quit = true;
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread: looks every [`LOOK_EVERY`] (or at the next signal due, when sooner) whether a
/// write has lasted that long, and acts for the loop while one does.
fn watch(s: &Shared, grace: Duration) {
    let mut w = lock(s);
    loop {
        if w.quit {
            return;
        }
        let now = Instant::now();
        let Watch { armed, acts, .. } = &mut *w;
        let due = match armed {
            Some(armed) if now >= armed.since + LOOK_EVERY => step(armed, now, grace, acts),
            _ => None,
        };
        let wait = due.map_or(LOOK_EVERY, |t| {
            t.saturating_duration_since(now).min(LOOK_EVERY)
        });
        w =
            s.cv.wait_timeout(w, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
    }
}

/// One look at `now` during a write that has lasted [`LOOK_EVERY`]: the exits seen and the
/// signals sent go to `acts`; returns when the next signal falls due (`None`: none left).
fn step(armed: &mut Armed, now: Instant, grace: Duration, acts: &mut Vec<Act>) -> Option<Instant> {
    armed.running.retain(|&pid| {
        let gone = super::spawn::exited_unreaped(pid);
        if gone {
            acts.push(Act::Exited { pid, at: now });
        }
        !gone
    });
    let mut kills = Vec::new();
    armed.dues.retain(|d| {
        if d.at > now {
            return true;
        }
        // A job whose leader exited before its deadline is not timed out.
        if !super::spawn::send_due(d.pid, d.signal) {
            return false;
        }
        acts.push(Act::Signalled {
            pid: d.pid,
            signal: d.signal,
            at: now,
        });
        if d.signal == libc::SIGTERM {
            kills.push(Due {
                pid: d.pid,
                at: now + grace,
                signal: libc::SIGKILL,
            });
        }
        false
    });
    armed.dues.extend(kills);
    armed.dues.iter().map(|d| d.at).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child in a process group of its own (so that a signal to the group reaches it), and
    /// its pid.
    fn child(program: &str, args: &[&str]) -> (std::process::Child, i32) {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new(program)
            .args(args)
            .process_group(0)
            .spawn()
            .expect(program);
        let pid = child.id() as i32;
        (child, pid)
    }

    /// Waits (a minute at most) until child `pid` has exited, without reaping it.
    fn until_exited(pid: i32) {
        let t0 = Instant::now();
        while !crate::process::spawn::exited_unreaped(pid) {
            assert!(t0.elapsed() < Duration::from_secs(60), "{pid} never exited");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn armed(dues: Vec<Due>, running: Vec<i32>, since: Instant) -> Armed {
        Armed {
            dues,
            running,
            since,
        }
    }

    #[test]
    fn nothing_due_and_nothing_running_leaves_nothing_to_do() {
        let now = Instant::now();
        let mut acts = Vec::new();
        assert_eq!(
            step(
                &mut armed(vec![], vec![], now),
                now,
                Duration::ZERO,
                &mut acts
            ),
            None
        );
        assert!(acts.is_empty());
    }

    #[test]
    fn a_signal_not_yet_due_is_waited_for() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let due = Due {
            pid: i32::MAX,
            at: later,
            signal: libc::SIGTERM,
        };
        let mut acts = Vec::new();
        // (i32::MAX is no child of this process: not seen exiting.)
        let mut a = armed(vec![due], vec![i32::MAX], now);
        assert_eq!(step(&mut a, now, Duration::ZERO, &mut acts), Some(later));
        assert!(acts.is_empty());
        assert_eq!(a.running, vec![i32::MAX]);
    }

    #[test]
    fn a_write_that_blocks_is_acted_on_and_a_quick_one_is_left_alone() {
        // A real Watchdog: a write that returns at once gets nothing done; one that waits
        // until the thread has sent a due SIGTERM (to a `sleep` of its own) gets it back.
        let dog = Watchdog::start(Duration::from_secs(5)).expect("a thread");
        let (r, acts) = dog.during(vec![], vec![], || 7);
        assert_eq!((r, acts), (7, vec![]));
        let (mut child, pid) = child("sleep", &["30"]);
        let due = Due {
            pid,
            at: Instant::now(),
            signal: libc::SIGTERM,
        };
        // The loop's write, blocked until the child has been signalled and has exited.
        let ((), acts) = dog.during(vec![due], vec![pid], || until_exited(pid));
        assert!(
            matches!(acts.first(), Some(Act::Signalled { signal, .. }) if *signal == libc::SIGTERM),
            "{acts:?}"
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().expect("wait").signal(), Some(libc::SIGTERM));
        drop(dog);
    }

    #[test]
    fn a_due_sigterm_to_a_live_job_is_sent_and_its_sigkill_follows_the_grace() {
        let (mut child, pid) = child("sleep", &["30"]);
        let now = Instant::now();
        let grace = Duration::from_secs(5);
        let due = Due {
            pid,
            at: now,
            signal: libc::SIGTERM,
        };
        let mut acts = Vec::new();
        let mut a = armed(vec![due], vec![], now);
        let next = step(&mut a, now, grace, &mut acts);
        assert_eq!(
            acts,
            vec![Act::Signalled {
                pid,
                signal: libc::SIGTERM,
                at: now
            }]
        );
        assert_eq!(next, Some(now + grace));
        assert_eq!(a.dues[0].signal, libc::SIGKILL);
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn an_exited_job_is_seen_once_and_gets_no_sigterm() {
        let (mut child, pid) = child("true", &[]);
        until_exited(pid);
        let now = Instant::now();
        let since = now - LOOK_EVERY;
        let due = Due {
            pid,
            at: now,
            signal: libc::SIGTERM,
        };
        let mut acts = Vec::new();
        let mut a = armed(vec![due], vec![pid], since);
        assert_eq!(step(&mut a, now, Duration::ZERO, &mut acts), None);
        assert_eq!(acts, vec![Act::Exited { pid, at: now }]);
        // Still the loop's to reap: `exited_unreaped` left it.
        assert!(child.wait().expect("wait").success());
    }
}
