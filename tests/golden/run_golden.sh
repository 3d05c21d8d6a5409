#!/bin/sh
# run_golden.sh RUNNER GOLDEN_CHECK DATA WORK NAME ENTRY SEED [IMAGE,...]
# Runs the model on DATA/NAME.in.npy, or with IMAGES on those files (--image,
# paths from the project root), with --random-weights SEED and checks each
# output against timm's float64 reference with golden_check.
set -eu
runner=$1 check=$2 data=$3 work=$4 name=$5 entry=$6 seed=$7 images=${8:-}
rm -rf "$work"
if [ -n "$images" ]; then
  root=$(cd "$data/../../.." && pwd)
  set --
  for f in $(echo "$images" | tr ',' ' '); do set -- "$@" --image "$root/$f"; done
  "$runner" --random-weights "$seed" --entry "$entry" "$@" --outdir "$work"
else
  "$runner" --random-weights "$seed" --entry "$entry" --input "$data/$name.in.npy" --outdir "$work"
fi
errors=$(lua5.4 -e 'local t = require("cjson").decode(io.read("a"))
  for _, e in ipairs(t.timm_f32_error) do print(string.format("%.17g", e)) end' < "$data/$name.json")
i=0
status=0
for err in $errors; do
  "$check" "$work/out$i.npy" "$data/$name.out$i.npy" "$err" || status=1
  i=$((i + 1))
done
[ "$i" -gt 0 ] || { echo "no reference outputs for $name"; exit 1; }
[ -f "$work/out$i.npy" ] && { echo "$name: more outputs than references"; exit 1; }
exit $status
