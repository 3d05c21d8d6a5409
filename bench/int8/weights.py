"""weights.py ARCH SEED OUT.safetensors [--bn timm|random]

Float weights for the int8 quality benchmark (bench/int8/quality.sh): timm's
own initialisation of ARCH (timm.create_model, pretrained=False, its
init_weights), then every BatchNorm's running statistics randomized
(running_mean ~ U(-0.1, 0.1), running_var ~ U(0.5, 1.5)), as an untrained
checkpoint would never have them. With --bn random the BatchNorm affine is
randomized too (weight ~ U(0.5, 1.5), bias ~ U(-0.1, 0.1)): timm zero-initialises
the last BatchNorm of each residual block, which leaves those branches dead;
random affines keep every layer live, the harder case.
Written as timm names its state_dict, float32, in the safetensors layout.
"""
import json
import struct
import sys

import numpy as np
import torch
import timm


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        a = t.detach().cpu().contiguous().numpy()
        dtype = {np.float32: "F32", np.int64: "I64"}[a.dtype.type]
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    arch, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    bn = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--bn" else "timm"
    torch.manual_seed(seed)
    model = timm.create_model(arch, pretrained=False)
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if bn == "random":
                m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    write_safetensors(out, sd)


if __name__ == "__main__":
    main()
