#!/bin/sh
# compare_targets.sh NATIVE_BUILD TARGET_BUILD
# After the golden suite ran in both builds: how far TARGET_BUILD's outputs
# (e.g. aarch64 under qemu) are from NATIVE_BUILD's (x86), per timm family:
# max |target - native| / max |native| over every output of every golden case
# (golden_check's measure), and how many outputs are bit-identical. Then the
# worst err/tol golden_check reported in each build (1 = at the tolerance).
set -eu
native=${1:?usage: compare_targets.sh NATIVE_BUILD TARGET_BUILD}
target=${2:?usage: compare_targets.sh NATIVE_BUILD TARGET_BUILD}
root=$(cd "$(dirname "$0")/.." && pwd)
check=$native/tests/golden_check
[ -x "$check" ] || { echo "compare_targets.sh: $check missing (build $native first)" >&2; exit 2; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for dir in "$target"/tests/work/golden_*; do
  name=${dir##*/golden_}
  spec="$root/tests/golden/specs/$name.json"
  [ -f "$spec" ] || continue
  family=$(lua5.4 -e "package.path = '$root/generator/?.lua;$root/models/?.lua;' .. package.path
    local arch = require('cjson').decode(io.open('$spec'):read('a')).architecture
    local e = require('init').lookup(arch)
    print(e and e.family or arch)")
  for out in "$dir"/out*.npy; do
    ref="$native/tests/work/golden_$name/${out##*/}"
    if [ ! -f "$out" ] || [ ! -f "$ref" ]; then continue; fi
    if cmp -s "$out" "$ref"; then same=1; else same=0; fi
    err=$("$check" "$out" "$ref" 0 2>&1 | sed -n 's/.* err=\([^ ]*\) .*/\1/p')
    echo "$family $name ${err:-nan} $same" >> "$tmp"
  done
done
[ -s "$tmp" ] || { echo "compare_targets.sh: no golden outputs in both builds" >&2; exit 2; }
echo "$target vs $native, golden outputs: max |diff| / max |native| per family"
sort "$tmp" | awk '
  { n[$1]++; same[$1] += $4
    if (!($1 in worst) || $3 + 0 > worst[$1] + 0) { worst[$1] = $3; at[$1] = $2 } }
  END { for (f in n) printf "  %-18s %3d outputs, %3d bit-identical, max %.3g (%s)\n",
                             f, n[f], same[f], worst[f], at[f] }' | sort
# golden_check's lines: "golden .../golden_NAME/outI.npy: worst element ... ratio=R PASS"
for b in "$native" "$target"; do
  log="$b/Testing/Temporary/LastTest.log"
  [ -f "$log" ] || continue
  sed -n 's|^golden .*/golden_\([^/]*\)/\(out[0-9]*\)\.npy:.* ratio=\([0-9.e+-]*\).*|\3 \1 \2|p' "$log" |
    sort -g | tail -n 1 | awk -v b="$b" '{ printf "worst golden err/tol in %s: %s (%s %s)\n", b, $1, $2, $3 }'
done
