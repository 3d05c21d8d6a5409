#!/bin/sh
# weights_check.sh ROOT WORK
# timmc weights: NAME_weights.c holds the very floats the host init packs, so
# the runner built with it (timmc build --weights, no file read) writes the
# same outputs, bit for bit, as the runner reading the checkpoint; the file is
# the same when made twice; a checkpoint of another model is refused with one
# line, exit 2, and no file; so are the other misuses of the firmware commands.
set -eu
root=$1 work=$2
timmc=$root/generator/timmc
spec=$root/tests/portable/specs/cm_mobilenetv3_small_050.json
other=$root/tests/portable/specs/cm_lcnet_050.json
name=cm_mobilenetv3_small_050
rm -rf "$work"
mkdir -p "$work"
lua5.4 "$root/tests/portable/make_input.lua" "$work/in.npy" 1 3 96 96 17

"$timmc" build "$spec" -o "$work/st"
"$work/st/$name" --random-weights 17 --save-weights "$work/w.safetensors" --input "$work/in.npy" \
  --outdir "$work/out_st"
"$timmc" build "$spec" -o "$work/c" --weights "$work/w.safetensors"
"$work/c/$name" --input "$work/in.npy" --outdir "$work/out_c"
n=$(sh "$root/tests/portable/same_outputs.sh" "$work/out_st" "$work/out_c")
[ "$n" -eq 5 ] || { echo "expected 5 outputs, got $n"; exit 1; }
echo "$n outputs bit for bit the same from $name.c's const weights and from the checkpoint"

"$timmc" weights "$spec" "$work/w.safetensors" -o "$work/again"
cmp "$work/c/${name}_weights.c" "$work/again/${name}_weights.c"

"$timmc" build "$other" -o "$work/lc"
"$work/lc/cm_lcnet_050" --random-weights 1 --save-weights "$work/lc.safetensors" \
  --input "$work/in.npy" --outdir "$work/out_lc"
status=0
"$timmc" weights "$spec" "$work/lc.safetensors" -o "$work/bad" 2>"$work/bad.err" || status=$?
[ "$status" -eq 2 ] || { echo "a mismatched checkpoint: exit $status, expected 2"; exit 1; }
[ "$(wc -l <"$work/bad.err")" -eq 1 ] || { echo "expected one line:"; cat "$work/bad.err"; exit 1; }
grep -q "tensor" "$work/bad.err" || { echo "the message names no tensor:"; cat "$work/bad.err"; exit 1; }
[ ! -e "$work/bad/${name}_weights.c" ] || { echo "a file was written anyway"; exit 1; }
for f in "$work"/bad/*; do [ ! -e "$f" ] || { echo "left behind: $f"; exit 1; }; done
echo "mismatched checkpoint refused: $(cat "$work/bad.err")"

# one line, exit 2, nothing written: --target cortex-m or weights on an
# xnnpack spec, a firmware build with no weights to link
refuse() {
  out=$1
  shift
  status=0
  "$@" 2>"$work/refused.err" || status=$?
  if [ "$status" -ne 2 ] || [ "$(wc -l <"$work/refused.err")" -ne 1 ] || [ -e "$out" ]; then
    echo "$*: exit $status, $(cat "$work/refused.err"), $out: $(ls "$out" 2>&1)"
    exit 1
  fi
  echo "refused: $(cat "$work/refused.err")"
}
xnn=$root/tests/golden/specs/g_resnet18_cls.json
refuse "$work/r1" "$timmc" build "$xnn" -o "$work/r1" --target cortex-m
refuse "$work/r2" "$timmc" weights "$xnn" "$work/w.safetensors" -o "$work/r2"
refuse "$work/r3" "$timmc" build "$xnn" -o "$work/r3" --weights "$work/w.safetensors"
refuse "$work/r4" "$timmc" build "$spec" -o "$work/r4" --target cortex-m
