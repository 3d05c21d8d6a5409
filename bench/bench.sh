#!/bin/sh
# bench.sh RUNNER [RUNS] [REPEATS]: timmc vs timm eager on one model, same run.
# For 1 and 2 threads: REPEATS (default 3) rounds, each `RUNNER --bench RUNS`
# then timm eager with the same threads; prints every round and the medians,
# GFLOP/s and the speed-up. timm comes from PYTHONPATH (a checkout of
# pytorch-image-models) and Debian's python3-torch; without them the table
# says the baseline is unavailable.
set -eu
runner=$1 runs=${2:-20} repeats=${3:-3}
info=$("$runner" --info)
field() { printf '%s' "$info" | lua5.4 -e "local t = require('cjson').decode(io.read('a'))
  local function s(v) return type(v) == 'number' and string.format('%d', v) or v end
  local v = t.$1 if type(v) == 'table' then for i, x in ipairs(v) do v[i] = s(x) end
  v = table.concat(v, ' ') end print(s(v))"; }
arch=$(field architecture)
input=$(field input)
flops=$(field flops)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "model $(field name) ($arch), input [$input], $(awk "BEGIN {print $flops / 1e9}") GFLOP per forward"
printf '%-8s %-12s %-12s %-10s %-10s\n' threads timmc_ms timm_ms speedup GFLOP/s
for t in 1 2; do
  ours="" theirs=""
  for _ in $(seq "$repeats"); do
    ours="$ours $("$runner" --random-weights 1 --threads "$t" --bench "$runs" | sed -n 's/^median_ms: //p')"
    theirs_line=$(/usr/bin/python3 bench/timm_eager.py "$arch" $input "$t" "$runs" 2>/dev/null || echo "unavailable: python failed")
    case $theirs_line in
      median_ms:*) theirs="$theirs ${theirs_line#median_ms: }" ;;
      *) theirs_why=$theirs_line ;;
    esac
  done
  o=$(echo $ours | tr ' ' '\n' | median)
  if [ -n "$theirs" ]; then
    m=$(echo $theirs | tr ' ' '\n' | median)
    speed=$(awk "BEGIN {printf \"%.2fx\", $m / $o}")
  else
    m="-" speed="(timm ${theirs_why:-unavailable})"
  fi
  printf '%-8s %-12s %-12s %-10s %-10s\n' "$t" "$o" "$m" "$speed" "$(awk "BEGIN {printf \"%.1f\", $flops / ($o * 1e6)}")"
  echo "  rounds timmc:$ours  timm:${theirs:- -}"
done
