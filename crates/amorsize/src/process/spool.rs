//! A job's output while it is held: from the moment the job starts until the sink has it (as
//! the job ends, or later under `-k` while an earlier job still runs).
//!
//! This module owns where that output lives. It stays in memory while the run's held output
//! (the running jobs' and the reorder buffer's together) is within the run's budget
//! ([`DEFAULT_OUTPUT_MEMORY`], `RunnerBuilder::output_memory`); a job whose output grows past
//! it is spooled: what it holds goes to an unlinked temporary file (in `$TMPDIR`, else `/tmp`;
//! nothing is left behind, even after a crash), and so does what it writes later. Memory then
//! stays within the budget plus one read of a pipe (1 MiB), however many jobs print however
//! much, as GNU parallel's files keep it. The sink gets the output whole and in order either way
//! ([`JobOutput::write_to`]).
//!
//! Each spooled job holds a descriptor until it is printed, so a run opens no more spool files
//! than the open-file limit leaves room for beside its jobs ([`max_spool_files`]); past that,
//! and when a spool file cannot be made or written (a full disk), output stays in memory and the
//! run warns once. Nothing is lost either way.
//!
//! ```
//! use amorsize::process::{Runner, WriteSink};
//! let dir = std::env::temp_dir().join(format!("amorsize-doc-spool-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! // A budget of 0 bytes: every job's output goes to a spool file in `dir`.
//! let r = Runner::builder(["echo"]).keep_order(true).output_memory(0).spool_dir(&dir).build()?;
//! let mut out = Vec::new();
//! let s = r.run(["a", "b"].map(String::from), &mut WriteSink::new(&mut out))?;
//! assert_eq!((out.as_slice(), s.spooled_jobs), (&b"a\nb\n"[..], 2));
//! assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0); // unlinked: nothing left behind
//! std::fs::remove_dir(&dir).unwrap();
//! # Ok::<(), amorsize::Error>(())
//! ```

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// The default budget for the output a run holds in memory: 64 MiB.
///
/// ```
/// use amorsize::process::{Runner, WriteSink, DEFAULT_OUTPUT_MEMORY};
/// let r = Runner::builder(["echo"]).build()?;
/// assert_eq!(r.explain(&[]).output_memory, DEFAULT_OUTPUT_MEMORY);
/// // A small output stays in memory, well within it: nothing is spooled.
/// let s = r.run(["hi".to_string()], &mut WriteSink::new(std::io::sink()))?;
/// assert_eq!((s.spooled_jobs, s.output_memory_peak), (0, 3));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const DEFAULT_OUTPUT_MEMORY: usize = 64 << 20;

/// How many spool files a run may keep open at once, given the soft limit on open files and
/// the most jobs it runs at once: what is left after 4 descriptors per job (its pipe's two ends
/// while it starts, its pidfd, and one to spare) and 64 for the rest of the process. Past it a
/// job's output stays in memory: a spool file must never take the descriptor a new job needs.
///
/// ```
/// use amorsize::process::max_spool_files;
/// assert_eq!(max_spool_files(1024, 8), 1024 - 64 - 32);
/// assert_eq!(max_spool_files(1024, 512), 0);     // -j 512 under the common soft limit
/// assert_eq!(max_spool_files(u64::MAX, 512), usize::MAX - 64 - 2048); // no limit
/// ```
pub fn max_spool_files(open_file_limit: u64, max_jobs: usize) -> usize {
    let limit = usize::try_from(open_file_limit).unwrap_or(usize::MAX);
    limit
        .saturating_sub(64)
        .saturating_sub(max_jobs.saturating_mul(4))
}

/// The soft limit on open files (`RLIMIT_NOFILE`), if the system tells it.
pub(crate) fn open_file_limit() -> Option<u64> {
    // SAFETY: rlimit is plain old data; getrlimit writes it.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a local rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return None;
    }
    Some(if r.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        r.rlim_cur as u64
    })
}

/// One job's output (stdout and stderr together, as the job wrote them): the first
/// [`spooled`](JobOutput::spooled) bytes in a temporary file, the rest in memory.
///
/// The part in memory is kept as the pieces the job's pipe gave, each allocated to its size, so
/// the memory it takes is its length (a growing vector could take twice that).
///
/// ```
/// use amorsize::process::JobOutput;
/// let out = JobOutput::from(b"hello\n".to_vec());
/// assert_eq!(out.len(), 6);
/// let mut printed = Vec::new();
/// out.write_to(&mut printed)?;
/// assert_eq!(printed, b"hello\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct JobOutput {
    /// The spooled part: its first `spooled` bytes (a failed write may have left more).
    file: Option<File>,
    spooled: u64,
    /// What follows the spooled part, in the pieces it was read in.
    mem: Vec<Vec<u8>>,
    /// The bytes in `mem`.
    mem_len: usize,
}

impl JobOutput {
    /// Whether it has a spool file open.
    pub(crate) fn has_file(&self) -> bool {
        self.file.is_some()
    }
}

impl From<Vec<u8>> for JobOutput {
    /// An output held in memory.
    ///
    /// ```
    /// let out = amorsize::process::JobOutput::from(vec![1, 2, 3]);
    /// assert_eq!(out.in_memory(), 3);
    /// ```
    fn from(bytes: Vec<u8>) -> Self {
        let mut out = JobOutput::default();
        if !bytes.is_empty() {
            out.mem_len = bytes.len();
            out.mem.push(bytes);
        }
        out
    }
}

impl JobOutput {
    /// Its length in bytes.
    ///
    /// ```
    /// assert_eq!(amorsize::process::JobOutput::default().len(), 0);
    /// ```
    pub fn len(&self) -> u64 {
        self.spooled + self.mem_len as u64
    }

    /// Whether the job wrote nothing.
    ///
    /// ```
    /// assert!(amorsize::process::JobOutput::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes that went to the temporary file.
    ///
    /// ```
    /// assert_eq!(amorsize::process::JobOutput::from(vec![0; 9]).spooled(), 0);
    /// ```
    pub fn spooled(&self) -> u64 {
        self.spooled
    }

    /// Bytes held in memory.
    ///
    /// ```
    /// assert_eq!(amorsize::process::JobOutput::from(vec![0; 9]).in_memory(), 9);
    /// ```
    pub fn in_memory(&self) -> usize {
        self.mem_len
    }

    /// Writes the whole output to `w`, in order (the spooled part read back from its file);
    /// returns the bytes written.
    ///
    /// ```
    /// let mut v = Vec::new();
    /// assert_eq!(amorsize::process::JobOutput::from(b"ab".to_vec()).write_to(&mut v)?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<u64> {
        let mut n = 0;
        if let Some(mut f) = self.file.as_ref() {
            f.seek(SeekFrom::Start(0))?;
            let mut part = io::Read::take(f, self.spooled);
            n = io::copy(&mut part, w)?;
            if n != self.spooled {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the spool file of a job's output holds {n} of its {} bytes",
                        self.spooled
                    ),
                ));
            }
        }
        for piece in &self.mem {
            w.write_all(piece)?;
        }
        Ok(n + self.mem_len as u64)
    }

    /// The whole output in one vector (read back from the file if it was spooled).
    ///
    /// ```
    /// let out = amorsize::process::JobOutput::from(b"x".to_vec());
    /// assert_eq!(out.to_vec()?, b"x");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut v = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        self.write_to(&mut v)?;
        Ok(v)
    }

    /// Appends what the job wrote (one read of its pipe) as a piece of its own size; returns
    /// the bytes of memory it takes.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> usize {
        if bytes.is_empty() {
            return 0;
        }
        self.mem.push(bytes.to_vec());
        self.mem_len += bytes.len();
        bytes.len()
    }

    /// Moves what is in memory to the spool file (made in `dir` on first use) and returns the
    /// bytes that freed. On an error nothing is lost: the bytes stay in memory, and the file's
    /// valid part is unchanged (the next spill writes over whatever a failed one left).
    pub(crate) fn spill(&mut self, dir: &Path) -> io::Result<usize> {
        if self.mem.is_empty() {
            return Ok(0);
        }
        if self.file.is_none() {
            self.file = Some(tempfile::tempfile_in(dir)?);
        }
        let f = self.file.as_mut().expect("the spool file was just made");
        f.seek(SeekFrom::Start(self.spooled))?;
        // One write for many small pieces, a write per piece for large ones.
        let mut w = io::BufWriter::with_capacity(64 << 10, &*f);
        for piece in &self.mem {
            w.write_all(piece)?;
        }
        w.flush()?;
        drop(w);
        let freed = self.mem_len;
        self.spooled += freed as u64;
        self.mem = Vec::new();
        self.mem_len = 0;
        Ok(freed)
    }
}

/// The run's account of held output: the bytes in memory, the budget, the peak, and whether
/// spooling still works.
#[derive(Debug)]
pub(crate) struct Budget {
    pub limit: usize,
    pub held: usize,
    pub peak: usize,
    pub spooled_jobs: u64,
    /// Spool files open now, and the most the run may have (see [`max_spool_files`]).
    pub files: usize,
    pub max_files: usize,
    /// Whether the run was told that `max_files` was reached.
    pub files_capped: bool,
    /// Set by the first failed spill (a full disk, no temporary directory): output then stays
    /// in memory, and the run warns once.
    pub broken: bool,
}

impl Budget {
    pub(crate) fn new(limit: usize, max_files: usize) -> Self {
        Budget {
            limit,
            held: 0,
            peak: 0,
            spooled_jobs: 0,
            files: 0,
            max_files,
            files_capped: false,
            broken: false,
        }
    }

    /// Appends `bytes` (one read of the job's pipe) to `out`, counts them, and spools `out`
    /// when the run now holds more than its budget. Returns what the run should say: the error
    /// of a spill that failed, or that the spool files reached their cap (each once only).
    pub(crate) fn append(
        &mut self,
        out: &mut JobOutput,
        bytes: &[u8],
        dir: &Path,
    ) -> Option<String> {
        self.held = self.held.saturating_add(out.push(bytes));
        self.peak = self.peak.max(self.held);
        if self.held <= self.limit || self.broken {
            return None;
        }
        let new_file = !out.has_file();
        if new_file && self.files >= self.max_files {
            if self.files_capped {
                return None;
            }
            self.files_capped = true;
            return Some(format!(
                "{} spool files are open, the most the open-file limit leaves room for beside \
                 the jobs; the output of further jobs is held in memory until it is printed",
                self.files
            ));
        }
        match out.spill(dir) {
            Ok(freed) => {
                self.held = self.held.saturating_sub(freed);
                if new_file && out.has_file() {
                    self.files += 1;
                    self.spooled_jobs += 1;
                }
                None
            }
            Err(e) => {
                let why = format!(
                    "cannot spool job output to {}: {e}; output is held in memory from now on",
                    dir.display()
                );
                self.broken = true;
                Some(why)
            }
        }
    }

    /// `out` has gone to the sink (or was dropped): its memory is no longer held.
    pub(crate) fn released(&mut self, out: &JobOutput) {
        self.held = self.held.saturating_sub(out.in_memory());
        if out.has_file() {
            self.files = self.files.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_output_reads_back_whole_and_in_order() {
        let dir = std::env::temp_dir();
        let mut out = JobOutput::default();
        let mut expected = Vec::new();
        for k in 0..5u8 {
            let part = vec![b'a' + k; 1000 + k as usize];
            assert_eq!(out.push(&part), part.len());
            expected.extend_from_slice(&part);
            if k % 2 == 1 {
                assert_eq!(out.spill(&dir).unwrap(), 2 * 1000 + 2 * k as usize - 1);
                assert_eq!(out.in_memory(), 0);
            }
        }
        assert_eq!(out.len(), expected.len() as u64);
        assert!(out.spooled() > 0 && out.in_memory() > 0);
        assert_eq!(out.to_vec().unwrap(), expected);
        // Reading it twice gives the same bytes (the file is read from its start each time).
        assert_eq!(out.to_vec().unwrap(), expected);
    }

    #[test]
    fn budget_spools_the_output_that_passes_it_and_keeps_the_account() {
        let dir = std::env::temp_dir();
        let mut b = Budget::new(100, 10);
        let mut small = JobOutput::default();
        assert!(b.append(&mut small, &[1; 60], &dir).is_none());
        assert_eq!((b.held, small.spooled()), (60, 0));
        let mut big = JobOutput::default();
        assert!(b.append(&mut big, &[2; 50], &dir).is_none());
        // 110 > 100: the job that grew went to disk.
        assert_eq!((b.held, big.spooled(), b.spooled_jobs), (60, 50, 1));
        assert_eq!(b.peak, 110);
        assert!(b.append(&mut big, &[3; 70], &dir).is_none());
        assert_eq!((b.held, big.spooled(), b.spooled_jobs), (60, 120, 1));
        assert_eq!(b.files, 1);
        b.released(&small);
        assert_eq!(b.held, 0);
        b.released(&big);
        assert_eq!(b.files, 0);
    }

    #[test]
    fn past_the_spool_file_cap_output_stays_in_memory_and_it_is_said_once() {
        let dir = std::env::temp_dir();
        let mut b = Budget::new(0, 1);
        let mut first = JobOutput::default();
        assert!(b.append(&mut first, b"aaaa", &dir).is_none());
        assert_eq!((first.spooled(), b.files), (4, 1));
        let mut second = JobOutput::default();
        let why = b
            .append(&mut second, b"bb", &dir)
            .expect("the cap is reported");
        assert!(why.contains("open-file limit"), "{why}");
        assert_eq!((second.spooled(), second.in_memory(), b.held), (0, 2, 2));
        assert!(b.append(&mut second, b"c", &dir).is_none(), "said once");
        // A job that already has its file goes on spooling.
        assert!(b.append(&mut first, b"dd", &dir).is_none());
        assert_eq!(first.spooled(), 6);
        // Once the first is printed, its file is closed and the next job may spool.
        b.released(&first);
        assert_eq!(b.files, 0);
        assert!(b.append(&mut second, b"e", &dir).is_none());
        assert_eq!((second.spooled(), b.files), (4, 1));
        assert_eq!(second.to_vec().unwrap(), b"bbce");
    }

    #[test]
    fn a_spool_that_cannot_be_made_loses_nothing_and_is_reported_once() {
        let missing = Path::new("/nonexistent-amorsize-spool-dir/sub");
        let mut b = Budget::new(10, 10);
        let mut out = JobOutput::default();
        let why = b
            .append(&mut out, b"0123456789abc", missing)
            .expect("the spill fails");
        assert!(why.contains("nonexistent-amorsize-spool-dir"), "{why}");
        assert_eq!(out.to_vec().unwrap(), b"0123456789abc");
        assert!(
            b.append(&mut out, b"def", missing).is_none(),
            "reported once"
        );
        assert_eq!(out.to_vec().unwrap(), b"0123456789abcdef");
        assert_eq!(b.held, 16);
    }
}
