#!/usr/bin/env python3
"""timm eager baseline for bench/bench.sh: ARCH BATCH C H W THREADS RUNS.
Prints `median_ms: X`, or `unavailable: why` when torch or timm cannot be imported."""
import sys
import time

try:
    import torch
    import timm
except Exception as e:  # the benchmark says so and goes on without the baseline
    print("unavailable: %s" % e)
    sys.exit(0)

arch, n, c, h, w, threads, runs = sys.argv[1], *map(int, sys.argv[2:8])
torch.set_num_threads(threads)
model = timm.create_model(arch).eval()
x = torch.randn(n, c, h, w)
times = []
with torch.no_grad():
    model(x)
    for _ in range(runs):
        t0 = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - t0) * 1e3)
times.sort()
print("median_ms: %.3f" % times[len(times) // 2])
