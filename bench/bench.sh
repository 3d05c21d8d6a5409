#!/bin/sh
# bench.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json...
# timmc against timm eager, in the same run, for each spec (default: the seven
# configurations in bench/specs/). Each round runs `NAME --bench RUNS` and then
# timm eager with the same threads; the table gives the medians over rounds,
# the speed-up and GFLOP/s, then the geometric mean of the speed-ups. timm
# comes from PYTHONPATH (a checkout of pytorch-image-models) and Debian's
# python3-torch; without them the baseline column says unavailable.
set -eu
cd "$(dirname "$0")/.."
threads=2 runs=10 rounds=3
while getopts t:n:r: opt; do
  case $opt in
    t) threads=$OPTARG ;;
    n) runs=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- bench/specs/*.json
out=build/bench
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-20s %10s %10s %9s %8s  %s\n' model timmc_ms timm_ms speedup GFLOP/s rounds
logsum=0 count=0
for spec in "$@"; do
  name=$(lua5.4 -e 'print(require("cjson").decode(io.read("a")).name)' < "$spec")
  generator/timmc build "$spec" -o "$out" >/dev/null
  flops=$("$out/$name" --info | lua5.4 -e 'print(string.format("%.0f",
    require("cjson").decode(io.read("a")).flops))')
  ours="" theirs="" why=""
  for _ in $(seq "$rounds"); do
    ours="$ours $("$out/$name" --random-weights 1 --threads "$threads" --bench "$runs" |
                  sed -n 's/^median_ms: //p')"
    line=$(/usr/bin/python3 bench/timm_eager.py "$spec" "$threads" "$runs" 2>&1 | tail -1)
    case $line in
      median_ms:*) theirs="$theirs ${line#median_ms: }" ;;
      *) why=$line ;;
    esac
  done
  o=$(echo "$ours" | median)
  if [ -n "$theirs" ]; then
    t=$(echo "$theirs" | median)
    speed=$(awk "BEGIN {printf \"%.2fx\", $t / $o}")
    logsum=$(awk "BEGIN {print $logsum + log($t / $o)}")
    count=$((count + 1))
  else
    t="-" speed="-"
  fi
  printf '%-20s %10s %10s %9s %8s  timmc:%s timm:%s\n' "$name" "$o" "$t" "$speed" \
    "$(awk "BEGIN {printf \"%.1f\", $flops / ($o * 1e6)}")" "$ours" "${theirs:- $why}"
done
[ "$count" -gt 0 ] && awk "BEGIN {printf \"geometric mean speed-up over timm eager: %.2fx (%d models, %d threads)\n\", exp($logsum / $count), $count, $threads}"
exit 0
