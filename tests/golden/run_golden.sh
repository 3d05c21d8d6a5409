#!/bin/sh
# run_golden.sh RUNNER GOLDEN_CHECK DATA WORK NAME ENTRY SEED
# Runs the model on DATA/NAME.in.npy with --random-weights SEED and checks each
# output against timm's float64 reference with golden_check.
set -eu
runner=$1 check=$2 data=$3 work=$4 name=$5 entry=$6 seed=$7
rm -rf "$work"
"$runner" --random-weights "$seed" --entry "$entry" --input "$data/$name.in.npy" --outdir "$work"
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
