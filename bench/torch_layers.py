#!/usr/bin/env python3
"""Deployed PyTorch's convolutions by class of layer, beside bench/profile.sh's
table of timmc's: SPEC.json THREADS RUNS.
torch.profiler cannot see inside an optimize_for_inference graph (its oneDNN
convolutions are prim ops, not recorded), so each nn.Conv2d of the timm model is
deployed alone, with its BatchNorm folded in as the traced model folds it: a
Conv2d of the same shape, groups, stride, padding and dilation on an input of the
shape it sees in the model, channels_last, traced, frozen, optimized, and timed
(median of RUNS). Its time goes to its class as bench/layers.lua names them
(pointwise 1x1, depthwise kxk, dense kxk, grouped, strided, first conv). Prints
`class ms layers GFLOP/s` and the sum; the rest of the model (pools, adds,
activations not fused) is the whole model's time minus that sum, not shown."""
import json
import sys
import time

import torch
import timm

spec = json.load(open(sys.argv[1]))
threads, runs = int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
kwargs = {k: spec[k] for k in ("features_only", "output_stride", "num_classes", "global_pool",
                               "act_layer") if k in spec}
if "out_indices" in spec:
    kwargs["out_indices"] = tuple(spec["out_indices"])
model = timm.create_model(spec["architecture"], **kwargs).eval()
c, h, w = spec.get("input_size", model.pretrained_cfg["input_size"])
x = torch.randn(spec.get("batch_size", 1), c, h, w)
seen = []


def hook(mod, inp, out):
    seen.append((mod, tuple(inp[0].shape), tuple(out.shape)))


for m in model.modules():
    if isinstance(m, torch.nn.Conv2d):
        m.register_forward_hook(hook)
with torch.no_grad():
    model(x)


def klass(m, shape):
    kh, kw = m.kernel_size
    cin = shape[1]
    if cin <= 4:
        tag = "first conv"
    elif m.groups == cin and m.groups > 1:
        tag = "depthwise %dx%d" % (kh, kw)
    elif kh == 1 and kw == 1:
        tag = "pointwise 1x1"
    elif m.groups > 1:
        tag = "grouped %dx%d" % (kh, kw)
    else:
        tag = "dense %dx%d" % (kh, kw)
    if m.stride[0] > 1:
        tag += " s%d" % m.stride[0]
    return tag


ms, count, flops = {}, {}, {}
with torch.no_grad():
    for m, shape, oshape in seen:
        conv = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                               m.dilation, m.groups, bias=True, padding_mode=m.padding_mode)
        conv = conv.eval().to(memory_format=torch.channels_last)
        xi = torch.randn(shape).contiguous(memory_format=torch.channels_last)
        d = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(
            torch.nn.Sequential(conv, torch.nn.ReLU()).eval(), xi)))
        for _ in range(3):
            d(xi)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            d(xi)
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        tag = klass(m, shape)
        ms[tag] = ms.get(tag, 0.0) + times[len(times) // 2]
        count[tag] = count.get(tag, 0) + 1
        kh, kw = m.kernel_size
        flops[tag] = flops.get(tag, 0.0) + 2.0 * oshape[0] * oshape[2] * oshape[3] * \
            m.out_channels * (m.in_channels // m.groups) * kh * kw
total = sum(ms.values())
print("%-32s %9s %6s %9s" % ("class (deployed PyTorch, alone)", "ms", "layers", "GFLOP/s"))
for tag in sorted(ms, key=lambda k: -ms[k]):
    print("%-32s %9.3f %6d %9.1f" % (tag, ms[tag], count[tag], flops[tag] / (ms[tag] * 1e6)))
print("%-32s %9.3f %6d %9.1f" % ("all convolutions", total, sum(count.values()),
                                   sum(flops.values()) / (total * 1e6)))
