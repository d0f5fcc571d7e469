//! The cost model: predicted wall time for `workers × chunk_size`. Pure arithmetic, no timing.
