//! Warm job start of amorsize's pool against rayon's fan-out on the same number of workers,
//! measured side by side in one run (interleaved A B A B, medians), plus the pool's costs.
//!
//! ```text
//! cargo run --release -p amorsize --example fanout [workers] [rounds]
//! ```

use amorsize::pool::{calibrate, ChunkPolicy, RunOptions, ThreadPool};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn tree(lo: usize, hi: usize) {
    if hi - lo <= 1 {
        black_box(lo);
    } else {
        let mid = (lo + hi) / 2;
        rayon::join(|| tree(lo, mid), || tree(mid, hi));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = match args.get(1) {
        Some(a) => a.parse()?,
        None => amorsize::system::info().cores.effective.max(2),
    };
    let rounds: usize = match args.get(2) {
        Some(a) => a.parse()?,
        None => 2000,
    };
    let ours = ThreadPool::new(n)?;
    let ray = rayon::ThreadPoolBuilder::new().num_threads(n).build()?;
    let opts = RunOptions::new(n, ChunkPolicy::Fixed(1));
    // Warm both.
    for _ in 0..50 {
        ours.broadcast(|p| {
            black_box(p);
        })?;
        ray.broadcast(|c| {
            black_box(c.index());
        });
    }
    println!(
        "workers: {n} (amorsize: caller + {} threads; rayon: {n} threads)",
        n - 1
    );
    for (mode, pause, rounds) in [
        ("back-to-back", None, rounds),
        (
            "after 2 ms idle (workers parked)",
            Some(Duration::from_millis(2)),
            rounds / 10,
        ),
    ] {
        let (mut ob, mut rb, mut om, mut rj) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            let nap = || {
                if let Some(p) = pause {
                    std::thread::sleep(p);
                }
            };
            nap();
            ob.push(time(|| {
                ours.broadcast(|p| {
                    black_box(p);
                })
                .unwrap();
            }));
            nap();
            rb.push(time(|| {
                ray.broadcast(|c| {
                    black_box(c.index());
                });
            }));
            nap();
            om.push(time(|| {
                ours.map_range(n, &opts, black_box).unwrap();
            }));
            nap();
            rj.push(time(|| ray.install(|| tree(0, n))));
        }
        println!("\n{mode}, {rounds} rounds interleaved, medians:");
        println!(
            "  amorsize ThreadPool::broadcast (every participant runs once): {:>10?}",
            median(ob)
        );
        println!(
            "  rayon    ThreadPool::broadcast                               : {:>10?}",
            median(rb)
        );
        println!(
            "  amorsize map_range({n} items, chunk 1)                          : {:>10?}",
            median(om)
        );
        println!(
            "  rayon    install(join tree over {n} leaves)                   : {:>10?}",
            median(rj)
        );
    }
    // For reference: each alone, back to back (not interleaved).
    let alone = |f: &dyn Fn()| median((0..rounds).map(|_| time(f)).collect());
    let a = alone(&|| {
        ours.broadcast(|p| {
            black_box(p);
        })
        .unwrap()
    });
    let b = alone(&|| {
        ray.broadcast(|c| {
            black_box(c.index());
        });
    });
    println!(
        "\nalone (not interleaved), back-to-back broadcast medians: amorsize {a:?}, rayon {b:?}"
    );
    let t = Instant::now();
    let c = calibrate::measure(&ours);
    let took = t.elapsed();
    println!("\n{c}\n(calibrate::measure took {took:?})");
    println!(
        "default controller target for threads: {:?}",
        calibrate::default_target(&c)
    );
    // Per-chunk dispatch in a real run, chunk of 1 over 1e6 trivial items on all workers.
    let items = 1_000_000;
    let t = Instant::now();
    let out = ours.map_range(items, &opts, black_box)?;
    let wall = t.elapsed();
    println!(
        "map_range over {items} trivial items, chunk 1, {n} workers: {:?} wall, {} chunks, {:.1} ns per chunk per worker",
        wall,
        out.stats.chunks,
        wall.as_nanos() as f64 * n as f64 / out.stats.chunks as f64
    );
    Ok(())
}
