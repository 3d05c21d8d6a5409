#!/bin/sh
# embed_test.sh TIMMC GOLDEN_CHECK DATA WORK NAME SEED: builds tests/golden's
# NAME with its weights embedded (spec key embed_weights), runs it without
# --weights and checks it against timm's reference like the golden test does.
set -eu
timmc=$1 check=$2 data=$3 work=$4 name=$5 seed=$6
spec_dir=$(dirname "$0")/golden/specs
rm -rf "$work"
mkdir -p "$work"
"$timmc" build "$spec_dir/$name.json" -o "$work/plain"
"$work/plain/$name" --random-weights "$seed" --save-weights "$work/weights.safetensors"
lua5.4 "$(dirname "$0")/../tools/spec.lua" set "$spec_dir/$name.json" \
  embed_weights=weights.safetensors > "$work/spec.json"
"$timmc" build "$work/spec.json" -o "$work/embedded"
"$work/embedded/$name" --input "$data/$name.in.npy" --outdir "$work/out"
err=$(lua5.4 -e 'print(string.format("%.17g",
  require("cjson").decode(io.read("a")).timm_f32_error[1]))' < "$data/$name.json")
"$check" "$work/out/out0.npy" "$data/$name.out0.npy" "$err"
