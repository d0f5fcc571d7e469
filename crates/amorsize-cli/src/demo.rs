//! `amorsize demo`: plan and run a few built-in workloads; print each plan and the measured
//! speedup beside the predicted one.

use amorsize::Executor;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::output;

/// Arguments of `amorsize demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only the workload with this name (cheap, tiny, medium, heavy, heterogeneous, blocking).
    #[arg(long)]
    only: Option<String>,
    /// Timed repetitions of each strategy (interleaved; the median is shown).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    reps: u32,
    /// Print the plans and measurements as JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

struct Workload {
    name: &'static str,
    about: &'static str,
    items: Vec<u64>,
    /// Cost of item `i` in spin iterations (0 means sleep workload).
    cost: fn(&u64, f64) -> u64,
}

/// Busy work of `iters` rounds of an LCG; returns a value so it cannot be optimised away.
fn spin(iters: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..iters {
        x = black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    x
}

/// Nanoseconds per spin iteration on this machine (median of a few short runs).
fn calibrate() -> f64 {
    let mut v: Vec<f64> = (0..5)
        .map(|_| {
            let n = 200_000;
            let t = Instant::now();
            black_box(spin(n, 7));
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[2].max(0.01)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A deterministic lognormal multiplier with mean 1 and CV 2 for item `i`.
fn lognormal(i: u64) -> f64 {
    let u1 = ((splitmix(i) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = ((splitmix(i ^ 0xABCD) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let sigma2 = 5f64.ln(); // CV² = e^{σ²} − 1 = 4
    (sigma2.sqrt() * z - sigma2 / 2.0).exp()
}

fn workloads(ns_per_iter: f64) -> Vec<Workload> {
    let _ = ns_per_iter;
    vec![
        Workload {
            name: "cheap",
            about: "1,000,000 items of ~5 ns",
            items: (0..1_000_000).collect(),
            cost: |_, ns| (5.0 / ns).max(1.0) as u64,
        },
        Workload {
            name: "tiny",
            about: "1,000 items of ~20 ns (parallelism cannot pay)",
            items: (0..1_000).collect(),
            cost: |_, ns| (20.0 / ns).max(1.0) as u64,
        },
        Workload {
            name: "medium",
            about: "10,000 items of ~100 µs",
            items: (0..10_000).collect(),
            cost: |_, ns| (100_000.0 / ns) as u64,
        },
        Workload {
            name: "heavy",
            about: "100 items of ~10 ms",
            items: (0..100).collect(),
            cost: |_, ns| (10_000_000.0 / ns) as u64,
        },
        Workload {
            name: "heterogeneous",
            about: "20,000 items, lognormal costs: mean ~50 µs, CV ~2",
            items: (0..20_000).collect(),
            cost: |i, ns| (50_000.0 * lognormal(*i) / ns) as u64,
        },
        Workload {
            name: "blocking",
            about: "500 items that each sleep 1 ms",
            items: (0..500).collect(),
            cost: |_, _| 0,
        },
    ]
}

fn run_item(w: &Workload, i: &u64, ns: f64) -> u64 {
    let c = (w.cost)(i, ns);
    if c == 0 {
        std::thread::sleep(Duration::from_millis(1));
        *i
    } else {
        spin(c, *i)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs the subcommand; returns the exit status.
pub fn main(args: Args) -> u8 {
    output::status(demo(&args))
}

/// Reports an error of the demo on stderr; returns amorsize's own error status.
fn fail(msg: impl std::fmt::Display) -> u8 {
    output::eprint_line(&format!("amorsize demo: {msg}"));
    output::ERROR
}

/// The demo; `Err` holds the exit status, the error already reported.
fn demo(args: &Args) -> Result<(), u8> {
    const WHAT: &str = "writing the demo to stdout";
    let ns = calibrate();
    let all = workloads(ns);
    let names: Vec<&str> = all.iter().map(|w| w.name).collect();
    let chosen: Vec<&Workload> = match &args.only {
        Some(n) => match all.iter().find(|w| w.name == n) {
            Some(w) => vec![w],
            None => {
                return Err(fail(format!(
                    "unknown workload `{n}`; the workloads are: {}",
                    names.join(", ")
                )));
            }
        },
        None => all.iter().collect(),
    };
    if !args.json {
        output::println(
            WHAT,
            &format!(
                "amorsize demo — {} (spin loop: {:.2} ns per iteration)\n",
                amorsize::system::info()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or(""),
                ns
            ),
        )?;
    }
    for w in chosen {
        let f = |i: &u64| run_item(w, i, ns);
        let plan = amorsize::optimize(&w.items, f).map_err(fail)?;
        let (mut seq, mut par) = (Vec::new(), Vec::new());
        let expected: Vec<u64> = w.items.iter().map(f).collect();
        for _ in 0..args.reps {
            let t = Instant::now();
            let s: Vec<u64> = w.items.iter().map(f).collect();
            seq.push(t.elapsed().as_secs_f64());
            black_box(s);
            let t = Instant::now();
            let p = amorsize::par_map(&w.items, f).map_err(fail)?;
            par.push(t.elapsed().as_secs_f64());
            if p != expected {
                return Err(fail(format!("par_map gave a wrong result on `{}`", w.name)));
            }
        }
        let (s, p) = (median(seq), median(par));
        let measured = s / p;
        if args.json {
            let v = serde_json::json!({
                "workload": w.name,
                "about": w.about,
                "plan": plan,
                "sequential_secs": s,
                "par_map_secs": p,
                "measured_speedup": measured,
            });
            output::println(WHAT, &v.to_string())?;
        } else {
            output::println(
                WHAT,
                &format!(
                    "== {} — {}\n{plan}  measured:  sequential {}, par_map {} → speedup {:.2}× \
                     (predicted {:.2}×{})\n",
                    w.name,
                    w.about,
                    amorsize::sample::fmt_secs(s),
                    amorsize::sample::fmt_secs(p),
                    measured,
                    plan.predicted_speedup(),
                    if plan.executor() == Executor::Sequential {
                        ", sequential plan"
                    } else {
                        ""
                    }
                ),
            )?;
        }
    }
    Ok(())
}
