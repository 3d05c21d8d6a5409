#!/bin/sh
# quality.sh [-b timm|random] [-m "minmax percentile mse"] [SPEC.json...]
# int8 against float32 on natural images (docs/int8.md), for each int8 spec
# (default: bench/int8/specs/: resnet50 and mobilenetv3_large_100
# features_only, efficientnet_b0 with its classifier). Float weights: timm's
# own initialisation with every BatchNorm's running statistics randomized
# (bench/int8/weights.py; -b random randomizes the BatchNorm affines too).
# Calibration: six photographs Debian's python3-skimage ships
# (skimage/data); the report: four others it did not see, each through
# the model's eval transform, for every calibration method. Per output: the
# worst and the mean SQNR over those images, the worst cosine; for a
# classifier, top-1 agreement. Needs timm on PYTHONPATH (a checkout of
# pytorch-image-models) and Debian's python3-torch and python3-skimage.
# Runners and weights go to $TIMMC_BENCH_OUT/int8 (default build/bench/int8).
set -eu
cd "$(dirname "$0")/../.."
bn=timm methods="minmax percentile mse"
while getopts b:m: opt; do
  case $opt in
    b) bn=$OPTARG ;;
    m) methods=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- bench/int8/specs/*.json
images=/usr/lib/python3/dist-packages/skimage/data
[ -f "$images/chelsea.png" ] ||
  { echo "quality.sh: needs Debian's python3-skimage (its photographs in $images)" >&2; exit 2; }
out=${TIMMC_BENCH_OUT:-build/bench}/int8
mkdir -p "$out/cal"
for f in astronaut.png coffee.png ihc.png motorcycle_left.png hubble_deep_field.jpg retina.jpg; do
  ln -sf "$images/$f" "$out/cal/$f"
done
held_out="chelsea.png rocket.jpg motorcycle_right.png color.png"
echo "int8 vs float32: calibrated on 6 photographs, reported on 4 others ($held_out); weights: timm init, BatchNorm ${bn}"
printf '%-34s %-10s %-12s %9s %9s %9s\n' model method output min_sqnr mean_sqnr min_cos
for spec in "$@"; do
  name=$(lua5.4 tools/spec.lua get "$spec" name)
  arch=$(lua5.4 tools/spec.lua get "$spec" architecture)
  generator/timmc build "$spec" -o "$out" >/dev/null
  f32="$out/$name.$bn.f32.safetensors"
  [ -f "$f32" ] || /usr/bin/python3 bench/int8/weights.py "$arch" 1 "$f32" --bn "$bn"
  for m in $methods; do
    "$out/$name" --weights "$f32" --calibrate "$out/cal" --calibration "$m" \
      --save-weights "$out/$name.$m.safetensors" --threads 2
    for img in $held_out; do
      "$out/$name" --weights "$out/$name.$m.safetensors" --compare-f32 "$f32" --image "$images/$img"
    done > "$out/$name.$m.report"
    # per output: min and mean SQNR, min cosine; top-1 agreement summed
    awk -v model="$name" -v m="$m" '
      /^output/ { k = $2; mod[k] = $3; s = $(NF - 3); c = $NF
                  n[k]++; sum[k] += s; if (!(k in mn) || s < mn[k]) mn[k] = s
                  if (!(k in mc) || c < mc[k]) mc[k] = c }
      /^top-1/ { split($3, a, "/"); agree += a[1]; total += a[2] }
      END { for (k = 0; k in n; k++)
              printf "%-34s %-10s %-12s %9.2f %9.2f %9.6f\n", model, m, substr(mod[k], 2),
                     mn[k], sum[k] / n[k], mc[k]
            if (total) printf "%-34s %-10s top-1 agreement %d/%d\n", model, m, agree, total }
    ' "$out/$name.$m.report"
  done
done
