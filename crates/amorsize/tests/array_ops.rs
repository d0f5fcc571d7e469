//! Blockwise execution against plain ndarray computations, and the errors (no allocator installed:
//! memory is measured from RSS here).

use amorsize::array::{ChunkGrid, ChunkedArray, ChunkedArrayMut, MemorySource};
use amorsize::Error;
use ndarray::{Array, Array1, Array2, Array3, Array4, ArrayD, Axis, IxDyn};

fn ramp<D: ndarray::Dimension>(shape: D) -> Array<f64, D> {
    let mut i = 0.0;
    Array::from_shape_simple_fn(shape, || {
        i += 1.0;
        (i * 0.37f64).sin()
    })
}

#[test]
fn map_blocks_matches_ndarray_on_several_ranks() {
    let a1 = ramp(ndarray::Ix1(97));
    let c = ChunkedArray::with_chunks(a1.view(), &[10]).unwrap();
    assert_eq!(
        c.map_blocks(|b| b.mapv(|x| x * 3.0 - 1.0)).unwrap(),
        a1.mapv(|x| x * 3.0 - 1.0)
    );

    let a2: Array2<f64> = ramp(ndarray::Ix2(23, 17));
    for chunks in [[1, 1], [5, 4], [23, 17], [100, 3], [7, 17]] {
        let c = ChunkedArray::with_chunks(a2.view(), &chunks).unwrap();
        assert_eq!(
            c.map_blocks(|b| b.mapv(f64::exp)).unwrap(),
            a2.mapv(f64::exp),
            "{chunks:?}"
        );
    }

    let a3: Array3<f64> = ramp(ndarray::Ix3(6, 7, 8));
    let c = ChunkedArray::with_chunks(a3.view(), &[4, 3, 5]).unwrap();
    assert_eq!(
        c.map_blocks(|b| b.mapv(|x| x.abs())).unwrap(),
        a3.mapv(|x| x.abs())
    );

    let a4: Array4<f64> = ramp(ndarray::Ix4(3, 4, 5, 6));
    let c = ChunkedArray::with_chunks(a4.view(), &[2, 3, 2, 4]).unwrap();
    assert_eq!(
        c.map_blocks(|b| b.mapv(|x| x + 1.0)).unwrap(),
        a4.mapv(|x| x + 1.0)
    );

    let ad: ArrayD<f64> = ramp(IxDyn(&[5, 9]));
    let c = ChunkedArray::with_chunks(ad.view(), &[2, 4]).unwrap();
    assert_eq!(
        c.map_blocks(|b| b.mapv(|x| x * x)).unwrap(),
        ad.mapv(|x| x * x)
    );
}

#[test]
fn map_blocks_indexed_passes_each_blocks_own_ranges() {
    // a·b + c over three arrays, the others sliced by the ranges of each block of `a`.
    let a: Array3<f64> = ramp(ndarray::Ix3(9, 7, 11));
    let b: Array3<f64> = ramp(ndarray::Ix3(9, 7, 11)).mapv(|x| x + 2.0);
    let c: Array3<f64> = ramp(ndarray::Ix3(9, 7, 11)).mapv(|x| x * x);
    for chunks in [[1, 1, 1], [4, 3, 5], [9, 7, 11], [2, 7, 3]] {
        let ca = ChunkedArray::with_chunks(a.view(), &chunks).unwrap();
        let out = ca
            .map_blocks_indexed(|r, blk| {
                let region = ndarray::s![r[0].clone(), r[1].clone(), r[2].clone()];
                assert_eq!(blk.shape(), b.slice(region).shape());
                &blk * &b.slice(region) + c.slice(region)
            })
            .unwrap();
        assert_eq!(out, &a * &b + &c, "chunks {chunks:?}");
    }
    // Every element learns the start of its own block on each axis.
    let ca = ChunkedArray::with_chunks(a.view(), &[4, 3, 5]).unwrap();
    let starts = ca
        .map_blocks_indexed(|r, blk| blk.mapv(|_| (r[0].start, r[1].start, r[2].start)))
        .unwrap();
    for ((i, j, k), s) in starts.indexed_iter() {
        assert_eq!(*s, (i / 4 * 4, j / 3 * 3, k / 5 * 5));
    }
}

#[test]
fn map_blocks_may_change_the_element_type() {
    let a = Array2::from_shape_fn((9, 11), |(i, j)| (i * 11 + j) as u32);
    let c = ChunkedArray::with_chunks(a.view(), &[4, 4]).unwrap();
    let s = c.map_blocks(|b| b.mapv(|x| x.to_string())).unwrap();
    assert_eq!(s[[8, 10]], "98");
    assert_eq!(s, a.mapv(|x| x.to_string()));
}

#[test]
fn map_blocks_on_a_non_contiguous_view() {
    let a: Array2<f64> = ramp(ndarray::Ix2(20, 30));
    let v = a.slice(ndarray::s![1..19;2, ..;-3]);
    let c = ChunkedArray::with_chunks(v, &[4, 3]).unwrap();
    assert_eq!(
        c.map_blocks(|b| b.mapv(|x| x * 2.0)).unwrap(),
        v.mapv(|x| x * 2.0)
    );
    let t = a.t();
    let c = ChunkedArray::with_chunks(t, &[7, 6]).unwrap();
    assert_eq!(c.map_blocks(|b| b.to_owned()).unwrap(), t.to_owned());
}

#[test]
fn reduce_blocks_matches_ndarray() {
    let a: Array3<f64> = ramp(ndarray::Ix3(8, 9, 10));
    let c = ChunkedArray::with_chunks(a.view(), &[3, 4, 10]).unwrap();
    let total = c.reduce_blocks(|b| b.sum(), |x, y| x + y).unwrap();
    assert!((total - a.sum()).abs() < 1e-9);
    let max = c
        .reduce_blocks(|b| b.fold(f64::MIN, |m, &x| m.max(x)), f64::max)
        .unwrap();
    assert_eq!(max, a.fold(f64::MIN, |m, &x| m.max(x)));
    // A reduction along one axis: blocks spanning the whole axis 2, combined by stacking rows.
    let c = ChunkedArray::with_chunks(a.view(), &[8, 9, 3]).unwrap();
    let per_block = c
        .reduce_blocks(
            |b| vec![b.sum_axis(Axis(0))],
            |mut x, mut y| {
                x.append(&mut y);
                x
            },
        )
        .unwrap();
    assert_eq!(per_block.len(), 4);
    let joined = ndarray::concatenate(
        Axis(1),
        &per_block.iter().map(|p| p.view()).collect::<Vec<_>>(),
    )
    .unwrap();
    let expect = a.sum_axis(Axis(0));
    assert!(joined
        .iter()
        .zip(expect.iter())
        .all(|(x, y)| (x - y).abs() < 1e-9));
}

#[test]
fn map_blocks_mut_updates_in_place() {
    let mut a: Array3<f64> = ramp(ndarray::Ix3(5, 6, 7));
    let expect = a.mapv(|x| x * 2.0 + 1.0);
    let mut c = ChunkedArrayMut::with_chunks(a.view_mut(), &[2, 5, 3]).unwrap();
    c.map_blocks_mut(|mut b| b.mapv_inplace(|x| x * 2.0 + 1.0))
        .unwrap();
    assert_eq!(c.profile().metrics.len(), 3 * 2 * 3);
    drop(c);
    assert_eq!(a, expect);
}

#[test]
fn shape_errors_are_invalid_input() {
    let a = Array2::<f64>::zeros((10, 10));
    for chunks in [&[5][..], &[5, 5, 5], &[0, 5], &[5, 0]] {
        assert!(
            matches!(
                ChunkedArray::with_chunks(a.view(), chunks),
                Err(Error::InvalidInput { .. })
            ),
            "{chunks:?}"
        );
    }
    // A zero-length axis is not a shape error (an empty array: see tests/array_empty.rs), but
    // a zero chunk length still is.
    let empty = Array2::<f64>::zeros((0, 10));
    assert!(ChunkedArray::with_chunks(empty.view(), &[1, 1]).is_ok());
    assert!(matches!(
        ChunkedArray::with_chunks(empty.view(), &[0, 1]),
        Err(Error::InvalidInput { .. })
    ));
    assert!(ChunkedArray::auto(empty.view()).is_ok());
    let mut e2 = Array1::<f64>::zeros(0);
    assert!(ChunkedArrayMut::auto(e2.view_mut()).is_ok());
}

#[test]
fn a_block_of_the_wrong_shape_is_an_error() {
    let a = Array2::<f64>::ones((10, 10));
    let c = ChunkedArray::with_chunks(a.view(), &[5, 5]).unwrap();
    let e = c
        .map_blocks(|b| b.slice(ndarray::s![..1, ..]).to_owned())
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { ref what, .. } if what == "block result"),
        "{e}"
    );
}

#[test]
fn a_panicking_block_is_task_panicked_with_its_index() {
    let a = Array1::from_iter(0..100u32);
    let c = ChunkedArray::with_chunks(a.view(), &[10]).unwrap();
    let e = c
        .map_blocks(|b| {
            if b[0] == 70 {
                panic!("bad block")
            }
            b.to_owned()
        })
        .unwrap_err();
    match e {
        Error::TaskPanicked { index, message } => {
            assert_eq!(index, 7);
            assert!(message.contains("bad block"));
        }
        other => panic!("{other:?}"),
    }
    let e = c.reduce_blocks(
        |b| if b[0] == 30 { panic!("r") } else { b.sum() },
        |x, y| x + y,
    );
    assert!(matches!(e, Err(Error::TaskPanicked { index: 3, .. })));
    // The array still works afterwards.
    assert_eq!(c.map_blocks(|b| b.to_owned()).unwrap(), a);
}

#[test]
fn in_place_failure_leaves_finished_blocks_done_and_unstarted_blocks_untouched() {
    let mut a2 = Array1::<i64>::zeros(40);
    let mut c = ChunkedArrayMut::with_chunks(a2.view_mut(), &[10])
        .unwrap()
        .workers(1);
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let e = c.map_blocks_mut(|mut b| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        b[0] = 1;
        if n == 1 {
            panic!("second block fails after writing its first element");
        }
        b.fill(1);
    });
    assert!(matches!(e, Err(Error::TaskPanicked { .. })));
    drop(c);
    // Every block is fully done, partly written (the failing one), or untouched.
    let mut partial = 0;
    for blk in a2.exact_chunks(10) {
        let ones = blk.iter().filter(|&&x| x == 1).count();
        assert!(ones == 0 || ones == 10 || ones == 1, "{blk}");
        if ones == 1 {
            partial += 1;
        }
    }
    assert_eq!(partial, 1);
}

#[test]
fn profile_reports_every_chunk() {
    let a: Array2<f64> = ramp(ndarray::Ix2(40, 50));
    let c = ChunkedArray::with_chunks(a.view(), &[16, 20])
        .unwrap()
        .budget_bytes(1 << 20);
    c.map_blocks(|b| b.mapv(|x| x + 1.0)).unwrap();
    let r = c.profile();
    assert_eq!(r.metrics.len(), 9);
    let indices: Vec<usize> = r.metrics.iter().map(|m| m.index).collect();
    assert_eq!(indices, (0..9).collect::<Vec<_>>());
    let elements: usize = r.metrics.iter().map(|m| m.elements).sum();
    assert_eq!(elements, 2000);
    assert!(r
        .metrics
        .iter()
        .all(|m| m.element_size == 8 && m.estimated_bytes == m.elements as u64 * 8));
    assert_eq!(r.metrics[8].shape, vec![8, 10]);
    assert_eq!(r.memory_source, MemorySource::Rss);
    assert!(r.metrics.iter().all(|m| m.peak_bytes.is_none()));
    let run = r.last_run.clone().unwrap();
    assert_eq!((run.chunks, run.budget_bytes), (9, 1 << 20));
    assert!(run.projected_peak <= run.budget_bytes);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["memory_source"], "rss");
    assert!(r.to_string().contains("recommended chunks"));
    let better = c.rechunk(&r.recommended_chunks).unwrap();
    assert_eq!(
        better.map_blocks(|b| b.mapv(|x| x + 1.0)).unwrap(),
        a.mapv(|x| x + 1.0)
    );
}

#[test]
fn grid_blocks_cover_the_array_exactly_once() {
    let g = ChunkGrid::new(&[7, 5, 3], &[3, 2, 3]).unwrap();
    let mut seen = Array3::<u8>::zeros((7, 5, 3));
    for i in 0..g.len() {
        let r = g.block_ranges(i);
        seen.slice_mut(ndarray::s![r[0].clone(), r[1].clone(), r[2].clone()])
            .mapv_inplace(|x| x + 1);
    }
    assert!(seen.iter().all(|&x| x == 1));
}

#[test]
fn auto_gives_a_valid_grid() {
    let a = Array3::<f32>::zeros((30, 40, 50));
    let c = ChunkedArray::auto(a.view()).unwrap();
    let g = c.grid();
    assert_eq!(g.chunks().len(), 3);
    assert!(g
        .chunks()
        .iter()
        .zip(a.shape())
        .all(|(&c, &s)| c >= 1 && c <= s));
}
