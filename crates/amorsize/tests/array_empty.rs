//! Arrays with a zero-length axis (a filter that kept no rows): they are chunked, mapped and
//! profiled like any other array, with no block to run. `map_blocks` returns an empty array of
//! the input's shape without calling `f`; `reduce_blocks` has no identity value, so it is an
//! `InvalidInput` error; the engine does not record a run that ran no block. (No allocator is
//! installed here: memory is measured from RSS.)

use amorsize::array::{
    AdaptiveChunkingEngine, ChunkGrid, ChunkSizeRecommender, ChunkedArray, ChunkedArrayMut,
    EngineConfig,
};
use amorsize::Error;
use ndarray::{Array1, Array2, Array3, ArrayD, Dimension, IxDyn};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The shapes every test runs on: an empty first axis, an empty last axis, rank 1, a 3-D array
/// with one empty axis in the middle, and two empty axes.
const SHAPES: [&[usize]; 5] = [&[0, 5], &[5, 0], &[0], &[4, 0, 6], &[0, 3, 0]];

/// A chunk shape of the array's rank (3 on every axis).
fn threes(shape: &[usize]) -> Vec<usize> {
    vec![3; shape.len()]
}

/// An element type with no `Default`, `Clone` or `Copy`: an empty result needs no value of it.
#[derive(Debug, PartialEq)]
struct Opaque(String);

/// Asserts that text a person or a program reads has no NaN or infinity in it (as Rust formats
/// them: the words `NaN` and `inf`).
fn assert_finite_text(text: &str) {
    let bad = text
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| *w == "NaN" || *w == "inf");
    assert!(bad.is_none(), "{bad:?} in {text}");
}

#[test]
fn a_grid_with_a_zero_length_axis_has_no_chunks() {
    for shape in SHAPES {
        let g = ChunkGrid::new(shape, &threes(shape)).unwrap();
        assert_eq!(g.len(), 0, "{shape:?}");
        assert!(g.is_empty(), "{shape:?}");
        assert_eq!(g.shape(), shape);
        for (ax, (&s, (&c, &n))) in shape
            .iter()
            .zip(g.chunks().iter().zip(g.counts()))
            .enumerate()
        {
            assert!(c >= 1, "{shape:?}: chunk {c} on axis {ax}");
            // clipped to the axis as always, and to 1 on a zero-length axis
            assert_eq!(c, 3.min(s.max(1)), "{shape:?} axis {ax}");
            assert_eq!(n, s.div_ceil(c), "{shape:?} axis {ax}");
            assert_eq!(n == 0, s == 0, "{shape:?} axis {ax}");
        }
        // There is no chunk 0 to describe.
        assert!(std::panic::catch_unwind(|| g.block_ranges(0)).is_err());
        assert!(std::panic::catch_unwind(|| g.block_shape(0)).is_err());
        // A zero chunk length stays an error, whatever the shape.
        let mut zero = threes(shape);
        zero[0] = 0;
        assert!(
            matches!(
                ChunkGrid::new(shape, &zero),
                Err(Error::InvalidInput { .. })
            ),
            "{shape:?}"
        );
        // …and so does a chunk shape of another rank.
        assert!(ChunkGrid::new(shape, &[3; 7]).is_err());
    }
    // A chunk longer than a non-empty axis is clipped to it, next to a zero-length axis.
    let g = ChunkGrid::new(&[4, 0], &[100, 100]).unwrap();
    assert_eq!((g.chunks(), g.counts()), (&[4, 1][..], &[1, 0][..]));
    // Rank 0 is still refused.
    assert!(ChunkGrid::new(&[], &[]).is_err());
}

#[test]
fn map_blocks_returns_an_empty_array_of_the_input_shape_without_calling_f() {
    for shape in SHAPES {
        let a = ArrayD::<f64>::zeros(IxDyn(shape));
        let c = ChunkedArray::with_chunks(a.view(), &threes(shape)).unwrap();
        let calls = AtomicUsize::new(0);
        let out = c
            .map_blocks(|b| {
                calls.fetch_add(1, Ordering::Relaxed);
                b.mapv(|x| x + 1.0)
            })
            .unwrap();
        assert_eq!(out.shape(), shape);
        assert_eq!(out.len(), 0);
        assert_eq!(calls.load(Ordering::Relaxed), 0, "{shape:?}");
        let run = c.profile().last_run.unwrap();
        assert_eq!((run.operation.as_str(), run.chunks), ("map_blocks", 0));
    }
    // A typed 2-D array, and an output element type with no value to spare.
    let a = Array2::<u8>::zeros((0, 5));
    let c = ChunkedArray::with_chunks(a.view(), &[2, 2]).unwrap();
    let out: Array2<Opaque> = c.map_blocks(|b| b.mapv(|x| Opaque(x.to_string()))).unwrap();
    assert_eq!(out.dim(), (0, 5));
}

#[test]
fn map_blocks_indexed_returns_an_empty_array_without_calling_f() {
    for shape in SHAPES {
        let a = ArrayD::<i32>::zeros(IxDyn(shape));
        let c = ChunkedArray::with_chunks(a.view(), &threes(shape)).unwrap();
        let calls = AtomicUsize::new(0);
        let out = c
            .map_blocks_indexed(|ranges, b| {
                calls.fetch_add(1, Ordering::Relaxed);
                assert_eq!(ranges.len(), b.ndim());
                b.mapv(|x| Opaque(x.to_string()))
            })
            .unwrap();
        assert_eq!(out.shape(), shape);
        assert_eq!(out.len(), 0);
        assert_eq!(calls.load(Ordering::Relaxed), 0, "{shape:?}");
    }
    let a = Array3::<f32>::zeros((4, 0, 6));
    let c = ChunkedArray::with_chunks(a.view(), &[2, 2, 2]).unwrap();
    let out = c
        .map_blocks_indexed(|_, b| -> Array3<f64> { unreachable!("no block: {b:?}") })
        .unwrap();
    assert_eq!(out.dim(), (4, 0, 6));
}

#[test]
fn map_blocks_mut_on_an_empty_array_is_ok_and_calls_nothing() {
    for shape in SHAPES {
        let mut a = ArrayD::<f64>::zeros(IxDyn(shape));
        let mut c = ChunkedArrayMut::with_chunks(a.view_mut(), &threes(shape)).unwrap();
        let calls = AtomicUsize::new(0);
        c.map_blocks_mut(|mut b| {
            calls.fetch_add(1, Ordering::Relaxed);
            b.fill(1.0);
        })
        .unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 0, "{shape:?}");
        let run = c.profile().last_run.unwrap();
        assert_eq!((run.operation.as_str(), run.chunks), ("map_blocks_mut", 0));
        drop(c);
        assert_eq!(a.shape(), shape);
    }
}

#[test]
fn reduce_blocks_on_an_empty_array_is_invalid_input_and_calls_nothing() {
    for shape in SHAPES {
        let a = ArrayD::<u64>::zeros(IxDyn(shape));
        let c = ChunkedArray::with_chunks(a.view(), &threes(shape)).unwrap();
        let (maps, combines) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let err = c
            .reduce_blocks(
                |b| {
                    maps.fetch_add(1, Ordering::Relaxed);
                    b.sum()
                },
                |x, y| {
                    combines.fetch_add(1, Ordering::Relaxed);
                    x + y
                },
            )
            .unwrap_err();
        match &err {
            Error::InvalidInput { what, reason } => {
                assert_eq!(what, "array");
                assert!(reason.contains("no blocks to reduce"), "{err}");
                assert!(reason.contains(&format!("{shape:?}")), "{err}");
            }
            other => panic!("{shape:?}: {other:?}"),
        }
        let err = c
            .reduce_blocks_indexed(
                |_, b| {
                    maps.fetch_add(1, Ordering::Relaxed);
                    b.sum()
                },
                |x, y| {
                    combines.fetch_add(1, Ordering::Relaxed);
                    x + y
                },
            )
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert_eq!(maps.load(Ordering::Relaxed), 0);
        assert_eq!(combines.load(Ordering::Relaxed), 0);
        // A failed reduction leaves the array's last run as it was (there was none).
        assert!(c.profile().last_run.is_none());
    }
}

#[test]
fn an_empty_array_still_checks_its_settings() {
    let a = Array2::<f64>::zeros((0, 5));
    let c = ChunkedArray::with_chunks(a.view(), &[1, 5])
        .unwrap()
        .workers(0);
    // The settings error comes first, before the reduction's "no blocks".
    for e in [
        c.map_blocks(|b| b.to_owned()).unwrap_err(),
        c.reduce_blocks(|b| b.sum(), |x, y| x + y).unwrap_err(),
    ] {
        assert!(
            matches!(e, Error::InvalidConfig { ref setting, .. } if setting == "workers"),
            "{e}"
        );
    }
    let c = ChunkedArray::with_chunks(a.view(), &[1, 5])
        .unwrap()
        .budget_bytes(0);
    assert!(c.map_blocks(|b| b.to_owned()).is_err());
    let c = ChunkedArray::with_chunks(a.view(), &[1, 5])
        .unwrap()
        .pressure_threshold(f64::NAN);
    assert!(c.map_blocks(|b| b.to_owned()).is_err());
    let mut m = Array1::<f64>::zeros(0);
    let mut c = ChunkedArrayMut::with_chunks(m.view_mut(), &[4])
        .unwrap()
        .amplification(f64::INFINITY);
    assert!(c.map_blocks_mut(|_| {}).is_err());
}

#[test]
fn profile_of_an_empty_array_recommends_valid_chunks_with_finite_figures() {
    for shape in SHAPES {
        let a = ArrayD::<f64>::zeros(IxDyn(shape));
        let c = ChunkedArray::with_chunks(a.view(), &threes(shape))
            .unwrap()
            .budget_bytes(1 << 30);
        let before = c.profile();
        assert!(before.metrics.is_empty() && before.last_run.is_none());
        c.map_blocks(|b| b.to_owned()).unwrap();
        let p = c.profile();
        assert_eq!(p.shape, shape);
        assert!(p.metrics.is_empty());
        assert_eq!(p.stats.total_chunks, 0);
        assert_eq!(p.recommended_chunks.len(), shape.len());
        assert!(p.recommended_chunks.iter().all(|&c| c >= 1), "{p}");
        assert!(
            p.reasons.iter().any(|r| r.contains("no elements")),
            "{:?}",
            p.reasons
        );
        let run = p.last_run.clone().unwrap();
        assert_eq!(
            (
                run.chunks,
                run.max_concurrent,
                run.projected_peak,
                run.projected_block_peak,
                run.oversized_blocks
            ),
            (0, 0, 0, 0, 0)
        );
        assert_eq!(run.budget_bytes, 1 << 30);
        for stat in [
            p.stats.avg_chunk_mb,
            p.stats.avg_throughput_mb_s,
            p.stats.amplification,
            p.stats.peak_model.a,
            p.stats.peak_model.k,
            p.stats.time_model.t0,
            p.stats.time_model.c,
        ] {
            assert!(stat.is_finite(), "{p}");
        }
        assert_finite_text(&p.to_string());
        assert_finite_text(&run.to_string());
        // serde_json writes NaN as null; nothing in this report may be null.
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("null"), "{json}");
        // The recommendation is a valid grid over the array (and can be rechunked to).
        let next = c.rechunk(&p.recommended_chunks).unwrap();
        assert!(next.grid().is_empty());
    }
}

#[test]
fn auto_and_rechunk_accept_an_empty_array() {
    for shape in SHAPES {
        let a = ArrayD::<f32>::zeros(IxDyn(shape));
        let c = ChunkedArray::auto(a.view()).unwrap();
        assert_eq!(c.chunks().len(), shape.len());
        assert!(c.chunks().iter().all(|&x| x >= 1), "{:?}", c.chunks());
        assert!(c.grid().is_empty());
        assert_eq!(c.map_blocks(|b| b.to_owned()).unwrap().shape(), shape);
        let r = c.rechunk(&threes(shape)).unwrap();
        assert_eq!(
            r.chunks(),
            ChunkGrid::new(shape, &threes(shape)).unwrap().chunks()
        );
        let mut zero = threes(shape);
        zero[shape.len() - 1] = 0;
        assert!(c.rechunk(&zero).is_err());
        let mut m = ArrayD::<f32>::zeros(IxDyn(shape));
        let mut cm = ChunkedArrayMut::auto(m.view_mut()).unwrap();
        assert!(cm.chunks().iter().all(|&x| x >= 1));
        cm.map_blocks_mut(|_| unreachable!("no block")).unwrap();
    }
    // Rank 0 is still refused.
    let scalar = ndarray::arr0(1.0f64);
    assert!(ChunkedArray::auto(scalar.view()).is_err());
    assert!(ChunkedArray::with_chunks(scalar.view(), &[]).is_err());
}

#[test]
fn the_engine_does_not_record_a_run_that_ran_no_block() {
    let engine =
        AdaptiveChunkingEngine::new(EngineConfig::new().workers(2).budget_bytes(1 << 20)).unwrap();
    // An empty array on its own key: nothing is tracked, nothing enters the history.
    let empty = Array2::<f64>::zeros((0, 64));
    let c = ChunkedArray::with_chunks_and_engine(empty.view(), &[8, 64], &engine)
        .unwrap()
        .key("alone");
    c.map_blocks(|b| b.to_owned()).unwrap();
    let t = engine.telemetry();
    assert_eq!((t.arrays_tracked, t.history.len()), (0, 0));

    // A pipeline whose filter sometimes keeps rows and sometimes none, under one key: the run
    // with no row must not replace what the runs with rows measured.
    let full = Array2::<f64>::ones((64, 64));
    let c = ChunkedArray::with_chunks_and_engine(full.view(), &[8, 64], &engine)
        .unwrap()
        .key("filtered");
    c.map_blocks(|b| b.mapv(|x| x * 2.0)).unwrap();
    let t = engine.telemetry();
    assert_eq!(t.history.len(), 1);
    let id = t.history[0].id;
    let measured = engine.get_profile(id).unwrap();
    assert_eq!((measured.runs, measured.stats.total_chunks), (1, 8));

    let e = ChunkedArray::with_chunks_and_engine(empty.view(), &[8, 64], &engine)
        .unwrap()
        .key("filtered")
        .auto_rechunk(true);
    e.map_blocks(|b| b.mapv(|x| x * 2.0)).unwrap();
    e.map_blocks(|b| b.mapv(|x| x * 2.0)).unwrap(); // the second run finds no applied chunks
    assert_eq!(engine.telemetry().history.len(), 1);
    assert_eq!(engine.get_profile(id).unwrap(), measured);

    // Profiling an empty array explicitly (after a run) tracks it, counts no run and stays
    // finite.
    let x = ChunkedArray::with_chunks_and_engine(empty.view(), &[8, 64], &engine)
        .unwrap()
        .key("explicit");
    x.map_blocks(|b| b.to_owned()).unwrap();
    let xid = engine.profile_array(&x).unwrap();
    assert_ne!(xid, id);
    let p = engine.get_profile(xid).unwrap();
    assert_eq!((p.runs, p.stats.total_chunks), (0, 0));
    assert!(p.recommended_chunks.iter().all(|&c| c >= 1));
    assert!(p.stats.avg_chunk_mb.is_finite() && p.stats.amplification.is_finite());
    assert_finite_text(&p.to_string());
    assert_finite_text(&engine.telemetry().to_string());
    // serde_json writes NaN as null; only `applied_chunks` (None here) may be null.
    let mut json = serde_json::to_value(&p).unwrap();
    json.as_object_mut().unwrap().remove("applied_chunks");
    assert!(!json.to_string().contains("null"), "{json}");
    assert_eq!(engine.telemetry().history.len(), 1);
}

#[test]
fn the_recommender_gives_an_empty_shape_chunks_of_at_least_one_with_reasons() {
    for shape in SHAPES {
        let r = ChunkSizeRecommender::new()
            .workers(2)
            .budget_bytes(64 << 20)
            .recommend(shape, 8, None)
            .unwrap();
        assert_eq!(r.chunks.len(), shape.len());
        assert!(r.chunks.iter().all(|&c| c >= 1), "{r}");
        for (&c, &s) in r.chunks.iter().zip(shape) {
            if s == 0 {
                assert_eq!(c, 1, "{r}");
            } else {
                assert!(c <= s, "{r}");
            }
        }
        assert_eq!(r.n_chunks, 0);
        assert!(r.projected_peak <= r.per_chunk_budget);
        let text = r.to_string();
        assert!(
            text.contains("no elements") && text.contains("0 chunks"),
            "{text}"
        );
        assert_finite_text(&text);
    }
    // With the machine's budget too.
    let r = ChunkSizeRecommender::new()
        .recommend(&[0, 1000, 1000], 8, None)
        .unwrap();
    assert_eq!((r.chunks[0], r.n_chunks), (1, 0));
}

#[test]
fn an_empty_array_of_huge_non_zero_axes_is_refused_only_when_a_slice_overflows() {
    assert!(ChunkGrid::new(&[usize::MAX, 0], &[1, 1]).is_ok());
    let e = ChunkGrid::new(&[usize::MAX, 2, 0], &[1, 1, 1]).unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { ref reason, .. } if reason.contains("more than")),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over shapes with and without zero-length axes: the grid's chunks are at least 1, its
    /// blocks cover the array exactly, it is empty exactly when an axis is, and `map_blocks`
    /// calls `f` once per block and returns the input's shape.
    #[test]
    fn grids_and_map_blocks_cover_every_shape(
        shape in proptest::collection::vec(prop_oneof![1 => Just(0usize), 3 => 1usize..9], 1..=3),
        chunk_seed in proptest::collection::vec(1usize..12, 3),
    ) {
        let chunks = &chunk_seed[..shape.len()];
        let g = ChunkGrid::new(&shape, chunks).unwrap();
        prop_assert!(g.chunks().iter().all(|&c| c >= 1));
        prop_assert_eq!(g.is_empty(), shape.contains(&0));
        prop_assert_eq!(g.len(), g.counts().iter().product::<usize>());
        let covered: usize = (0..g.len())
            .map(|i| {
                let b = g.block_shape(i);
                assert!(b.iter().all(|&x| x >= 1), "{b:?}");
                b.iter().product::<usize>()
            })
            .sum();
        prop_assert_eq!(covered, shape.iter().product::<usize>());

        let a = ArrayD::<f64>::from_shape_fn(IxDyn(&shape), |i| i.slice().iter().sum::<usize>() as f64);
        let c = ChunkedArray::with_chunks(a.view(), chunks).unwrap().workers(2);
        let calls = AtomicUsize::new(0);
        let out = c.map_blocks(|b| {
            calls.fetch_add(1, Ordering::Relaxed);
            b.mapv(|x| x * 2.0)
        }).unwrap();
        prop_assert_eq!(out, a.mapv(|x| x * 2.0));
        prop_assert_eq!(calls.load(Ordering::Relaxed), g.len());
        let reduced = c.reduce_blocks(|b| b.sum(), |x, y| x + y);
        prop_assert_eq!(reduced.is_err(), g.is_empty());
    }
}
