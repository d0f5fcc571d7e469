//! Every workload computes the same result under every strategy (tiny sizes: behaviour only,
//! no timing is asserted).

use amorsize_bench::cli::run_workload;
use amorsize_bench::grid::PoolConfig;
use amorsize_bench::report::Kind;
use amorsize_bench::strategies::{fixed_options, Settings};
use amorsize_bench::workloads::{self, Calibration, Checksum, Size, Visitor};
use rayon::prelude::*;

/// Checksums of one workload under sequential, rayon, a fixed pool setting, par_map and
/// Plan::execute.
struct AllChecksums;

impl Visitor for AllChecksums {
    type Output = Vec<(&'static str, Checksum)>;
    fn visit<T, R, F>(self, items: &[T], f: F, checksum: fn(&[R]) -> Checksum) -> Self::Output
    where
        T: Sync,
        R: Send + 'static,
        F: Fn(&T) -> R + Sync,
    {
        let seq: Vec<R> = items.iter().map(&f).collect();
        let ray: Vec<R> = items.par_iter().with_min_len(2).map(&f).collect();
        let pool = amorsize::global_pool_manager().get(2).unwrap();
        let opts = fixed_options(PoolConfig {
            workers: 2,
            chunk: 3,
        });
        let pooled = pool
            .map_range(items.len(), &opts, |i| f(&items[i]))
            .unwrap()
            .results;
        let auto = amorsize::par_map(items, &f).unwrap();
        let plan = amorsize::optimize(items, &f).unwrap();
        let planned = plan.execute(items, &f).unwrap();
        vec![
            ("sequential", checksum(&seq)),
            ("rayon", checksum(&ray)),
            ("pool w2 c3", checksum(&pooled)),
            ("par_map", checksum(&auto)),
            ("plan.execute", checksum(&planned)),
        ]
    }
}

#[test]
fn every_workload_gives_the_same_checksum_under_every_strategy() {
    let calib = Calibration::fixed(1.0);
    for w in workloads::all() {
        let sums = workloads::visit(&w, Size::Tiny, &calib, 2, AllChecksums);
        let reference = sums[0].1;
        for (name, sum) in &sums {
            assert_eq!(*sum, reference, "workload {}: {name} differs", w.name);
        }
    }
}

#[test]
fn checksums_detect_a_reordered_result() {
    // The checksum must be order-sensitive, or a scheduler that returns results out of order
    // would pass.
    struct Reversed;
    impl Visitor for Reversed {
        type Output = (Checksum, Checksum);
        fn visit<T, R, F>(self, items: &[T], f: F, checksum: fn(&[R]) -> Checksum) -> Self::Output
        where
            T: Sync,
            R: Send + 'static,
            F: Fn(&T) -> R + Sync,
        {
            let fwd: Vec<R> = items.iter().map(&f).collect();
            let rev: Vec<R> = items.iter().rev().map(&f).collect();
            (checksum(&fwd), checksum(&rev))
        }
    }
    let calib = Calibration::fixed(1.0);
    for w in workloads::all() {
        if workloads::items_for(w.name, Size::Tiny, 2) < 2 {
            continue;
        }
        let (a, b) = workloads::visit(&w, Size::Tiny, &calib, 2, Reversed);
        assert_ne!(a, b, "workload {}: reversal not detected", w.name);
    }
}

#[test]
fn the_whole_pipeline_runs_every_workload_and_yields_a_row() {
    let calib = Calibration::fixed(1.0);
    let settings = Settings::quick(2);
    for w in workloads::all() {
        let r = run_workload(&w, Size::Tiny, &calib, settings).unwrap();
        assert_eq!(r.name, w.name);
        assert!(r.runs >= 5);
        let row = r.row.as_ref().expect("a row of ratios");
        assert!(row.oracle.workers >= 1 && row.oracle.chunk >= 1);
        for kind in [
            Kind::Sequential,
            Kind::Rayon,
            Kind::RayonMinLen,
            Kind::Pool,
            Kind::Auto,
            Kind::AutoPlanned,
            Kind::Planner,
        ] {
            let s: Vec<_> = r.strategies.iter().filter(|s| s.kind == kind).collect();
            let expected = if kind == Kind::RayonMinLen {
                amorsize_bench::grid::rayon_min_lens(r.items).len()
            } else {
                1
            };
            if kind != Kind::Pool {
                assert_eq!(s.len(), expected, "{}: {kind:?}", w.name);
            }
            assert!(
                kind == Kind::RayonMinLen || !s.is_empty(),
                "{}: no {kind:?}",
                w.name
            );
            assert!(s.iter().all(|s| s.samples_ns.len() == r.runs));
        }
        // every screened setting is from the grid and the kept ones were screened
        let kept: Vec<_> = r.strategies.iter().filter_map(|s| s.pool).collect();
        assert!(kept.len() <= settings.keep + 1); // + the one-worker setting
        assert!(kept.iter().all(|k| r.screened.iter().any(|s| s.pool == *k)));
    }
}
