//! `amorsize-bench`: runs the workload suite and prints auto against the plain loop, rayon and
//! the best fixed pool setting. See the crate README for how to read the table.

use amorsize_bench::cli::{list, run_suite, Cli};
use amorsize_bench::report::{fmt_secs, render};
use amorsize_bench::strategies::Settings;
use amorsize_bench::workloads::{Calibration, Size};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list {
        print!("{}", list());
        return ExitCode::SUCCESS;
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> amorsize::Result<()> {
    let selected = cli.selected()?;
    let sys = amorsize::system::info();
    let cores = sys.cores.effective;
    let settings = match cli.size() {
        Size::Quick => Settings::quick(cores),
        _ => Settings::full(cores),
    };
    let calib = Calibration::measure();
    println!(
        "amorsize-bench ({}): {} effective cores (logical {}, limited by {:?}), {} MiB available of {} MiB",
        if cli.quick { "quick" } else { "full" },
        cores,
        sys.cores.logical,
        sys.cores.limited_by,
        sys.memory.available >> 20,
        sys.memory.total >> 20,
    );
    println!(
        "calibration: {:.3} ns per spin iteration; {} warm-up + >= {} interleaved runs per strategy, medians\n",
        calib.ns_per_iter, settings.warmup, settings.runs
    );
    let report = run_suite(&selected, cli.size(), calib, settings, |r, secs| {
        let plan = &r.plan;
        eprintln!(
            "  {:<13} {:>8} items, {} runs, plan {} w{} c{} (predicted x{:.2}), took {}",
            r.name,
            r.items,
            r.runs,
            plan.executor,
            plan.workers,
            plan.chunk_size,
            plan.predicted_speedup,
            fmt_secs(secs)
        );
        if cli.verbose {
            eprint!("{}", amorsize_bench::cli::details(r));
        }
    })?;
    let rows: Vec<_> = report
        .workloads
        .iter()
        .filter_map(|w| w.row.clone())
        .collect();
    println!();
    print!("{}", render(&rows, &report.summary));
    println!("\nwhole run: {}", fmt_secs(report.elapsed_s));
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| amorsize::Error::invalid_input("json report", e.to_string()))?;
        std::fs::write(path, text)
            .map_err(|e| amorsize::Error::io(format!("writing {}", path.display()), e))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &cli.svg {
        let title = format!(
            "amorsize-bench{}: auto vs oracle, rayon, sequential ({} cores)",
            if cli.quick { " --quick" } else { "" },
            cores
        );
        amorsize_bench::svg::write(path, &rows, &title)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
