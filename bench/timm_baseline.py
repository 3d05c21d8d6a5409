#!/usr/bin/env python3
"""timm baselines for bench/bench.sh: SPEC.json THREADS RUNS MODE.
Builds the model a timmc spec describes with timm.create_model and times its
forward on a random input, as a PyTorch user would run it:
  eager     the model as timm.create_model returns it, in eval mode;
  deployed  as deployed on CPU: channels_last, torch.jit.trace, torch.jit.freeze
            and torch.jit.optimize_for_inference (conv + BatchNorm + activation
            fused into oneDNN primitives).
Prints `median_ms: X`, or `unavailable: why` when torch or timm cannot be
imported or the model cannot be traced."""
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
threads, runs, mode = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(threads)
kwargs = {k: spec[k] for k in ("features_only", "output_stride", "num_classes", "global_pool",
                               "act_layer") if k in spec}
if "out_indices" in spec:
    kwargs["out_indices"] = tuple(spec["out_indices"])
model = timm.create_model(spec["architecture"], **kwargs).eval()
c, h, w = spec.get("input_size", model.pretrained_cfg["input_size"])
x = torch.randn(spec.get("batch_size", 1), c, h, w)
with torch.no_grad():
    if mode == "deployed":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        try:
            model = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
        except Exception as e:
            print("unavailable: %s" % str(e).splitlines()[0])
            sys.exit(0)
    elif mode != "eager":
        sys.exit("timm_baseline.py: mode %s, expected eager or deployed" % mode)
    times = []
    for _ in range(3):  # the warm-up: tracing's profiling runs and oneDNN's kernel choice
        model(x)
    for _ in range(runs):
        t0 = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - t0) * 1e3)
times.sort()
print("median_ms: %.3f" % times[len(times) // 2])
