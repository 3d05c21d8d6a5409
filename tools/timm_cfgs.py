#!/usr/bin/env python3
"""Writes models/pretrained_cfgs.lua and models/timm_names.lua from timm itself.

pretrained_cfgs.lua: for every architecture timmc knows (generator/timmc list),
the data config timm resolves for it (timm.data.resolve_data_config on the
model created with pretrained=False: its default pretrained tag): input_size,
interpolation, mean, std, crop_pct, crop_mode.
timm_names.lua: every name timm.list_models() gives, so that the generator can
tell a timm model it does not support yet from a misspelt one.

Rerun from the project root with Debian's PyTorch and a checkout of timm:
    PYTHONPATH=/path/to/pytorch-image-models /usr/bin/python3 tools/timm_cfgs.py
"""
import os
import subprocess

import timm
import timm.data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lua_str(s):
    return '"%s"' % s


def main():
    names = subprocess.run([os.path.join(ROOT, "generator", "timmc"), "list"], check=True,
                           capture_output=True, text=True).stdout.split()
    lines = ["-- pretrained_cfgs.lua: timm's resolved data config of each architecture timmc",
             "-- knows (its default pretrained tag). Written by tools/timm_cfgs.py; do not edit.",
             "-- luacheck: no max line length",
             "return {"]
    for n in sorted(names):
        m = timm.create_model(n, pretrained=False)
        c = timm.data.resolve_data_config({}, model=m)
        lines.append("  %s = { tag = %s, input_size = { %s }, interpolation = %s, mean = { %s }, "
                     "std = { %s }, crop_pct = %r, crop_mode = %s }," % (
                         n, lua_str(m.pretrained_cfg.get("tag") or ""),
                         ", ".join("%d" % v for v in c["input_size"]), lua_str(c["interpolation"]),
                         ", ".join(repr(float(v)) for v in c["mean"]),
                         ", ".join(repr(float(v)) for v in c["std"]), float(c["crop_pct"]),
                         lua_str(c.get("crop_mode", "center"))))
    lines.append("}")
    with open(os.path.join(ROOT, "models", "pretrained_cfgs.lua"), "w") as f:
        f.write("\n".join(lines) + "\n")
    all_names = sorted(timm.list_models())
    out = ["-- timm_names.lua: every model name of timm %s (timm.list_models()), to tell" % timm.__version__,
           "-- a timm model timmc does not support yet from an unknown name. Written by",
           "-- tools/timm_cfgs.py; do not edit.",
           "return {"]
    out += ['  "%s",' % n for n in all_names]
    out.append("}")
    with open(os.path.join(ROOT, "models", "timm_names.lua"), "w") as f:
        f.write("\n".join(out) + "\n")
    print("%d architectures, %d timm names" % (len(names), len(all_names)))


if __name__ == "__main__":
    main()
