#!/bin/sh
# same_outputs.sh A B: every A/out*.npy has a B/out*.npy of the same bytes;
# prints how many (a runner's --outdir sets, compared bit for bit).
set -eu
n=0
for f in "$1"/out*.npy; do
  [ -e "$f" ] || break
  cmp "$f" "$2/$(basename "$f")" >&2
  n=$((n + 1))
done
[ "$(ls "$2" | grep -c '^out.*\.npy$')" -eq "$n" ] || { echo "$2: not $n outputs" >&2; exit 1; }
echo "$n"
