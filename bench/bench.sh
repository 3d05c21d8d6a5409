#!/bin/sh
# bench.sh [-t THREADS,...] [-n RUNS] [-r ROUNDS] [-d] SPEC.json...
# timmc against timm as PyTorch users run it, in the same run, for each spec
# (default: the seven configurations in bench/specs/; bench/mobile/ has the
# edge backbones). Each round runs `NAME --bench RUNS`, then timm eager, then
# timm deployed (channels_last, torch.jit.trace + freeze +
# optimize_for_inference; bench/timm_baseline.py), with the same threads,
# back to back; each speed-up is the median over rounds of each round's ratio
# (so load that comes and goes on a shared machine hits both sides of a
# ratio alike), beside the medians of the times and GFLOP/s; then the
# geometric means. The first line names the CPU and the threads. -d adds a
# column: timmc with every convolution direct ("winograd": "never"), and
# what Winograd gains over it. timm comes from PYTHONPATH (a checkout of
# pytorch-image-models) and Debian's python3-torch; without them the baseline
# columns say unavailable. -t takes a list (default 1,2): one table per
# thread count, each with its CPU line and geometric means, and at the end
# the worst speed-up over deployed at each. Runners go to $TIMMC_BENCH_OUT
# (default build/bench).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh # median, ratio, timmc_ms, cpu_name
direct=0 default_threads=1,2
extra_option() { direct=1; } # -d
bench_options t:n:r:d "$@"
shift "$bench_shift"
thread_list=$threads
[ $# -gt 0 ] || set -- bench/specs/*.json
out=${TIMMC_BENCH_OUT:-build/bench}
mkdir -p "$out"
# the runners, once for every table
for spec in "$@"; do
  name=$(lua5.4 tools/spec.lua get "$spec" name)
  generator/timmc build "$spec" -o "$out" >/dev/null
  if [ "$direct" = 1 ]; then # the same spec with every convolution direct
    lua5.4 tools/spec.lua set "$spec" name="${name}_direct" winograd=never \
      > "$out/${name}_direct.json"
    generator/timmc build "$out/${name}_direct.json" -o "$out" >/dev/null
  fi
done
# one table at $threads threads; dmin: its worst speed-up over deployed
table() {
  echo "cpu: $(cpu_name) ($(nproc) cores), threads: $threads, batch as in each spec, $rounds rounds of $runs runs"
  printf '%-28s %9s %9s %9s %8s %8s %8s' model timmc_ms eager_ms deploy_ms vs_eager vs_depl GFLOP/s
  [ "$direct" = 1 ] && printf ' %10s %9s' direct_ms winograd
  printf '  %s\n' rounds
  logsum=0 count=0 dlogsum=0 dcount=0 dmin=""
  # baseline MODE: appends this round's time and ratio to the mode's lists
  baseline() {
    line=$(/usr/bin/python3 bench/timm_baseline.py "$spec" "$threads" "$runs" "$1" 2>&1 | tail -1)
    case $line in
      median_ms:*) echo "${line#median_ms: }" ;;
      *) echo "-$line" ;;
    esac
  }
  for spec in "$@"; do
    name=$(lua5.4 tools/spec.lua get "$spec" name)
    flops=$("$out/$name" --info | lua5.4 -e 'print(string.format("%.0f",
      require("cjson").decode(io.read("a")).flops))')
    ours="" theirs="" ratios="" directs="" gains="" why="" deps="" dratios="" dwhy=""
    for _ in $(seq "$rounds"); do
      o=$(timmc_ms "$out/$name")
      ours="$ours $o"
      if [ "$direct" = 1 ]; then
        d=$(timmc_ms "$out/${name}_direct")
        directs="$directs $d" gains="$gains $(ratio "$d" "$o")"
      fi
      t=$(baseline eager)
      case $t in
        -*) why=${t#-} ;;
        *) theirs="$theirs $t" ratios="$ratios $(ratio "$t" "$o")" ;;
      esac
      t=$(baseline deployed)
      case $t in
        -*) dwhy=${t#-} ;;
        *) deps="$deps $t" dratios="$dratios $(ratio "$t" "$o")" ;;
      esac
    done
    o=$(echo "$ours" | median)
    if [ -n "$theirs" ]; then
      t=$(echo "$theirs" | median) r=$(echo "$ratios" | median)
      speed=$(awk "BEGIN {printf \"%.2fx\", $r}")
      logsum=$(awk "BEGIN {print $logsum + log($r)}")
      count=$((count + 1))
    else
      t="-" speed="-"
    fi
    if [ -n "$deps" ]; then
      dt=$(echo "$deps" | median) dr=$(echo "$dratios" | median)
      dspeed=$(awk "BEGIN {printf \"%.2fx\", $dr}")
      dlogsum=$(awk "BEGIN {print $dlogsum + log($dr)}")
      dmin=$(awk "BEGIN {m = \"$dmin\"; printf \"%.2f\", (m == \"\" || $dr < m + 0) ? $dr : m}")
      dcount=$((dcount + 1))
    else
      dt="-" dspeed="-"
    fi
    printf '%-28s %9s %9s %9s %8s %8s %8s' "$name" "$o" "$t" "$dt" "$speed" "$dspeed" \
      "$(awk "BEGIN {printf \"%.1f\", $flops / ($o * 1e6)}")"
    if [ "$direct" = 1 ]; then
      printf ' %10s %9s' "$(echo "$directs" | median)" \
        "$(awk "BEGIN {printf \"%.2fx\", $(echo "$gains" | median)}")"
    fi
    printf '  timmc:%s eager:%s deployed:%s\n' "$ours" "${theirs:- $why}" "${deps:- $dwhy}"
  done
  if [ "$count" -gt 0 ]; then
    awk "BEGIN {printf \"geometric mean speed-up over timm eager: %.2fx (%d models, %d threads)\n\", exp($logsum / $count), $count, $threads}"
  fi
  if [ "$dcount" -gt 0 ]; then
    awk "BEGIN {printf \"geometric mean speed-up over timm deployed: %.2fx (%d models, %d threads)\n\", exp($dlogsum / $dcount), $dcount, $threads}"
  fi
}
worst=""
for threads in $(echo "$thread_list" | tr ',' ' '); do
  table "$@"
  worst="$worst threads $threads: ${dmin:--}x"
done
[ -n "$worst" ] && echo "worst speed-up over timm deployed:$worst"
exit 0
