#!/bin/sh
# int8_test.sh RUNNER WORK FLOOR_DB [THREADS]: an int8 model end to end
# (docs/int8.md); THREADS (default 2) the most it runs on (the portable
# backend: 1).
# With random float weights (--random-weights 1) it calibrates on
# examples/images/chelsea.png (percentile), then on the held-out rocket.jpg:
#  - every output's SQNR against the float32 model is at least FLOOR_DB;
#  - the int8 outputs are bit-identical at 1 and THREADS threads, and run to run;
#  - calibrating twice writes byte-identical checkpoints.
set -eu
run=$1 work=$2 floor=$3 threads=${4:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
mkdir -p "$work/cal"
cp "$root/examples/images/chelsea.png" "$work/cal/"
"$run" --random-weights 1 --save-weights "$work/f32.safetensors"
for i in 1 2; do
  "$run" --weights "$work/f32.safetensors" --calibrate "$work/cal" --calibration percentile \
    --save-weights "$work/int8_$i.safetensors" --threads "$threads"
done
cmp "$work/int8_1.safetensors" "$work/int8_2.safetensors"
int8="$work/int8_1.safetensors"
# a batch of the held-out image (a batch of 2 takes it twice)
images=""
batch=$("$run" --info | lua5.4 -e 'print(require("cjson").decode(io.read("a")).input[1])')
for _ in $(seq "$batch"); do images="$images --image $root/examples/images/rocket.jpg"; done
# shellcheck disable=SC2086
"$run" --weights "$int8" --compare-f32 "$work/f32.safetensors" $images | tee "$work/report.txt"
lua5.4 - "$work/report.txt" "$floor" <<'LUA'
local report, floor = arg[1], tonumber(arg[2])
local n, bad = 0, 0
for line in io.lines(report) do
  local sqnr = line:match("SQNR (%-?[%d.inf]+) dB")
  if sqnr then
    n = n + 1
    if not (tonumber(sqnr) or math.huge) or (tonumber(sqnr) or math.huge) < floor then
      print(string.format("below the %.1f dB floor: %s", floor, line))
      bad = bad + 1
    end
  end
end
if n == 0 then print("no SQNR in the report"); os.exit(1) end
os.exit(bad == 0 and 0 or 1)
LUA
for t in 1 "$threads"; do
  # shellcheck disable=SC2086
  "$run" --weights "$int8" $images --outdir "$work/out_t$t" --threads "$t"
done
# shellcheck disable=SC2086
"$run" --weights "$int8" $images --outdir "$work/out_again" --threads "$threads"
for f in "$work"/out_t1/*.npy; do
  cmp "$f" "$work/out_t$threads/$(basename "$f")"
  cmp "$f" "$work/out_again/$(basename "$f")"
done
echo "int8: outputs bit-identical at 1 and $threads threads and run to run"
