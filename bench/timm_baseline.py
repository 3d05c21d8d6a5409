#!/usr/bin/env python3
"""timm eager baseline for bench/bench.sh: SPEC.json THREADS RUNS.
Builds the model a timmc spec describes with timm.create_model and times its
forward on a random input. Prints `median_ms: X`, or `unavailable: why` when
torch or timm cannot be imported."""
import json
import sys
import time

try:
    import torch
    import timm
except Exception as e:  # the benchmark says so and goes on without the baseline
    print("unavailable: %s" % e)
    sys.exit(0)

spec = json.load(open(sys.argv[1]))
threads, runs = int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
kwargs = {k: spec[k] for k in ("features_only", "output_stride", "num_classes", "global_pool")
          if k in spec}
if "out_indices" in spec:
    kwargs["out_indices"] = tuple(spec["out_indices"])
model = timm.create_model(spec["architecture"], **kwargs).eval()
c, h, w = spec.get("input_size", model.pretrained_cfg["input_size"])
x = torch.randn(spec.get("batch_size", 1), c, h, w)
times = []
with torch.no_grad():
    model(x)
    for _ in range(runs):
        t0 = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - t0) * 1e3)
times.sort()
print("median_ms: %.3f" % times[len(times) // 2])
