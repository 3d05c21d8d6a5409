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
m=0
for f in "$2"/out*.npy; do [ -e "$f" ] && m=$((m + 1)); done
[ "$m" -eq "$n" ] || { echo "$2: $m outputs, $1: $n" >&2; exit 1; }
echo "$n"
