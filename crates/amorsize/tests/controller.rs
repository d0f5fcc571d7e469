//! Behaviour of the runtime chunk controller, fed synthetic durations (no clock anywhere).

use amorsize::pool::{ChunkController, ControllerConfig};
use amorsize::Error;
use proptest::prelude::*;
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// Seed formula, computed here independently of the code under test.
fn seed_next(current: usize, mean: f64, target: f64, rate: f64) -> usize {
    let ratio = mean / target;
    (current as f64 * (1.0 + (1.0 / ratio - 1.0) * rate)).round() as usize
}

fn ctl(initial: usize) -> ChunkController {
    ChunkController::new(ControllerConfig::new(initial, MS))
}

/// Feeds chunks of the controller's current size costing `per_item` each, `n` times.
fn feed_model(c: &mut ChunkController, per_item: Duration, n: usize) {
    for _ in 0..n {
        let size = c.chunk_size();
        c.record(per_item * size as u32, size);
    }
}

#[test]
fn steady_at_target_makes_no_change() {
    let mut c = ctl(100);
    for _ in 0..50 {
        assert_eq!(c.record(MS, 100), 100);
    }
    // within the 20% band is "on target" too
    for i in 0..50 {
        let d = if i % 2 == 0 { us(1150) } else { us(850) };
        assert_eq!(c.record(d, 100), 100);
    }
    assert!(c.history().is_empty());
}

#[test]
fn twice_too_slow_shrinks_by_the_formula() {
    let mut c = ctl(100);
    c.record(2 * MS, 100);
    c.record(2 * MS, 100);
    let next = c.record(2 * MS, 100);
    let expected = seed_next(100, 2.0, 1.0, 0.3);
    assert_eq!(expected, 85);
    assert_eq!(next, expected);
    assert_eq!(c.chunk_size(), expected);
}

#[test]
fn too_fast_grows_by_the_formula() {
    let mut c = ctl(100);
    for _ in 0..3 {
        c.record(us(600), 100);
    }
    assert_eq!(c.chunk_size(), seed_next(100, 0.6, 1.0, 0.3));
    assert!(c.chunk_size() > 100);
}

#[test]
fn clamps_at_min_and_max() {
    let cfg = ControllerConfig {
        min: 40,
        max: Some(120),
        ..ControllerConfig::new(100, MS)
    };
    let mut slow = ChunkController::new(cfg.clone());
    feed_model(&mut slow, us(1000), 30); // ideal size 1
    assert_eq!(slow.chunk_size(), 40);

    let mut fast = ChunkController::new(cfg);
    feed_model(&mut fast, Duration::from_nanos(100), 30); // ideal size 10 000
    assert_eq!(fast.chunk_size(), 120);

    // initial outside the bounds is clamped in
    let c = ChunkController::new(ControllerConfig {
        min: 5,
        max: Some(9),
        ..ControllerConfig::new(1000, MS)
    });
    assert_eq!(c.chunk_size(), 9);
}

#[test]
fn fewer_than_three_measurements_make_no_change() {
    let mut c = ctl(100).regime_reaction(false);
    assert_eq!(c.record(5 * MS, 100), 100);
    assert_eq!(c.record(5 * MS, 100), 100);
    assert!(c.history().is_empty());
    assert_ne!(c.record(5 * MS, 100), 100);
}

#[test]
fn few_remaining_items_make_no_change() {
    let mut c = ctl(100);
    c.set_remaining(199);
    for _ in 0..10 {
        assert_eq!(c.record(5 * MS, 100), 100);
    }
    c.set_remaining(200);
    assert_ne!(c.record(5 * MS, 100), 100);
}

#[test]
fn window_resets_after_a_change() {
    // 15 µs per item: 1.5× the target at size 100, a window-rule (not regime) deviation.
    let per_item = us(15);
    let mut c = ctl(100).regime_reaction(false);
    feed_model(&mut c, per_item, 3);
    assert_eq!(c.history().len(), 1);
    let after_first = c.chunk_size();
    // Two more measurements: the window holds only these two, so no change yet, although
    // a window that kept the old three would already have acted.
    feed_model(&mut c, per_item, 2);
    assert_eq!(c.chunk_size(), after_first);
    assert_eq!(c.history().len(), 1);
    feed_model(&mut c, per_item, 1);
    assert_eq!(c.history().len(), 2);
    assert_eq!(c.history()[1].at_chunk, 6);
}

#[test]
fn history_entries_are_exact() {
    let mut c = ctl(100).regime_reaction(false);
    for _ in 0..3 {
        c.record(2 * MS, 100);
    }
    // now at 85; three chunks of 85 items at 20 µs/item = 1.7 ms each
    for _ in 0..3 {
        c.record(us(1700), 85);
    }
    let h = c.history();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0].from, h[0].to), (100, 85));
    assert_eq!(h[0].mean, 2 * MS);
    assert_eq!(h[0].at_chunk, 3);
    assert_eq!(h[0].at, 6 * MS);
    let second = seed_next(85, 1.7, 1.0, 0.3);
    assert_eq!((h[1].from, h[1].to), (85, second));
    assert_eq!(h[1].mean, us(1700));
    assert_eq!(h[1].at_chunk, 6);
    assert_eq!(h[1].at, 6 * MS + us(5100));
    let json = serde_json::to_value(h).unwrap();
    assert_eq!(json[0]["reason"], "window");
    assert_eq!(json[1]["from"], 85);
}

#[test]
fn adaptation_off_keeps_the_size() {
    let mut c = ctl(64).adaptation(false);
    for d in [us(1), MS * 100, Duration::ZERO, Duration::MAX, us(3)] {
        for _ in 0..5 {
            assert_eq!(c.record(d, 64), 64);
        }
    }
    assert!(c.history().is_empty());
    // a zero adaptation rate too
    let mut c = ChunkController::new(ControllerConfig {
        adaptation_rate: 0.0,
        ..ControllerConfig::new(64, MS)
    })
    .regime_reaction(true);
    feed_model(&mut c, us(100), 20);
    assert_eq!(c.chunk_size(), 64);
}

/// Steps until the size is within 20% of `ideal`, at most `limit`.
fn chunks_to_converge(
    c: &mut ChunkController,
    per_item: Duration,
    ideal: f64,
    limit: usize,
) -> usize {
    for n in 0..limit {
        if (c.chunk_size() as f64 - ideal).abs() <= 0.2 * ideal {
            return n;
        }
        feed_model(c, per_item, 1);
    }
    limit
}

#[test]
fn regime_change_reacts_within_three_chunks() {
    // At 10 µs/item the size 100 is on target; then items become 10× more expensive.
    let mut c = ctl(100);
    feed_model(&mut c, us(10), 10);
    assert_eq!(c.chunk_size(), 100);
    feed_model(&mut c, us(100), 3);
    let size = c.chunk_size() as f64;
    assert!(
        (size - 10.0).abs() <= 2.0,
        "size {size} after 3 slow chunks"
    );
    assert!(c
        .history()
        .iter()
        .any(|a| serde_json::to_value(a).unwrap()["reason"] == "regime_change"));

    // The seed (no regime rule) is still far off after the same 3 chunks ...
    let mut seed = ctl(100).regime_reaction(false).item_weighting(false);
    feed_model(&mut seed, us(10), 10);
    feed_model(&mut seed, us(100), 3);
    assert!(seed.chunk_size() > 50, "seed at {}", seed.chunk_size());
    // ... and needs many more chunks to get within 20% of the ideal.
    let seed_steps = chunks_to_converge(&mut seed, us(100), 10.0, 500);
    assert!(seed_steps > 6, "seed converged in {seed_steps}");
}

#[test]
fn regime_change_towards_cheaper_items_grows_at_once() {
    let mut c = ctl(100);
    feed_model(&mut c, us(10), 10);
    feed_model(&mut c, us(1), 3); // 10× cheaper: ideal 1000
    let size = c.chunk_size() as f64;
    assert!((size - 1000.0).abs() <= 200.0, "size {size}");
}

#[test]
fn item_weighting_handles_mixed_chunk_sizes() {
    // 10 µs/item: size 100 is exactly on target. Guided-tail chunks of 10 items take 0.1 ms.
    let chunks = [
        (MS, 100),
        (us(100), 10),
        (us(100), 10),
        (MS, 100),
        (us(100), 10),
    ];
    let mut weighted = ctl(100);
    for (d, n) in chunks {
        weighted.record(d, n);
    }
    assert_eq!(weighted.chunk_size(), 100);
    assert!(weighted.history().is_empty());

    // The seed's plain mean (0.46 ms) mistakes the small chunks for fast ones and grows.
    let mut plain = ctl(100).item_weighting(false).regime_reaction(false);
    for (d, n) in chunks {
        plain.record(d, n);
    }
    assert!(plain.chunk_size() > 100);
}

#[test]
fn converges_on_a_linear_cost_model() {
    // duration = per_item × size; ideal size = target / per_item = 20.
    for (rules, name) in [((true, true), "improved"), ((false, false), "seed")] {
        for initial in [1usize, 7, 20, 300, 100_000] {
            let mut c = ctl(initial)
                .item_weighting(rules.0)
                .regime_reaction(rules.1);
            feed_model(&mut c, us(50), 200);
            let s = c.chunk_size() as f64;
            assert!((16.0..=24.0).contains(&s), "{name} from {initial}: {s}");
        }
    }
}

#[test]
fn converges_with_noisy_durations() {
    // ±25% deterministic noise around per_item × size; ideal 40.
    let mut state = 12345u64;
    let mut c = ctl(1);
    for _ in 0..400 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = 0.75 + 0.5 * ((state >> 33) as f64 / (1u64 << 31) as f64);
        let size = c.chunk_size();
        let d = Duration::from_secs_f64(25e-6 * size as f64 * noise);
        c.record(d, size);
    }
    let s = c.chunk_size() as f64;
    assert!((32.0..=48.0).contains(&s), "size {s}");
}

#[test]
fn improved_rules_converge_faster_than_seed_from_a_bad_start() {
    let mut improved = ctl(5000);
    let mut seed = ctl(5000).item_weighting(false).regime_reaction(false);
    let a = chunks_to_converge(&mut improved, us(50), 20.0, 1000);
    let b = chunks_to_converge(&mut seed, us(50), 20.0, 1000);
    assert!(a < b, "improved {a} chunks, seed {b}");
    assert!(a <= 3, "improved took {a}");
}

#[test]
fn validate_names_each_bad_setting() {
    let base = ControllerConfig::new(10, MS);
    let cases: Vec<(ControllerConfig, &str)> = vec![
        (
            ControllerConfig {
                initial: 0,
                ..base.clone()
            },
            "initial_chunk_size",
        ),
        (
            ControllerConfig {
                target: Duration::ZERO,
                ..base.clone()
            },
            "target_chunk_duration",
        ),
        (
            ControllerConfig {
                adaptation_rate: -0.1,
                ..base.clone()
            },
            "adaptation_rate",
        ),
        (
            ControllerConfig {
                adaptation_rate: 1.01,
                ..base.clone()
            },
            "adaptation_rate",
        ),
        (
            ControllerConfig {
                adaptation_rate: f64::NAN,
                ..base.clone()
            },
            "adaptation_rate",
        ),
        (
            ControllerConfig {
                min: 0,
                ..base.clone()
            },
            "min_chunk_size",
        ),
        (
            ControllerConfig {
                min: 8,
                max: Some(4),
                ..base.clone()
            },
            "min_chunk_size",
        ),
        (
            ControllerConfig {
                max: Some(0),
                ..base.clone()
            },
            "max_chunk_size",
        ),
        (
            ControllerConfig {
                window: 0,
                ..base.clone()
            },
            "window",
        ),
    ];
    for (cfg, name) in cases {
        match cfg.validate() {
            Err(Error::InvalidConfig { setting, .. }) => assert_eq!(setting, name),
            other => panic!("{cfg:?}: expected InvalidConfig({name}), got {other:?}"),
        }
        assert!(ChunkController::try_new(cfg).is_err());
    }
    for ok in [
        base.clone(),
        ControllerConfig {
            adaptation_rate: 0.0,
            ..base.clone()
        },
        ControllerConfig {
            adaptation_rate: 1.0,
            min: 4,
            max: Some(4),
            ..base.clone()
        },
        ControllerConfig::default(),
    ] {
        assert!(ok.validate().is_ok(), "{ok:?}");
    }
}

#[test]
fn thread_defaults() {
    assert_eq!(ControllerConfig::default().target, MS);
    assert_eq!(ControllerConfig::for_threads(1, us(8)).target, us(800));
    assert_eq!(ControllerConfig::for_threads(1, us(1)).target, us(200));
    assert_eq!(ControllerConfig::for_threads(1, MS).target, 5 * MS);
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1 => Just(Duration::ZERO),
        1 => Just(Duration::MAX),
        1 => (0u64..u64::MAX).prop_map(Duration::from_nanos),
        6 => (0u64..50_000_000).prop_map(Duration::from_nanos),
    ]
}

fn config() -> impl Strategy<Value = ControllerConfig> {
    (
        0usize..100_000,
        0u64..10_000_000,
        prop_oneof![Just(f64::NAN), -1.0f64..2.0, 0.0f64..=1.0],
        0usize..64,
        proptest::option::of(0usize..5_000),
        0usize..16,
    )
        .prop_map(|(initial, t, rate, min, max, window)| ControllerConfig {
            initial,
            target: Duration::from_nanos(t),
            adaptation_rate: rate,
            min,
            max,
            window,
        })
}

proptest! {
    #[test]
    fn size_stays_in_bounds_and_history_is_consistent(
        cfg in config(),
        flags in (any::<bool>(), any::<bool>(), any::<bool>()),
        feed in proptest::collection::vec((duration(), 0usize..20_000, proptest::option::of(0usize..100_000)), 0..80),
    ) {
        let min = cfg.min.max(1);
        let max = cfg.max.map(|m| m.max(min));
        let mut c = ChunkController::new(cfg)
            .adaptation(flags.0)
            .item_weighting(flags.1)
            .regime_reaction(flags.2);
        let first = c.chunk_size();
        for (d, items, rem) in feed {
            if let Some(r) = rem { c.set_remaining(r); }
            let next = c.record(d, items);
            prop_assert_eq!(next, c.chunk_size());
            prop_assert!(next >= min && next >= 1);
            if let Some(m) = max { prop_assert!(next <= m); }
        }
        let h = c.history();
        let mut prev_to = first;
        let mut prev_chunk = 0;
        let mut prev_at = Duration::ZERO;
        for a in h {
            prop_assert_eq!(a.from, prev_to);
            prop_assert_ne!(a.from, a.to);
            prop_assert!(a.at_chunk > prev_chunk);
            prop_assert!(a.at >= prev_at);
            prev_to = a.to;
            prev_chunk = a.at_chunk;
            prev_at = a.at;
        }
        prop_assert_eq!(prev_to, c.chunk_size());
        if !flags.0 { prop_assert!(h.is_empty()); }
    }

    #[test]
    fn converges_for_any_linear_cost(per_item_ns in 200u64..200_000, initial in 1usize..50_000) {
        // target 1 ms; ideal = 1e6 / per_item_ns (5 ..= 5000 items)
        let ideal = 1e6 / per_item_ns as f64;
        let mut c = ctl(initial);
        feed_model(&mut c, Duration::from_nanos(per_item_ns), 150);
        let s = c.chunk_size() as f64;
        // within 20% of the ideal, or within one item of it when the ideal is tiny
        prop_assert!((s - ideal).abs() <= (0.2 * ideal).max(1.0), "size {} ideal {}", s, ideal);
    }
}
