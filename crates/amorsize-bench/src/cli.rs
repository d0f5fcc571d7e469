//! The command line: `amorsize-bench [--quick] [--json FILE] [--svg FILE] [--only NAME] [--list]`,
//! and the run of the suite it asks for.
//!
//! ```
//! use amorsize_bench::cli::{run_suite, Cli};
//! use amorsize_bench::{strategies::Settings, workloads::{Calibration, Size}};
//! use clap::Parser;
//! let cli = Cli::try_parse_from(["amorsize-bench", "--only", "tiny-n"]).unwrap();
//! let picked = cli.selected()?;
//! // The tests run the suite at `Size::Tiny`; the binary passes `cli.size()`.
//! let report = run_suite(&picked, Size::Tiny, Calibration::fixed(1.0), Settings::quick(2), |_, _| {})?;
//! assert_eq!(report.workloads.len(), 1);
//! assert_eq!(report.workloads[0].name, "tiny-n");
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::report::{summarize, Report, SCHEMA_VERSION};
use crate::strategies::{Runner, Settings};
use crate::workloads::{self, Calibration, Size, Workload};
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;

/// Flags of the benchmark binary.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "amorsize-bench",
    about = "Runs the workload suite: auto (amorsize::par_map) against the plain loop, rayon and the best fixed pool setting."
)]
pub struct Cli {
    /// Reduced suite (fewer items, coarser grid) that runs in under two minutes on 2 cores.
    #[arg(long)]
    pub quick: bool,
    /// Write every figure (per-run samples, machine, summary) to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw a grouped bar chart of the ratios per workload to FILE (SVG).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Run only the workload NAME.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(workloads::NAMES))]
    pub only: Option<String>,
    /// List the workloads with their descriptions and exit.
    #[arg(long)]
    pub list: bool,
    /// After each workload, print every strategy's median, min and max (and the plan).
    #[arg(long, short)]
    pub verbose: bool,
}

impl Cli {
    /// The workloads selected by `--only` (all by default).
    ///
    /// ```
    /// use clap::Parser;
    /// let cli = amorsize_bench::cli::Cli::try_parse_from(["b", "--only", "heavy"]).unwrap();
    /// assert_eq!(cli.selected().unwrap().len(), 1);
    /// ```
    pub fn selected(&self) -> amorsize::Result<Vec<Workload>> {
        match &self.only {
            Some(name) => Ok(vec![workloads::by_name(name)?]),
            None => Ok(workloads::all()),
        }
    }

    /// The suite size the flags ask for.
    ///
    /// ```
    /// use amorsize_bench::{cli::Cli, workloads::Size};
    /// use clap::Parser;
    /// assert_eq!(Cli::try_parse_from(["b", "--quick"]).unwrap().size(), Size::Quick);
    /// assert_eq!(Cli::try_parse_from(["b"]).unwrap().size(), Size::Full);
    /// ```
    pub fn size(&self) -> Size {
        if self.quick {
            Size::Quick
        } else {
            Size::Full
        }
    }
}

/// The `--list` text: one line per workload.
///
/// ```
/// assert!(amorsize_bench::cli::list().contains("blocking"));
/// ```
pub fn list() -> String {
    workloads::all()
        .iter()
        .map(|w| format!("{:<13} {}\n", w.name, w.description))
        .collect()
}

/// Every strategy of one workload, one line each: label, median, min, max (the `--verbose`
/// output).
///
/// ```
/// use amorsize_bench::{cli::details, strategies::Settings, workloads::*};
/// let w = by_name("cheap")?;
/// let r = amorsize_bench::cli::run_workload(&w, Size::Tiny, &Calibration::fixed(1.0), Settings::quick(2))?;
/// let text = details(&r);
/// assert!(text.contains("sequential") && text.contains("auto (par_map)"));
/// assert!(text.contains("par_map calls:"));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn details(r: &crate::report::WorkloadResult) -> String {
    use crate::report::fmt_secs;
    let mut s = String::new();
    for line in r.plan.text.lines().filter(|l| !l.trim().is_empty()) {
        s += &format!("    | {line}\n");
    }
    for st in &r.strategies {
        s += &format!(
            "    {:<32} median {:>9}  min {:>9}  max {:>9}\n",
            st.label,
            fmt_secs(st.median_s),
            fmt_secs(st.min_s),
            fmt_secs(st.max_s)
        );
    }
    let c = &r.par_map_cache;
    s += &format!(
        "    | par_map calls: {} plain, {} from memory, {} sampled; {} had their first item helped; \
         {} jobs finished by their caller alone\n",
        c.plain, c.probed, c.sampled, c.helped, c.solo
    );
    s
}

/// Runs one workload under every strategy.
///
/// ```
/// use amorsize_bench::{cli::run_workload, strategies::Settings, workloads::*};
/// let w = by_name("tiny-n")?;
/// let r = run_workload(&w, Size::Tiny, &Calibration::fixed(1.0), Settings::quick(2))?;
/// assert_eq!(r.items, 100);
/// assert!(r.row.is_some());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn run_workload(
    w: &Workload,
    size: Size,
    calib: &Calibration,
    settings: Settings,
) -> amorsize::Result<crate::report::WorkloadResult> {
    workloads::visit(
        w,
        size,
        calib,
        settings.cores,
        Runner {
            workload: w,
            settings,
        },
    )
}

/// Runs the selected workloads, calling `progress` after each, and returns the report.
///
/// ```
/// use amorsize_bench::{cli::run_suite, strategies::Settings, workloads::*};
/// let picked = [by_name("cheap")?, by_name("big-output")?];
/// let mut seen = vec![];
/// let rep = run_suite(&picked, Size::Tiny, Calibration::fixed(1.0), Settings::quick(2), |w, _| {
///     seen.push(w.name.clone())
/// })?;
/// assert_eq!(seen, ["cheap", "big-output"]);
/// assert_eq!(rep.workloads.len(), 2);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn run_suite(
    selected: &[Workload],
    size: Size,
    calib: Calibration,
    settings: Settings,
    mut progress: impl FnMut(&crate::report::WorkloadResult, f64),
) -> amorsize::Result<Report> {
    let start = Instant::now();
    let started_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut results = vec![];
    for w in selected {
        let t = Instant::now();
        let r = run_workload(w, size, &calib, settings)?;
        progress(&r, t.elapsed().as_secs_f64());
        results.push(r);
    }
    let rows: Vec<_> = results.iter().filter_map(|r| r.row.clone()).collect();
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        size,
        machine: (*amorsize::system::info()).clone(),
        calibration: calib,
        started_unix_s,
        elapsed_s: start.elapsed().as_secs_f64(),
        summary: summarize(&rows),
        workloads: results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        let c = Cli::try_parse_from([
            "b", "--quick", "--json", "o.json", "--svg", "o.svg", "--only", "cheap",
        ])
        .unwrap();
        assert!(c.quick);
        assert_eq!(c.json, Some(PathBuf::from("o.json")));
        assert_eq!(c.svg, Some(PathBuf::from("o.svg")));
        assert_eq!(c.selected().unwrap()[0].name, "cheap");
        assert_eq!(c.size(), Size::Quick);
        let d = Cli::try_parse_from(["b"]).unwrap();
        assert_eq!(d.selected().unwrap().len(), workloads::NAMES.len());
        assert_eq!(d.size(), Size::Full);
    }

    #[test]
    fn unknown_workload_is_an_error_listing_valid_names() {
        let e = Cli::try_parse_from(["b", "--only", "nope"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope"), "{e}");
        for n in workloads::NAMES {
            assert!(e.contains(n), "{n} not listed in: {e}");
        }
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(Cli::try_parse_from(["b", "--fast"]).is_err());
        assert!(Cli::try_parse_from(["b", "--json"]).is_err());
        assert!(Cli::try_parse_from(["b", "stray"]).is_err());
    }
}
