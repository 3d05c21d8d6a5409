#!/bin/sh
# gemm_layers.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json...
# Every convolution timmc's GEMM (runtime/timmc_gemm.c) can take (1x1 and
# 3x3, and 3x3 in groups of 24 output channels, shown "3x3g24"; and the
# products of the Winograd layers its cost model gave it, "wino", or "winog2"
# in 2 groups: only those carry its packed weights), timed both
# ways in the model: one runner per spec, profiled (--bench RUNS --profile)
# with TIMMC_GEMM=none (XNNPACK's operator for every layer) and
# TIMMC_GEMM=all (timmc's GEMM for every layer it applies to) in alternating
# rounds. Per layer: its shape (pixels, in -> out channels, stride), each
# way's ms per run (median over rounds), the median of the rounds' ratios,
# and what the cost model (generator/passes/pick_kernels.lua) chose. Then,
# per shape class, the geometric mean of the ratios: the table the cost
# model is checked against. Needs an AVX-512 CPU (elsewhere both ways are
# XNNPACK). Runners go to $TIMMC_BENCH_OUT (default build/gemm_layers).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/lib.sh
layers_begin gemm_layers "$@"
shift "$bench_shift"
printf '%-40s %-24s %9s %9s %7s  %s\n' layer "pixels kxk in->out stride" xnn_ms gemm_ms ratio auto
: > "$out/all.classes"
for spec in "$@"; do
  name=$(lua5.4 tools/spec.lua get "$spec" name)
  generator/timmc build "$spec" -o "$out" > /dev/null
  # module, shape and the cost model's choice of each layer, from the generated file
  awk '/^  \/\* [^ ]*: conv / { layer = $2; sub(":", "", layer); wino = $0 ~ /Winograd/ }
       /timmc_gemm_use\(\/\*chosen=\*\// { c = $0; sub(/.*chosen=\*\//, "", c); sub(/\).*/, "", c); g = 1 }
       /\/\*kernel=\*\// { k = $0; sub(/.*kernel=\*\//, "", k); sub(/,.*/, "", k) }
       /\/\*groups=\*\// { gr = $0; sub(/.*groups=\*\//, "", gr); sub(/\}.*/, "", gr) }
       g && /\.dims = \{\/\*batch=\*\// { g = 0; d = $0; gsub(/\/\*[a-z_]*=\*\//, "", d); gsub(/[^0-9,]/, "", d)
         split(d, v, ","); px = v[1] * v[2] * v[3]
         getline; e = $0; gsub(/\/\*[a-z_]*=\*\//, "", e); gsub(/[^0-9,]/, "", e); split(e, u, ",")
         if (wino) { # Winograd products: whole layer'"'"'s channels in dims, groups last
           printf "%s %s %s %s 1 %s %s\n", layer, px, v[4], v[5], "wino" (u[6] == 1 ? "" : "g" u[6]),
                  c == "1" ? "gemm" : "xnnpack"; next }
         kind = k "x" k (gr == 1 ? "" : "g" v[5]) # (a group'"'"'s channels in dims: the whole layer'"'"'s here)
         printf "%s %s %s %s %s %s %s\n", layer, px, v[4] * gr, v[5] * gr, u[3], kind,
                c == "1" ? "gemm" : "xnnpack" }' \
    "$out/$name.c" | sort > "$out/$name.gemm_layers"
  # per layer: ms of each round both ways -> medians and the median ratio
  profile_both_ways TIMMC_GEMM none all "$out/$name" "$out/$name" |
    join - "$out/$name.gemm_layers" > "$out/$name.gemm_joined"
  while read -r layer xnn gemm ratio px cin cout s k auto; do
    printf '%-40s %-24s %9.3f %9.3f %6.2fx  %s\n' "$layer" "$px $k $cin->$cout s$s" "$xnn" \
      "$gemm" "$ratio" "$auto"
    # shape class: pixels by powers of 4, channels by powers of 2 of the smaller side
    echo "$px $cin $cout $s $ratio $xnn $gemm $k" >> "$out/all.classes"
  done < "$out/$name.gemm_joined"
done
echo "by shape class (kernel, pixels, min(in, out) channels, stride): sums of ms, geometric mean of the ratios"
awk '{ p = 1; while (p * 4 <= $1) p *= 4; c = 1; m = ($2 < $3 ? $2 : $3); while (c * 2 <= m) c *= 2
       k = sprintf("%-7s pixels>=%-6d ch>=%-5d s%d", $8, p, c, $4); n[k]++; l[k] += log($5); x[k] += $6; g[k] += $7 }
     END { for (k in n) printf "%-40s %3d layers %9.3f %9.3f %6.2fx\n", k, n[k], x[k], g[k], exp(l[k] / n[k]) }' \
  "$out/all.classes" | sort
