#!/bin/sh
# build_paths.sh TIMMC RUNNER GOLDEN_CHECK DATA WORK NAME SEED [TIMMC BUILD OPTION...]
# The two documented build paths give the same numbers, and embed_weights
# works, on the build's target. RUNNER is tests/golden's NAME built by CMake
# (timmc_add_model); `TIMMC build` with the options (e.g. --target aarch64)
# builds NAME again with the same random weights (SEED) embedded. Both run on
# DATA/NAME.in.npy: every output must be byte-identical, and out0 must pass
# golden_check against timm. The binary timmc build makes runs under
# $TIMMC_EMULATOR (empty natively); RUNNER and GOLDEN_CHECK come ready to run.
set -eu
timmc=$1 runner=$2 check=$3 data=$4 work=$5 name=$6 seed=$7
shift 7
emulator=${TIMMC_EMULATOR:-}
tests=$(dirname "$0")
rm -rf "$work"
mkdir -p "$work"
"$runner" --random-weights "$seed" --save-weights "$work/weights.safetensors"
"$runner" --threads 2 --weights "$work/weights.safetensors" --input "$data/$name.in.npy" \
  --outdir "$work/cmake"
lua5.4 "$tests/../tools/spec.lua" set "$tests/golden/specs/$name.json" \
  embed_weights=weights.safetensors > "$work/spec.json"
"$timmc" build "$work/spec.json" -o "$work/embedded" "$@"
# shellcheck disable=SC2086
$emulator "$work/embedded/$name" --threads 2 --input "$data/$name.in.npy" --outdir "$work/timmc_build"
n=0
for f in "$work"/cmake/out*.npy; do
  cmp "$f" "$work/timmc_build/$(basename "$f")" ||
    { echo "FAIL: $(basename "$f") differs between CMake's runner and timmc build's"; exit 1; }
  n=$((n + 1))
done
echo "$n outputs byte-identical (CMake, timmc build $*; weights embedded in the latter)"
err=$(lua5.4 -e 'print(string.format("%.17g",
  require("cjson").decode(io.read("a")).timm_f32_error[1]))' < "$data/$name.json")
"$check" "$work/timmc_build/out0.npy" "$data/$name.out0.npy" "$err"
