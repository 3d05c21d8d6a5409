#!/bin/sh
# demo.sh: installs what is missing, builds timmc's example
# (models/specs/ecaresnet101d_os8.json, i.e. timm.create_model('ecaresnet101d',
# features_only=True, out_indices=(2, 4), output_stride=8) at batch 2, 320x320),
# runs it once on two photographs (examples/images, through timm's eval
# transform) with random weights, prints its output shapes and feature_info,
# and writes a picture of each feature level into build/demo/pictures.
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh
spec=${1:-models/specs/ecaresnet101d_os8.json}
out=build/demo
generator/timmc build "$spec" -o "$out"
name=$(lua5.4 tools/spec.lua get "$spec" name)
lua5.4 tools/demo.lua "$out/$name" "$spec" "$out/pictures" examples/images/chelsea.png \
  examples/images/rocket.jpg
