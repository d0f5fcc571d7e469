//! The built-in workloads: deterministic items, a calibrated cost per item, and a checksum.
//!
//! Every workload is fully determined by its name, the [`Size`] and the [`Calibration`]: the
//! item costs come from a seeded generator ([`SplitMix64`]), never from the clock. Costs are
//! expressed in nanoseconds and turned into iterations of a cheap hash ([`spin`]) by the
//! calibration measured once at start-up, so "~1 µs" means about 1 µs on the machine that runs
//! the suite. Each workload hands its items and its function to a [`Visitor`], which runs them
//! under any strategy; [`checksum_u64`] and [`checksum_bytes`] fold the ordered results so
//! that a strategy that loses, duplicates or reorders an item is caught.
//!
//! ```
//! use amorsize_bench::workloads::{checksum_u64, spin_costs_ns, Calibration, Size};
//! // Seeded, not timed: the same name and size give the same costs on every run.
//! let a = spin_costs_ns("lognormal", Size::Quick, 500).unwrap();
//! assert_eq!(a, spin_costs_ns("lognormal", Size::Quick, 500).unwrap());
//! // The calibration turns a cost in nanoseconds into spin iterations.
//! assert_eq!(Calibration::fixed(2.0).iters_for_ns(100_000.0), 50_000);
//! // A result lost or out of order changes the checksum.
//! assert_ne!(checksum_u64(&[1, 2, 3]), checksum_u64(&[1, 3, 2]));
//! assert_ne!(checksum_u64(&[1, 2, 3]), checksum_u64(&[1, 2]));
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The splitmix64 generator: tiny, fast, and good enough for deterministic costs.
///
/// ```
/// use amorsize_bench::workloads::SplitMix64;
/// let mut a = SplitMix64::new(42);
/// let mut b = SplitMix64::new(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!((0.0..1.0).contains(&a.next_f64()));
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    ///
    /// ```
    /// use amorsize_bench::workloads::SplitMix64;
    /// let draws = |seed| { let mut g = SplitMix64::new(seed); [g.next_u64(), g.next_u64()] };
    /// assert_eq!(draws(7), draws(7));
    /// assert_ne!(draws(7), draws(8));
    /// ```
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    ///
    /// ```
    /// // The reference splitmix64 sequence from seed 0.
    /// let mut g = amorsize_bench::workloads::SplitMix64::new(0);
    /// assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
    /// assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A uniform float in `[0, 1)`.
    ///
    /// ```
    /// let mut g = amorsize_bench::workloads::SplitMix64::new(1);
    /// let xs: Vec<f64> = (0..10_000).map(|_| g.next_f64()).collect();
    /// assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
    /// let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    /// assert!((mean - 0.5).abs() < 0.02, "{mean}");
    /// ```
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    ///
    /// ```
    /// let mut g = amorsize_bench::workloads::SplitMix64::new(3);
    /// let xs: Vec<f64> = (0..20_000).map(|_| g.next_normal()).collect();
    /// let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    /// let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
    /// assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "{mean} {var}");
    /// ```
    pub fn next_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The splitmix64 finaliser: a cheap, well-mixing hash of one word.
///
/// ```
/// assert_ne!(amorsize_bench::workloads::mix(1), amorsize_bench::workloads::mix(2));
/// ```
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Burns `iters` dependent hash steps starting from `seed` and returns the result (the unit
/// of calibrated CPU work).
///
/// ```
/// use amorsize_bench::workloads::spin;
/// assert_eq!(spin(10, 7), spin(10, 7));
/// assert_ne!(spin(10, 7), spin(11, 7));
/// ```
#[inline(never)]
pub fn spin(iters: u64, seed: u64) -> u64 {
    let mut x = seed;
    for _ in 0..black_box(iters) {
        x = mix(x.wrapping_add(0x9E37_79B9_7F4A_7C15));
    }
    black_box(x)
}

/// How many nanoseconds one [`spin`] iteration takes on this machine.
///
/// ```
/// use amorsize_bench::workloads::Calibration;
/// let c = Calibration::fixed(2.0);
/// assert_eq!(c.iters_for_ns(1000.0), 500);
/// assert_eq!(c.iters_for_ns(0.0), 1); // never zero work
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Calibration {
    /// Nanoseconds per spin iteration.
    pub ns_per_iter: f64,
}

impl Calibration {
    /// A calibration with a given speed (tests use this: no clock involved).
    ///
    /// ```
    /// use amorsize_bench::workloads::Calibration;
    /// let c = Calibration::fixed(0.5);
    /// assert_eq!(c.ns_per_iter, 0.5);
    /// assert_eq!(c.iters_for_ns(1_000.0), 2_000); // 1 µs at 0.5 ns per iteration
    /// ```
    pub fn fixed(ns_per_iter: f64) -> Self {
        Calibration { ns_per_iter }
    }

    /// Measures the spin loop: the fastest of several ~2 ms runs (the fastest run is the one
    /// least disturbed by other processes on a shared machine).
    ///
    /// ```
    /// let c = amorsize_bench::workloads::Calibration::measure();
    /// assert!(c.ns_per_iter.is_finite() && c.ns_per_iter > 0.0);
    /// ```
    pub fn measure() -> Self {
        let iters = 200_000u64;
        let _ = spin(iters, 1); // warm the code and the frequency governor
        let mut best = f64::INFINITY;
        for round in 0..7 {
            let t = Instant::now();
            black_box(spin(iters, round));
            let ns = t.elapsed().as_nanos() as f64 / iters as f64;
            best = best.min(ns);
        }
        Calibration {
            ns_per_iter: if best.is_finite() && best > 0.0 {
                best
            } else {
                1.0
            },
        }
    }

    /// Spin iterations that take about `ns` nanoseconds (at least 1).
    ///
    /// ```
    /// let c = amorsize_bench::workloads::Calibration::fixed(3.0);
    /// assert_eq!(c.iters_for_ns(10.0), 3); // 3.33 rounds to 3
    /// assert_eq!(c.iters_for_ns(11.0), 4); // 3.67 rounds to 4
    /// assert_eq!(c.iters_for_ns(0.1), 1);
    /// assert_eq!(c.iters_for_ns(f64::NAN), 1);
    /// ```
    pub fn iters_for_ns(&self, ns: f64) -> u64 {
        if !(ns.is_finite() && ns > 0.0) {
            return 1;
        }
        ((ns / self.ns_per_iter).round() as u64).max(1)
    }
}

/// How big the suite is.
///
/// ```
/// use amorsize_bench::workloads::{items_for, Size};
/// let n = |size| items_for("cheap", size, 2);
/// assert!(n(Size::Full) > n(Size::Quick) && n(Size::Quick) > n(Size::Tiny));
/// assert_eq!(serde_json::to_value(Size::Quick).unwrap(), "quick"); // as `--json` writes it
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// The sizes the issue names (10⁶ cheap items, 200 × 10 ms, …).
    Full,
    /// Fewer items (a fifth to a twentieth; tiny-n keeps its 1,000, as a job too small to
    /// share must stay one; the per-item costs stay) so the whole suite runs in under two
    /// minutes on 2 cores.
    Quick,
    /// A few items of almost no cost, for tests that check results, not speed.
    Tiny,
}

/// The built-in workloads, in the order the suite runs them.
///
/// ```
/// use amorsize_bench::workloads::{all, by_name, NAMES};
/// assert!(all().iter().map(|w| w.name).eq(NAMES.iter().copied()));
/// for name in NAMES {
///     assert_eq!(by_name(name)?.name, *name);
/// }
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const NAMES: &[&str] = &[
    "cheap",
    "light",
    "medium",
    "heavy",
    "tiny-n",
    "few-items",
    "few-more",
    "lognormal",
    "bimodal",
    "ascending",
    "descending",
    "blocking",
    "short-waits",
    "compute-then-wait",
    "memory-bound",
    "big-output",
    "regime-change",
    "inner-parallel",
    "lock-bound",
];

/// One workload of the suite: a name, what it is, and how many items at each [`Size`].
///
/// ```
/// use amorsize_bench::{grid::pool_grid, workloads::{by_name, items_for, Size}};
/// let w = by_name("blocking")?;
/// assert!(w.blocking && w.description.contains("sleep"));
/// let n = items_for(w.name, Size::Full, 2);
/// // Blocking work: the pool grid tries more workers than the 2 cores.
/// assert!(pool_grid(n, 2, w.blocking, 4).iter().any(|c| c.workers > 4));
/// assert!(!by_name("heavy")?.blocking);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive] // made by `by_name` and `all` only: `visit` knows every name they give
pub struct Workload {
    /// Short name (used by `--only`).
    pub name: &'static str,
    /// One line saying what it models.
    pub description: &'static str,
    /// True when items mostly wait (sleep, I/O) rather than compute: the pool grid then also
    /// tries many more workers than cores.
    pub blocking: bool,
}

/// All workloads, in suite order.
///
/// ```
/// let all = amorsize_bench::workloads::all();
/// assert_eq!(all.len(), amorsize_bench::workloads::NAMES.len());
/// assert!(all.iter().any(|w| w.blocking));
/// ```
pub fn all() -> Vec<Workload> {
    NAMES.iter().map(|n| by_name(n).expect("listed")).collect()
}

/// The workload called `name`, or an error listing the valid names.
///
/// ```
/// assert!(amorsize_bench::workloads::by_name("heavy").is_ok());
/// let err = amorsize_bench::workloads::by_name("nope").unwrap_err();
/// assert!(err.to_string().contains("cheap"));
/// ```
pub fn by_name(name: &str) -> amorsize::Result<Workload> {
    let (description, blocking) = match name {
        "cheap" => ("10^6 items of ~5 ns: the loop is all overhead", false),
        "light" => ("10^5 items of ~1 us", false),
        "medium" => ("10^4 items of ~100 us", false),
        "heavy" => ("200 items of ~10 ms", false),
        "tiny-n" => (
            "1,000 items of ~20 ns: parallelism cannot pay for itself",
            false,
        ),
        "few-items" => ("fewer items than cores, each ~50 ms", false),
        "few-more" => (
            "one item more than cores, each ~30 ms: the last round holds one item",
            false,
        ),
        "lognormal" => (
            "5,000 items, log-normal costs (mean ~100 us, CV ~2), seeded",
            false,
        ),
        "bimodal" => (
            "10^4 items: 95% ~10 us, 5% a hundred times dearer, seeded",
            false,
        ),
        "ascending" => (
            "2,000 items whose cost grows linearly with the index (mean ~250 us)",
            false,
        ),
        "descending" => (
            "2,000 items whose cost falls linearly with the index (mean ~250 us)",
            false,
        ),
        "blocking" => ("500 items that each sleep 1 ms (no CPU)", true),
        "short-waits" => ("2,000 items that each sleep 100 us", true),
        "compute-then-wait" => (
            "400 items that each compute ~500 us, then sleep 500 us (CPU half the time)",
            true,
        ),
        "memory-bound" => (
            "2,000 items, each sums a different 1 MiB window of one shared 128 MiB vector",
            false,
        ),
        "big-output" => ("10^4 items, each returns a 10 KB vector", false),
        "regime-change" => (
            "5,000 items: the first 80% ~20 us, then suddenly ~500 us",
            false,
        ),
        "inner-parallel" => (
            "1,000 items of ~1 ms CPU, each split over two threads by rayon::join",
            false,
        ),
        "lock-bound" => (
            "10^5 items that each compute ~1 us holding one shared mutex: in parallel they only queue",
            false,
        ),
        _ => {
            return Err(amorsize::Error::invalid_input(
                format!("workload `{name}`"),
                format!("unknown; valid names: {}", NAMES.join(", ")),
            ))
        }
    };
    let name = NAMES.iter().find(|n| **n == name).expect("matched above");
    Ok(Workload {
        name,
        description,
        blocking,
    })
}

/// One CPU-bound item: how many spin iterations, from which seed.
///
/// ```
/// use amorsize_bench::workloads::{run_spin, SpinItem};
/// let item = SpinItem { seed: 7, iters: 100 };
/// assert_eq!(run_spin(&item), run_spin(&item.clone()));
/// assert_ne!(run_spin(&item), run_spin(&SpinItem { iters: 101, ..item }));
/// assert_ne!(run_spin(&item), run_spin(&SpinItem { seed: 8, ..item }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpinItem {
    /// Seed of the hash chain (the item's identity).
    pub seed: u64,
    /// Spin iterations (the item's cost).
    pub iters: u64,
}

/// Runs one [`SpinItem`].
///
/// ```
/// use amorsize_bench::workloads::{run_spin, spin, SpinItem};
/// let items = [SpinItem { seed: 3, iters: 50 }, SpinItem { seed: 4, iters: 50 }];
/// let results: Vec<u64> = items.iter().map(run_spin).collect();
/// assert_eq!(results, [spin(50, 3), spin(50, 4)]);
/// ```
#[inline]
pub fn run_spin(item: &SpinItem) -> u64 {
    spin(item.iters, item.seed)
}

/// The result of a strategy, reduced to one order-sensitive number.
///
/// ```
/// use amorsize_bench::workloads::{checksum_bytes, checksum_u64, Checksum};
/// let sequential: Checksum = checksum_u64(&[10, 20, 30]);
/// assert_eq!(sequential, checksum_u64(&vec![10, 20, 30])); // same results, same checksum
/// assert_ne!(sequential, checksum_u64(&[10, 20, 20])); // a wrong result differs
/// assert_ne!(checksum_bytes(&[vec![1u8, 2]]), checksum_bytes(&[vec![1u8], vec![2]]));
/// ```
pub type Checksum = u64;

/// Folds ordered `u64` results into one order-sensitive checksum.
///
/// ```
/// use amorsize_bench::workloads::checksum_u64;
/// assert_ne!(checksum_u64(&[1, 2]), checksum_u64(&[2, 1]));
/// assert_ne!(checksum_u64(&[1]), checksum_u64(&[1, 1]));
/// ```
pub fn checksum_u64(results: &[u64]) -> Checksum {
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ results.len() as u64;
    for &r in results {
        h = mix(h ^ r).wrapping_add(0x100_0000_01B3);
    }
    h
}

/// Folds ordered byte-vector results into one order-sensitive checksum.
///
/// ```
/// use amorsize_bench::workloads::checksum_bytes;
/// assert_ne!(checksum_bytes(&[vec![1u8], vec![2]]), checksum_bytes(&[vec![2u8], vec![1]]));
/// ```
pub fn checksum_bytes(results: &[Vec<u8>]) -> Checksum {
    let mut h = 0x8422_2325_CBF2_9CE4u64 ^ results.len() as u64;
    for r in results {
        h = mix(h ^ r.len() as u64);
        for chunk in r.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            h = mix(h ^ u64::from_le_bytes(w));
        }
    }
    h
}

/// Receives a workload's items and function, whatever their types, and runs them.
///
/// Results are owned (`R: 'static`): the strategies box their runs as trait objects.
///
/// Each workload calls [`Visitor::visit`] with its own closure, so every workload is a distinct
/// call site (amorsize's `par_map` remembers per closure type, as it would in user code).
///
/// ```
/// use amorsize_bench::workloads::*;
/// struct Reversed; // runs the items last to first, then puts the results back in order
/// impl Visitor for Reversed {
///     type Output = (Checksum, Checksum);
///     fn visit<T: Sync, R: Send + 'static, F: Fn(&T) -> R + Sync>(
///         self, items: &[T], f: F, checksum: fn(&[R]) -> Checksum,
///     ) -> Self::Output {
///         let forward: Vec<R> = items.iter().map(&f).collect();
///         let mut back: Vec<R> = items.iter().rev().map(&f).collect();
///         back.reverse();
///         (checksum(&forward), checksum(&back))
///     }
/// }
/// let (a, b) = visit(&by_name("ascending")?, Size::Tiny, &Calibration::fixed(1.0), 2, Reversed);
/// assert_eq!(a, b);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub trait Visitor {
    /// What the visit returns.
    type Output;
    /// Runs the workload: `items`, the per-item function `f`, and the checksum of its results.
    fn visit<T, R, F>(self, items: &[T], f: F, checksum: fn(&[R]) -> Checksum) -> Self::Output
    where
        T: Sync,
        R: Send + 'static,
        F: Fn(&T) -> R + Sync;
}

/// Items at a given size: `full` for [`Size::Full`], `quick` for [`Size::Quick`], `tiny` for
/// [`Size::Tiny`].
fn pick(size: Size, full: usize, quick: usize, tiny: usize) -> usize {
    match size {
        Size::Full => full,
        Size::Quick => quick,
        Size::Tiny => tiny,
    }
}

/// Per-item cost in nanoseconds at a given size (tiny runs cost almost nothing).
fn cost(size: Size, ns: f64) -> f64 {
    match size {
        Size::Full | Size::Quick => ns,
        Size::Tiny => (ns / 1000.0).min(200.0),
    }
}

/// The memory-bound item: the wrapping sum of one window of the shared vector.
///
/// Out of line, like [`spin`] and [`output_bytes`], so that every strategy calls the same
/// machine code. Inlined, each strategy's job got its own copy of this loop at its own address,
/// and the copies did not run alike: one fixed pool setting measured 3.79–4.18 ms with its
/// pool borrowed outside the timer and 4.13–4.51 ms inside it (three interleaved runs,
/// `--quick --only memory-bound`; borrowing costs 3 µs), a gap that vanished when the suite
/// was built with `-C llvm-args=-align-loops=64`. A difference of code placement is not a
/// difference between strategies.
///
/// ```
/// assert_eq!(amorsize_bench::workloads::sum_window(&[1, 2, u64::MAX]), 2);
/// ```
#[inline(never)]
pub fn sum_window(window: &[u64]) -> u64 {
    window.iter().fold(0u64, |a, &x| a.wrapping_add(x))
}

/// The big-output item: `bytes` pseudo-random bytes seeded by `i`, in a new vector. Out of
/// line for the reason [`sum_window`] gives.
///
/// ```
/// use amorsize_bench::workloads::output_bytes;
/// assert_eq!(output_bytes(3, 100).len(), 100);
/// assert_eq!(output_bytes(3, 100), output_bytes(3, 100));
/// assert_ne!(output_bytes(3, 100), output_bytes(4, 100));
/// ```
#[inline(never)]
pub fn output_bytes(i: u64, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes);
    let mut x = mix(i);
    while out.len() < bytes {
        x = mix(x.wrapping_add(0x9E37_79B9_7F4A_7C15));
        let b = x.to_le_bytes();
        let take = (bytes - out.len()).min(8);
        out.extend_from_slice(&b[..take]);
    }
    out
}

/// Spin items of the given costs (nanoseconds), seeded by the index.
fn spin_items(calib: &Calibration, costs: impl Iterator<Item = f64>) -> Vec<SpinItem> {
    costs
        .enumerate()
        .map(|(i, ns)| SpinItem {
            seed: mix(i as u64 ^ 0x5EED),
            iters: calib.iters_for_ns(ns),
        })
        .collect()
}

/// Number of items of a workload at a size on a machine with `cores` effective cores.
///
/// ```
/// use amorsize_bench::workloads::{items_for, Size};
/// assert_eq!(items_for("cheap", Size::Full, 2), 1_000_000);
/// assert!(items_for("few-items", Size::Full, 8) < 8);
/// ```
pub fn items_for(name: &str, size: Size, cores: usize) -> usize {
    match name {
        "cheap" => pick(size, 1_000_000, 100_000, 300),
        "light" => pick(size, 100_000, 10_000, 200),
        "medium" => pick(size, 10_000, 500, 50),
        "heavy" => pick(size, 200, 20, 10),
        "tiny-n" => pick(size, 1_000, 1_000, 100),
        "few-items" => cores.saturating_sub(1).max(1),
        "few-more" => cores.max(1) + 1,
        "lognormal" => pick(size, 5_000, 500, 100),
        "bimodal" => pick(size, 10_000, 1_000, 100),
        "ascending" | "descending" => pick(size, 2_000, 200, 50),
        "blocking" => pick(size, 500, 100, 20),
        "short-waits" => pick(size, 2_000, 500, 20),
        "compute-then-wait" => pick(size, 400, 100, 20),
        "memory-bound" => pick(size, 2_000, 200, 20),
        "big-output" => pick(size, 10_000, 2_000, 20),
        "regime-change" => pick(size, 5_000, 500, 50),
        "inner-parallel" => pick(size, 1_000, 100, 20),
        "lock-bound" => pick(size, 100_000, 10_000, 50),
        _ => 0,
    }
}

/// The per-item costs in nanoseconds of a CPU-bound (spin) workload with `n` items, or `None`
/// for the workloads that are not spin loops (blocking, memory-bound, big-output); for
/// compute-then-wait, the cost of its computing part.
///
/// ```
/// use amorsize_bench::workloads::{spin_costs_ns, Size};
/// let c = spin_costs_ns("ascending", Size::Full, 4).unwrap();
/// assert!(c.windows(2).all(|p| p[0] < p[1]));
/// assert!(spin_costs_ns("blocking", Size::Full, 4).is_none());
/// ```
pub fn spin_costs_ns(name: &str, size: Size, n: usize) -> Option<Vec<f64>> {
    let seed = name.bytes().fold(0xA11CE_u64, |h, b| mix(h ^ u64::from(b)));
    let mut rng = SplitMix64::new(seed);
    let flat = |ns: f64| Some(vec![cost(size, ns); n]);
    match name {
        "cheap" => flat(5.0),
        "light" => flat(1_000.0),
        "medium" => flat(100_000.0),
        "heavy" => flat(10_000_000.0),
        "tiny-n" => flat(20.0),
        "few-items" => flat(50_000_000.0),
        "few-more" => flat(30_000_000.0),
        "lognormal" => {
            // CV² = exp(σ²) − 1 = 4  ⇒  σ² = ln 5; μ so that the mean is 100 µs.
            let sigma = 5f64.ln().sqrt();
            let mu = cost(size, 100_000.0).ln() - sigma * sigma / 2.0;
            Some(
                (0..n)
                    .map(|_| (mu + sigma * rng.next_normal()).exp())
                    .collect(),
            )
        }
        "bimodal" => {
            let cheap = cost(size, 10_000.0);
            Some(
                (0..n)
                    .map(|_| {
                        if rng.next_f64() < 0.05 {
                            cheap * 100.0
                        } else {
                            cheap
                        }
                    })
                    .collect(),
            )
        }
        "ascending" | "descending" => {
            let mean = cost(size, 250_000.0);
            let mut c: Vec<f64> = (0..n)
                .map(|i| 2.0 * mean * (i as f64 + 0.5) / n as f64)
                .collect();
            if name == "descending" {
                c.reverse();
            }
            Some(c)
        }
        "regime-change" => {
            let switch = n - n / 5;
            Some(
                (0..n)
                    .map(|i| cost(size, if i < switch { 20_000.0 } else { 500_000.0 }))
                    .collect(),
            )
        }
        "inner-parallel" => flat(1_000_000.0),
        "lock-bound" => flat(1_000.0),
        "compute-then-wait" => flat(500_000.0),
        _ => None,
    }
}

/// Builds workload `w` at `size` and hands it to `v`.
///
/// `cores` sizes the few-items workload. Building (allocating items, the shared vector of
/// memory-bound) happens here, before any timing.
///
/// ```
/// use amorsize_bench::workloads::*;
/// struct Len;
/// impl Visitor for Len {
///     type Output = usize;
///     fn visit<T: Sync, R: Send + 'static, F: Fn(&T) -> R + Sync>(
///         self, items: &[T], f: F, checksum: fn(&[R]) -> Checksum,
///     ) -> usize {
///         let _sum = checksum(&items.iter().map(f).collect::<Vec<R>>());
///         items.len()
///     }
/// }
/// let w = by_name("big-output")?;
/// assert_eq!(visit(&w, Size::Tiny, &Calibration::fixed(1.0), 2, Len), 20);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn visit<V: Visitor>(
    w: &Workload,
    size: Size,
    calib: &Calibration,
    cores: usize,
    v: V,
) -> V::Output {
    let n = items_for(w.name, size, cores);
    // Spin workloads: each has its own closure literal, hence its own call site.
    macro_rules! spin_workload {
        () => {{
            let costs = spin_costs_ns(w.name, size, n).expect("a spin workload");
            let items = spin_items(calib, costs.into_iter());
            v.visit(&items, |it: &SpinItem| run_spin(it), checksum_u64)
        }};
    }
    // Sleep workloads: items that each sleep `full` (10 µs at the tiny size), each with its own
    // closure literal too.
    macro_rules! sleep_workload {
        ($full:expr) => {{
            let pause = match size {
                Size::Tiny => Duration::from_micros(10),
                _ => $full,
            };
            let items: Vec<u64> = (0..n as u64).collect();
            v.visit(
                &items,
                move |&i: &u64| {
                    std::thread::sleep(pause);
                    mix(i)
                },
                checksum_u64,
            )
        }};
    }
    match w.name {
        "cheap" => spin_workload!(),
        "light" => spin_workload!(),
        "medium" => spin_workload!(),
        "heavy" => spin_workload!(),
        "tiny-n" => spin_workload!(),
        "few-items" => spin_workload!(),
        "few-more" => spin_workload!(),
        "lognormal" => spin_workload!(),
        "bimodal" => spin_workload!(),
        "ascending" => spin_workload!(),
        "descending" => spin_workload!(),
        "regime-change" => spin_workload!(),
        "inner-parallel" => {
            // f runs threads of its own: the planner should see CPU time > wall time.
            let costs = spin_costs_ns(w.name, size, n).expect("a spin workload");
            let items = spin_items(calib, costs.into_iter());
            v.visit(
                &items,
                |it: &SpinItem| {
                    let half = (it.iters / 2).max(1);
                    let (a, b) =
                        rayon::join(|| spin(half, it.seed), || spin(half, it.seed ^ 0xB0B));
                    a ^ b.rotate_left(17)
                },
                checksum_u64,
            )
        }
        "lock-bound" => {
            // Each item computes while it holds the one lock (a shared cache, a counter, a
            // log): a sample of items alone cannot see that side by side they queue for it.
            let costs = spin_costs_ns(w.name, size, n).expect("a spin workload");
            let items = spin_items(calib, costs.into_iter());
            let lock = std::sync::Mutex::new(0u64);
            let lock = &lock;
            v.visit(
                &items,
                move |it: &SpinItem| {
                    let mut held = lock.lock().unwrap_or_else(|e| e.into_inner());
                    *held = held.wrapping_add(1);
                    run_spin(it)
                },
                checksum_u64,
            )
        }
        "blocking" => sleep_workload!(Duration::from_millis(1)),
        "short-waits" => sleep_workload!(Duration::from_micros(100)),
        "compute-then-wait" => {
            // Computes first, then waits as long (prepares a request, then waits for the
            // answer): a moment of the first item reads as computing.
            let costs = spin_costs_ns(w.name, size, n).expect("a spin workload");
            let items = spin_items(calib, costs.into_iter());
            let pause = match size {
                Size::Tiny => Duration::from_micros(10),
                _ => Duration::from_micros(500),
            };
            v.visit(
                &items,
                move |it: &SpinItem| {
                    let r = run_spin(it);
                    std::thread::sleep(pause);
                    r
                },
                checksum_u64,
            )
        }
        "memory-bound" => {
            // One shared vector far larger than the caches; each item streams its own window.
            let (len, window) = match size {
                Size::Tiny => (1 << 12, 1 << 8),
                _ => (16 << 20, 128 << 10), // 128 MiB of u64, 1 MiB windows
            };
            let data: Vec<u64> = (0..len as u64).map(mix).collect();
            let stride = 7_919usize * 8; // a prime number of cache lines
            let starts: Vec<usize> = (0..n).map(|i| (i * stride) % (len - window)).collect();
            let data = &data;
            v.visit(
                &starts,
                move |&s: &usize| sum_window(&data[s..s + window]),
                checksum_u64,
            )
        }
        "big-output" => {
            let bytes = match size {
                Size::Tiny => 100,
                _ => 10 * 1024,
            };
            let items: Vec<u64> = (0..n as u64).collect();
            v.visit(
                &items,
                move |&i: &u64| output_bytes(i, bytes),
                checksum_bytes,
            )
        }
        other => unreachable!("workload {other} is listed in NAMES but not built"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count;
    impl Visitor for Count {
        type Output = (usize, Checksum, Checksum);
        fn visit<T, R, F>(self, items: &[T], f: F, checksum: fn(&[R]) -> Checksum) -> Self::Output
        where
            T: Sync,
            R: Send + 'static,
            F: Fn(&T) -> R + Sync,
        {
            let a: Vec<R> = items.iter().map(&f).collect();
            let b: Vec<R> = items.iter().map(&f).collect();
            (items.len(), checksum(&a), checksum(&b))
        }
    }

    #[test]
    fn every_workload_builds_and_is_deterministic() {
        let c = Calibration::fixed(1.0);
        for w in all() {
            let (n, a, b) = visit(&w, Size::Tiny, &c, 2, Count);
            assert_eq!(n, items_for(w.name, Size::Tiny, 2), "{}", w.name);
            assert!(n >= 1, "{}", w.name);
            assert_eq!(a, b, "{} is not deterministic", w.name);
        }
    }

    #[test]
    fn names_are_unique_and_resolvable() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
        for n in NAMES {
            assert_eq!(by_name(n).unwrap().name, *n);
        }
    }

    #[test]
    fn few_items_has_fewer_items_than_cores() {
        for cores in 2..64 {
            assert!(items_for("few-items", Size::Full, cores) < cores);
        }
        assert_eq!(items_for("few-items", Size::Full, 1), 1);
    }

    #[test]
    fn lognormal_costs_have_a_high_cv() {
        let sigma = 5f64.ln().sqrt();
        let mut rng = SplitMix64::new(9);
        let xs: Vec<f64> = (0..200_000)
            .map(|_| (sigma * rng.next_normal()).exp())
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((1.5..2.6).contains(&cv), "cv {cv}");
    }

    #[test]
    fn bimodal_has_about_five_percent_dear_items() {
        let c = spin_costs_ns("bimodal", Size::Full, 10_000).unwrap();
        let dear = c.iter().filter(|&&x| x > 100_000.0).count();
        let share = dear as f64 / c.len() as f64;
        assert!((0.04..0.06).contains(&share), "share {share}");
        assert!(c.iter().all(|&x| x == 10_000.0 || x == 1_000_000.0));
    }

    #[test]
    fn lognormal_workload_costs_have_the_asked_mean_and_cv() {
        let c = spin_costs_ns("lognormal", Size::Full, 5_000).unwrap();
        let mean = c.iter().sum::<f64>() / c.len() as f64;
        let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / c.len() as f64;
        assert!((70_000.0..130_000.0).contains(&mean), "mean {mean}");
        assert!((1.2..2.8).contains(&(var.sqrt() / mean)));
    }

    #[test]
    fn regime_change_switches_once_at_four_fifths() {
        let c = spin_costs_ns("regime-change", Size::Full, 5_000).unwrap();
        let switches = c.windows(2).filter(|p| p[0] != p[1]).count();
        assert_eq!(switches, 1);
        assert_eq!(c[3_999], 20_000.0);
        assert_eq!(c[4_000], 500_000.0);
    }

    #[test]
    fn descending_is_ascending_reversed() {
        let mut a = spin_costs_ns("ascending", Size::Quick, 400).unwrap();
        a.reverse();
        assert_eq!(a, spin_costs_ns("descending", Size::Quick, 400).unwrap());
    }

    #[test]
    fn iters_for_ns_rounds_and_floors_at_one() {
        let c = Calibration::fixed(0.5);
        assert_eq!(c.iters_for_ns(10.0), 20);
        assert_eq!(c.iters_for_ns(f64::NAN), 1);
        assert_eq!(c.iters_for_ns(-3.0), 1);
    }
}
