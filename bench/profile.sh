#!/bin/sh
# profile.sh [-t THREADS] [-n RUNS] [-r ROUNDS] [-p PEAK_GFLOPS] SPEC.json
# Where a model's time goes, by class of layer (bench/layers.lua: pointwise
# 1x1, depthwise, dense 3x3, strided, first conv, Winograd, timmc's GEMM,
# pools, elementwise): the runner's --profile over ROUNDS rounds, each step's
# ms per run summed by class, with the class's share, its GFLOP/s, and that
# against PEAK_GFLOPS (the CPU's FMA peak at these threads; without -p the
# column is left out). Then the ten slowest layers with theirs. Runners go to
# $TIMMC_BENCH_OUT (default build/profile).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/lib.sh
peak=0
extra_option() { peak=$2; } # -p
bench_options t:n:r:p: "$@"
shift "$bench_shift"
[ $# -eq 1 ] || { echo "usage: bench/profile.sh [-t T] [-n RUNS] [-r ROUNDS] [-p PEAK] SPEC.json" >&2; exit 2; }
spec=$1
out=${TIMMC_BENCH_OUT:-build/profile}
mkdir -p "$out"
name=$(lua5.4 tools/spec.lua get "$spec" name)
generator/timmc build "$spec" -o "$out" > /dev/null
# one line a module: the runner's profile names a module's steps alike
# (resnest's conv2 is a pool and a radix sum), and their times are summed
# below; its classes are joined with "+" and their FLOPs summed
lua5.4 bench/layers.lua "$spec" |
  awk -F '\t' -v OFS='\t' '!($1 in c) { c[$1] = $2; f[$1] = $3; next }
    { if (index("+" c[$1] "+", "+" $2 "+") == 0) c[$1] = c[$1] "+" $2; f[$1] += $3 }
    END { for (m in c) print m, c[m], f[m] }' |
  sort -t "$(printf '\t')" -k1,1 > "$out/$name.layers"
: > "$out/$name.profile"
for _ in $(seq "$rounds"); do
  "$out/$name" --random-weights 1 --threads "$threads" --bench "$runs" --profile \
    >> "$out/$name.profile"
done
echo "$name: cpu $(cpu_name), threads $threads, $rounds rounds of $runs runs"
# ms per run of each step's module, averaged over the rounds, joined with its class and FLOPs
awk 'NF == 4 && $1 ~ /^[0-9]+$/ { s[$2] += $3 } END { for (k in s) printf "%s\t%s\n", k, s[k] }' \
  "$out/$name.profile" | sort -t "$(printf '\t')" -k1,1 |
  join -t "$(printf '\t')" - "$out/$name.layers" > "$out/$name.joined"
# by class, the most time first, then all of them
awk -F '\t' -v r="$rounds" '{ ms[$3] += $2 / r; fl[$3] += $4; all += $2 / r; allf += $4 }
  END { for (c in ms) printf "%s\t%s\t%s\n", c, ms[c], fl[c]; printf "all\t%s\t%s\t\n", all, allf }' \
  "$out/$name.joined" | sort -t "$(printf '\t')" -k4,4 -k2,2rn |
  awk -F '\t' -v peak="$peak" '
    NR == 1 { printf "%-32s %9s %7s %9s%s\n", "class", "ms", "share", "GFLOP/s", (peak > 0 ? "  of peak" : "") }
    { c[NR] = $1; m[NR] = $2; f[NR] = $3; if ($1 == "all") all = $2 }
    END { for (i = 1; i <= NR; i++) {
            printf "%-32s %9.3f %6.1f%% %9.1f", c[i], m[i], 100 * m[i] / all, f[i] / (m[i] * 1e6)
            if (peak > 0) printf " %7.0f%%", 100 * f[i] / (m[i] * 1e6) / peak
            printf "\n" } }'
awk -F '\t' -v r="$rounds" '{ printf "%s\t%s\t%.3f\t%.1f\n", $1, $3, $2 / r, $4 / ($2 / r * 1e6) }' \
  "$out/$name.joined" | sort -t "$(printf '\t')" -k3,3 -rn | head -10 |
  awk -F '\t' 'BEGIN { printf "%-40s %-28s %9s %9s\n", "slowest layers", "class", "ms", "GFLOP/s" }
               { printf "%-40s %-28s %9s %9s\n", $1, $2, $3, $4 }'
