#!/usr/bin/env python3
"""The Dask arm of `amorsize-bench --bin arrays`: the same three workloads with
chunks="auto" on Dask's threaded scheduler. Prints one JSON object per workload.

Peak working memory is measured with tracemalloc (numpy reports its buffers to it):
the highest traced bytes during the compute, minus the input and the output.
Needs Python with dask and numpy; never run in CI.
"""
import argparse
import json
import math
import time
import tracemalloc

import dask
import dask.array as da
import numpy as np


def k6(b):
    t1 = b.copy()
    left = t1.copy()
    right = t1.copy()
    if t1.shape[1] > 1:
        left[:, 1:] = t1[:, :-1]
        right[:, :-1] = t1[:, 1:]
    s1 = left + t1
    s2 = s1 + right
    return s2 / 3.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size-mib", type=int, default=2048)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ops", default="abc")
    p.add_argument("--reps", type=int, default=1)
    a = p.parse_args()
    n = int(math.sqrt(a.size_mib * 2**20 / 8))
    i = np.arange(n, dtype=np.int64)
    x = (((i[:, None] * 31 + i[None, :] * 17) % 1000) / 7.0).astype(np.float64)
    d = da.from_array(x, chunks="auto")
    db = dc = None
    if "a" in a.ops:
        y = (((i[:, None] * 7 + i[None, :] * 13) % 100) / 9.0).astype(np.float64)
        z = (((i[:, None] + i[None, :] * 3) % 10)).astype(np.float64)
        db = da.from_array(y, chunks=d.chunks)
        dc = da.from_array(z, chunks=d.chunks)
    chunks = [c[0] for c in d.chunks]
    nchunks = int(np.prod([len(c) for c in d.chunks]))
    tracemalloc.start()
    for op in a.ops:
        if op == "a":
            # a·b + c over three arrays of the same shape (made outside the traced region).
            expr = d * db + dc
        elif op == "b":
            expr = d.map_blocks(k6, dtype=np.float64)
        elif op == "c":
            expr = d.sum(axis=0)
        else:
            continue
        wall, peak = float("inf"), 0
        for _ in range(max(1, a.reps)):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            t = time.perf_counter()
            out = expr.compute(scheduler="threads", num_workers=a.threads)
            wall = min(wall, time.perf_counter() - t)
            peak = max(peak, tracemalloc.get_traced_memory()[1] - base - out.nbytes)
            del out
        print(json.dumps({"op": op, "wall": wall, "chunks": chunks,
                          "n_chunks": nchunks, "peak_bytes": max(0, int(peak)),
                          "dask": dask.__version__}), flush=True)


if __name__ == "__main__":
    main()
