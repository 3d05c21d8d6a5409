#!/usr/bin/env python3
"""Golden fixtures for timmc, computed by timm itself.

For every case in tests/golden/cases.txt (NAME ENTRY SEED [IMAGE,...]) this script
  1. builds the runner for specs/NAME.json with generator/timmc and has it write
     its --random-weights SEED as a timm-named safetensors file,
  2. loads that file into timm's model (strict, so the key set is exactly timm's),
  3. runs the entry point on a fixed random input in float64 (the reference) and
     in float32 (to record timm's own float32 error),
  4. stores data/NAME.in.npy (float32 input), data/NAME.out<i>.npy (float64
     reference) and data/NAME.json ({"timm_f32_error": [...]} per output).

Rerun from the project root with Debian's PyTorch and a checkout of timm
(huggingface/pytorch-image-models):
    PYTHONPATH=/path/to/pytorch-image-models /usr/bin/python3 tests/golden/make_fixtures.py [NAME ...]
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import timm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "golden")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        arr = np.frombuffer(body[b:e], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def timm_model(spec, state_dict):
    kw = dict(num_classes=spec.get("num_classes", 1000),
              global_pool=spec.get("global_pool", "avg"),
              in_chans=spec.get("input_size", [3])[0])
    if "output_stride" in spec:  # some constructors (densenet) take no output_stride
        kw["output_stride"] = spec["output_stride"]
    if "act_layer" in spec:
        kw["act_layer"] = spec["act_layer"]
    # the weights do not depend on output_stride, and some classes take it only
    # as a feature extractor (MobileNetV3): the full model is made without it
    full_kw = dict(kw)
    if spec.get("features_only"):
        full_kw.pop("output_stride", None)
    full = timm.create_model(spec["architecture"], **full_kw)
    full.load_state_dict(state_dict, strict=True)
    if not spec.get("features_only"):
        return full
    kw.pop("num_classes")
    kw.pop("global_pool")
    feats = timm.create_model(spec["architecture"], features_only=True,
                              out_indices=tuple(spec.get("out_indices", range(5))), **kw)
    # The same weights: the features net holds the full model's modules, the
    # top-level ones renamed where timm flattens them ('features.denseblock1' ->
    # 'features_denseblock1', 'stem.0' -> 'stem_0').
    full_sd = full.state_dict()
    renamed = {}
    for k in feats.state_dict():
        if k in full_sd:
            renamed[k] = full_sd[k]
            continue
        head, _, rest = k.partition(".")
        flat = head.replace("_", ".") + ("." + rest if rest else "")
        assert flat in full_sd, "no weight for %s in the full model" % k
        renamed[k] = full_sd[flat]
    feats.load_state_dict(renamed, strict=True)
    return feats


def run_entry(model, entry, x):
    with torch.no_grad():
        if entry == "forward_features":
            out = model.forward_features(x)
        elif entry == "forward_head_pre_logits":
            out = model.forward_head(model.forward_features(x), pre_logits=True)
        else:
            out = model(x)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def image_input(spec, model, images):
    """timm's eval transform of each image (PIL, torchvision), at the spec's input size."""
    from PIL import Image
    import timm.data
    cfg = timm.data.resolve_data_config({"input_size": tuple(spec["input_size"])}, model=model)
    transform = timm.data.create_transform(**cfg)
    items = [transform(Image.open(os.path.join(ROOT, p)).convert("RGB")) for p in images]
    return torch.stack(items).numpy().astype(np.float32)


def make(name, entry, seed, workdir, images=None):
    spec_path = os.path.join(HERE, "specs", name + ".json")
    spec = json.load(open(spec_path))
    subprocess.run([os.path.join(ROOT, "generator", "timmc"), "build", spec_path, "-o", workdir],
                   check=True)
    weights = os.path.join(workdir, name + ".safetensors")
    subprocess.run([os.path.join(workdir, spec["name"]), "--random-weights", str(seed),
                    "--save-weights", weights], check=True)
    model = timm_model(spec, read_safetensors(weights)).eval()

    c, h, w = spec.get("input_size", [3, 224, 224])
    if images:  # the input is timm's eval transform of these images
        x = image_input(spec, model, images)
    else:
        rng = np.random.default_rng(1000 + seed)
        x = rng.standard_normal((spec.get("batch_size", 1), c, h, w)).astype(np.float32)
    np.save(os.path.join(HERE, "data", name + ".in.npy"), x)

    ref64 = run_entry(model.double(), entry, torch.from_numpy(x).double())
    ref32 = run_entry(model.float(), entry, torch.from_numpy(x))
    errors = []
    for i, (r64, r32) in enumerate(zip(ref64, ref32)):
        r64 = r64.numpy()
        err = float(np.abs(r32.numpy().astype(np.float64) - r64).max() / np.abs(r64).max())
        errors.append(err)
        np.save(os.path.join(HERE, "data", "%s.out%d.npy" % (name, i)), r64)
        print("%s out%d %s timm_f32_error %.3g" % (name, i, list(r64.shape), err))
    with open(os.path.join(HERE, "data", name + ".json"), "w") as f:
        json.dump({"entry": entry, "seed": seed, "timm_f32_error": errors}, f, indent=1)
        f.write("\n")


def main():
    wanted = set(sys.argv[1:])
    cases = []
    for line in open(os.path.join(HERE, "cases.txt")):
        if line.strip() and not line.startswith("#"):
            name, entry, seed, *images = line.split()
            if not wanted or name in wanted:
                cases.append((name, entry, int(seed), images[0].split(",") if images else None))
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        for name, entry, seed, images in cases:
            make(name, entry, seed, tmp, images)


if __name__ == "__main__":
    main()
