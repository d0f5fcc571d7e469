//! `amorsize sysinfo`: what the machine offers a parallel job — cores (and which limit binds
//! them), memory (and the cgroup's share of it), memory pressure — as a short report or as JSON.

use amorsize::system::{self, format_bytes, SystemInfo};
use std::fmt::Write as _;

use crate::output;

/// Arguments of `amorsize sysinfo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the facts as JSON (the library's `SystemInfo`) instead of a report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the subcommand; returns the exit status.
pub fn main(args: Args) -> u8 {
    // Detect afresh: a command run once must not show facts cached from earlier in the process.
    let info = system::refresh();
    if args.json {
        // The machine's facts at the top level, the measured costs beside them.
        let mut value = match serde_json::to_value(&*info) {
            Ok(v) => v,
            Err(e) => {
                output::eprint_line(&format!("amorsize sysinfo: cannot write JSON: {e}"));
                return output::ERROR;
            }
        };
        if let Some(obj) = value.as_object_mut() {
            obj.insert("costs".into(), costs_json());
        }
        match serde_json::to_string_pretty(&value) {
            Ok(text) => output::status(output::println("writing the JSON to stdout", &text)),
            Err(e) => {
                output::eprint_line(&format!("amorsize sysinfo: cannot write JSON: {e}"));
                output::ERROR
            }
        }
    } else {
        output::status(output::print(
            "writing the report to stdout",
            &report(&info),
        ))
    }
}

fn optional<T: std::fmt::Display>(value: Option<T>, absent: &str) -> String {
    value.map_or_else(|| absent.to_string(), |v| v.to_string())
}

/// The human-readable report.
fn report(info: &SystemInfo) -> String {
    let c = &info.cores;
    let m = &info.memory;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "cores");
    let _ = writeln!(out, "  logical CPUs     {}", c.logical);
    let _ = writeln!(out, "  physical cores   {}", c.physical);
    let _ = writeln!(
        out,
        "  cgroup quota     {}",
        c.cgroup_quota
            .map_or_else(|| "none".to_string(), |q| format!("{q:.2} cores"))
    );
    let _ = writeln!(
        out,
        "  affinity mask    {}",
        optional(c.affinity, "unknown")
    );
    let _ = writeln!(
        out,
        "  effective        {} (limited by {})",
        c.effective, c.limited_by
    );
    let _ = writeln!(out, "memory");
    let _ = writeln!(out, "  total            {}", format_bytes(m.total));
    let _ = writeln!(out, "  available        {}", format_bytes(m.available));
    let _ = writeln!(
        out,
        "  cgroup limit     {}",
        optional(m.cgroup_limit.map(format_bytes), "none")
    );
    let _ = writeln!(
        out,
        "  cgroup usage     {}",
        match (m.cgroup_current, m.cgroup_reclaimable) {
            (Some(cur), Some(rec)) => format!(
                "{} ({} of it reclaimable file cache)",
                format_bytes(cur),
                format_bytes(rec)
            ),
            (Some(cur), None) => format_bytes(cur),
            (None, _) => "unknown".to_string(),
        }
    );
    let _ = writeln!(out, "memory pressure (/proc/pressure/memory)");
    match &info.pressure {
        Some(p) => {
            let _ = writeln!(
                out,
                "  some             {:.2}% (10 s)  {:.2}% (60 s)  {:.2}% (300 s)",
                p.some_avg10, p.some_avg60, p.some_avg300
            );
            let _ = writeln!(out, "  full             {:.2}% (10 s)", p.full_avg10);
        }
        None => {
            let _ = writeln!(out, "  not reported by this kernel");
        }
    }

    // ---- measured costs of threads and processes ----------------------------------------------
    costs_section(&mut out);

    out
}

/// The measured costs of threads (the warm pool's calibration) and of processes.
fn costs_section(out: &mut String) {
    let c = amorsize::pool::calibrate::costs();
    let _ = writeln!(
        out,
        "measured costs (threads: a pool of {} workers)",
        c.workers
    );
    let _ = writeln!(
        out,
        "  start a worker thread (spawn + join): {:?}",
        c.spawn_worker
    );
    let _ = writeln!(
        out,
        "  start a job on the warm pool:         {:?}",
        c.warm_job_start
    );
    let _ = writeln!(
        out,
        "  hand out one chunk:                   {:?}",
        c.chunk_dispatch
    );
    let _ = writeln!(
        out,
        "  per-chunk overhead in a real run:     {:?}",
        c.chunk_overhead
    );
    match amorsize::process::measure_spawn_cost() {
        Ok(d) => {
            let _ = writeln!(out, "  spawn and reap a process (`true`):    {d:?}");
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "  spawn and reap a process:             unavailable ({e})"
            );
        }
    }
}

fn costs_json() -> serde_json::Value {
    let c = amorsize::pool::calibrate::costs();
    let process_spawn = amorsize::process::measure_spawn_cost()
        .ok()
        .map(|d| d.as_secs_f64());
    serde_json::json!({ "threads": c, "process_spawn_secs": process_spawn })
}

#[cfg(test)]
mod tests {
    use super::*;
    use amorsize::system::{CoreInfo, CoreLimit, MemoryInfo, Pressure};

    #[test]
    fn report_names_every_fact() {
        let info = SystemInfo {
            cores: CoreInfo {
                logical: 8,
                physical: 4,
                cgroup_quota: Some(1.5),
                affinity: Some(6),
                effective: 2,
                limited_by: CoreLimit::CgroupQuota,
            },
            memory: MemoryInfo {
                total: 16 << 30,
                available: 3 << 29,
                cgroup_limit: Some(2 << 30),
                cgroup_current: Some(1 << 29),
                cgroup_reclaimable: Some(1 << 20),
            },
            pressure: Some(Pressure {
                some_avg10: 1.5,
                some_avg60: 0.25,
                some_avg300: 0.0,
                full_avg10: 0.5,
            }),
        };
        let text = report(&info);
        for expected in [
            "logical CPUs     8",
            "physical cores   4",
            "cgroup quota     1.50 cores",
            "affinity mask    6",
            "effective        2 (limited by the cgroup CPU quota)",
            "total            16.0 GiB",
            "available        1.5 GiB",
            "cgroup limit     2.0 GiB",
            "cgroup usage     512.0 MiB (1.0 MiB of it reclaimable file cache)",
            "some             1.50% (10 s)  0.25% (60 s)  0.00% (300 s)",
            "full             0.50% (10 s)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let without = SystemInfo {
            pressure: None,
            ..info
        };
        assert!(report(&without).contains("not reported by this kernel"));
    }
}
