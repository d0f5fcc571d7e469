//! Audit of the `array` module: each test is a defect found in stop 12; each failed on the code
//! as audited and passes since its fix.

use amorsize::array::{ChunkGrid, ChunkedArray};

/// Runs `f` on its own thread and fails the test if it does not finish within two minutes.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(120))
        .expect("the run timed out or panicked (see the panic above)")
}

/// `amplification(k)` tells the array that its block function peaks at k bytes per input byte.
/// `profile().recommended_chunks` ("the recommended chunks for the next run") ignores it and
/// recommends for k = 1, so rechunking to the recommendation makes every block k times its
/// per-chunk budget: with a 1 MiB budget and k = 4, 1 MiB chunks (4 MiB projected each), all
/// of them "larger than the whole budget". The chunks the array started with fit comfortably.
#[test]
fn recommended_chunks_ignore_the_declared_amplification() {
    bounded(|| {
        let a = ndarray::Array1::<f64>::ones(1 << 20);
        let c = ChunkedArray::with_chunks(a.view(), &[1 << 10])
            .unwrap()
            .workers(1)
            .budget_bytes(1 << 20)
            .amplification(4.0);
        c.map_blocks(|b| b.to_owned()).unwrap();
        let first = c.profile().last_run.unwrap();
        assert_eq!(first.oversized_blocks, 0, "{first}");
        let p = c.profile();
        let next = c.rechunk(&p.recommended_chunks).unwrap();
        next.map_blocks(|b| b.to_owned()).unwrap();
        let r = next.profile().last_run.unwrap();
        assert!(
            r.projected_block_peak <= r.budget_bytes && r.oversized_blocks == 0,
            "recommended chunks {:?} do not fit the budget with the declared k = 4: {r}",
            p.recommended_chunks
        );
    })
}

/// `ChunkGrid::block_ranges(i)` / `block_shape(i)` for an index past the last chunk silently
/// wrap around (the outermost axis is taken modulo its chunk count) and describe another
/// chunk, so an off-by-one caller sees a valid-looking block instead of a panic.
#[test]
fn block_ranges_past_the_last_chunk_do_not_wrap_around() {
    let g = ChunkGrid::new(&[10, 7], &[4, 7]).unwrap();
    assert_eq!(g.len(), 3);
    let past = std::panic::catch_unwind(|| g.block_ranges(3));
    assert!(
        past.is_err(),
        "block_ranges({}) of a {}-chunk grid returned {:?} (the ranges of chunk 0)",
        g.len(),
        g.len(),
        past.unwrap()
    );
}
