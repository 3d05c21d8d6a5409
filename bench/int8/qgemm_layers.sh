#!/bin/sh
# qgemm_layers.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json...
# Every int8 convolution timmc's int8 GEMM (runtime/timmc_qgemm.c) can take,
# timed both ways in the model: one int8 runner per spec (its "precision"
# forced to int8), random weights calibrated on examples/images, profiled
# (--bench RUNS --profile) with TIMMC_QGEMM=none (XNNPACK's qc8 operator for
# every layer) and TIMMC_QGEMM=all (timmc's kernel for every layer it applies
# to) in alternating rounds. Per layer: its shape (output pixels, kernel, in
# -> out channels, stride), each way's ms per run (median over rounds), the
# median of the rounds' ratios, the kernel's GOP/s, and what the cost model
# (xnnpack_int8.lua's qgemm_chosen) chose. Then the sums. Needs an
# AVX512-VNNI CPU (elsewhere both ways are XNNPACK). Runners and checkpoints
# go to $TIMMC_BENCH_OUT (default build/qgemm_layers).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_options t:n:r: "$@"
shift "$bench_shift"
[ $# -ge 1 ] || { echo "usage: bench/int8/qgemm_layers.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json..." >&2; exit 2; }
out=${TIMMC_BENCH_OUT:-build/qgemm_layers}
mkdir -p "$out/cal"
cp examples/images/chelsea.png "$out/cal/"
echo "cpu: $(cpu_name) ($(nproc) cores), threads: $threads, $rounds rounds of $runs runs"
printf '%-28s %-26s %9s %9s %7s %7s  %s\n' layer "pixels kxk in->out stride" xnn_ms qgemm_ms \
  ratio GOP/s chosen
: > "$out/all.rows"
for spec in "$@"; do
  name=$(lua5.4 tools/spec.lua get "$spec" name)_q
  lua5.4 tools/spec.lua set "$spec" name="$name" precision=int8 > "$out/$name.json"
  generator/timmc build "$out/$name.json" -o "$out" > /dev/null
  run="$out/$name"
  "$run" --random-weights 1 --save-weights "$out/$name.f32.safetensors" > /dev/null
  "$run" --weights "$out/$name.f32.safetensors" --calibrate "$out/cal" \
    --save-weights "$out/$name.int8.safetensors" > /dev/null
  # module, output pixels, kernel, channels, stride, the cost model's choice
  awk '/^  \/\* [^ ]*: conv / { layer = $2; sub(":", "", layer); split($4, k, "x"); split($5, c, "->")
         s = $6; sub("s", "", s); sub(",", "", s); shape = $(NF - 1); gsub(/[^0-9,]/, "", shape); split(shape, y, ",") }
       /timmc_qgemm_use\(\/\*chosen=\*\// { ch = $0; sub(/.*chosen=\*\//, "", ch); sub(/\).*/, "", ch)
         printf "%s %d %s %s %s %s %s\n", layer, y[1] * y[2] * y[3], k[1], c[1], c[2], s,
                ch == "1" ? "qgemm" : "xnnpack" }' "$run.c" | sort > "$out/$name.layers"
  r=1
  while [ "$r" -le "$rounds" ]; do
    for mode in none all; do
      TIMMC_QGEMM=$mode "$run" --weights "$out/$name.int8.safetensors" --threads "$threads" \
        --bench "$runs" --profile > "$out/$name.$mode.$r.profile"
      per_module "$out/$name.$mode.$r.profile" > "$out/$name.$mode.$r"
    done
    join "$out/$name.none.$r" "$out/$name.all.$r"
    r=$((r + 1))
  done | sort | awk '
    { n[$1]++; x[$1, n[$1]] = $2; g[$1, n[$1]] = $3; q[$1, n[$1]] = $2 / $3 }
    function med(a, k, c,   i, j, t, v) {
      for (i = 1; i <= c; i++) v[i] = a[k, i]
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
    }
    END { for (k in n) printf "%s %.4f %.4f %.4f\n", k, med(x, k, n[k]), med(g, k, n[k]), med(q, k, n[k]) }' |
    sort | join - "$out/$name.layers" > "$out/$name.joined"
  while read -r layer xnn ours ratio px k cin cout s chosen; do
    gops=$(awk "BEGIN { printf \"%.0f\", 2 * $px * $k * $k * $cin * $cout / ($ours * 1e6) }")
    printf '%-28s %-26s %9.3f %9.3f %6.2fx %7s  %s\n' "$layer" "$px ${k}x$k $cin->$cout s$s" \
      "$xnn" "$ours" "$ratio" "$gops" "$chosen"
    echo "$name $xnn $ours $chosen" >> "$out/all.rows"
  done < "$out/$name.joined"
done
echo "sums of the medians (ms): XNNPACK everywhere, timmc's kernel everywhere, as the cost model chose"
awk '{ x[$1] += $2; g[$1] += $3; c[$1] += $4 == "qgemm" ? $3 : $2 }
     END { for (k in x) printf "%-28s %9.3f %9.3f %9.3f\n", k, x[k], g[k], c[k] }' "$out/all.rows" | sort
