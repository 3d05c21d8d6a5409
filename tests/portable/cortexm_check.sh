#!/bin/sh
# cortexm_check.sh [--int8] ROOT WORK [SPEC...]
# For each spec (default: tests/portable/specs/cm_*.json, with --int8
# cmq_*.json): the host build of the portable backend and the Cortex-M7
# firmware image (timmc build --target cortex-m, run under qemu-system-arm's
# mps2-an500) give the same outputs bit for bit on the same weights and input;
# the image's --info carries its flash and RAM; one forward's instructions are
# counted under -icount shift=0. Random weights; with --int8 they are
# calibrated on the host (examples/images/chelsea.png) into the int8
# checkpoint both builds run (cortexm_int8_check.sh).
# Exit 77 (skipped) without the toolchain: sh tools/cross.sh cortex-m installs it.
set -eu
int8=
if [ "${1:-}" = --int8 ]; then int8=int8; shift; fi
root=$1 work=$2
shift 2
[ $# -gt 0 ] || set -- "$root"/tests/portable/specs/cm${int8:+q}_*.json
for tool in arm-none-eabi-gcc qemu-system-arm; do
  command -v $tool >/dev/null || { echo "no $tool: sh tools/cross.sh cortex-m"; exit 77; }
done
prefix=$(sh "$root/tools/cross_cortexm.sh")
timmc=$root/generator/timmc
rm -rf "$work"
mkdir -p "$work"
lua5.4 "$root/tests/portable/make_input.lua" "$work/in.npy" 1 3 96 96 5
if [ -n "$int8" ]; then
  mkdir -p "$work/cal"
  cp "$root/examples/images/chelsea.png" "$work/cal/"
fi
for spec in "$@"; do
  name=$(basename "$spec" .json)
  dir=$work/$name
  "$timmc" build "$spec" -o "$dir/host"
  if [ -n "$int8" ]; then
    "$dir/host/$name" --random-weights 5 --save-weights "$dir/f32.safetensors"
    "$dir/host/$name" --weights "$dir/f32.safetensors" --calibrate "$work/cal" \
      --save-weights "$dir/w.safetensors"
    "$dir/host/$name" --weights "$dir/w.safetensors" --input "$work/in.npy" --outdir "$dir/out_host"
  else
    "$dir/host/$name" --random-weights 5 --save-weights "$dir/w.safetensors" --input "$work/in.npy" \
      --outdir "$dir/out_host"
  fi
  "$timmc" build "$spec" -o "$dir/cm" --target cortex-m --weights "$dir/w.safetensors"
  mkdir -p "$dir/out_cm"
  # qemu runs in WORK with relative paths: newlib's semihosting keeps only 255
  # characters of the command line, the image's own path (argv[0]) included
  elf=$name/cm/$name.elf
  # shellcheck disable=SC2086
  (cd "$work" && timeout 300 $prefix "$elf" -append "--input in.npy --outdir $name/out_cm")
  n=$(sh "$root/tests/portable/same_outputs.sh" "$dir/out_host" "$dir/out_cm")
  [ "$n" -gt 0 ] || { echo "$name: no outputs"; exit 1; }
  # shellcheck disable=SC2086
  info=$(cd "$work" && timeout 60 $prefix "$elf" -append "--info")
  echo "$info" | grep -q '"flash_bytes": [1-9]' || { echo "$name: no flash_bytes in $info"; exit 1; }
  echo "$info" | grep -q '"ram_bytes": [1-9]' || { echo "$name: no ram_bytes in $info"; exit 1; }
  # shellcheck disable=SC2086
  bench=$(cd "$work" && timeout 300 $prefix "$elf" -icount shift=0 -append "--input in.npy --bench 1")
  insns=$(echo "$bench" | sed -n 's/^instructions_per_forward: //p')
  if [ -z "$insns" ] || [ "$insns" -le 0 ]; then
    echo "$name: no instruction count in $bench"
    exit 1
  fi
  echo "$name: $n ${int8:+int8 }outputs bit for bit the same on the Cortex-M7 as on this host;" \
    "$(echo "$info" |
    sed 's/.*"flash_bytes": \([0-9]*\).*"ram_bytes": \([0-9]*\).*/flash \1 bytes, RAM \2 bytes/');" \
    "$insns instructions per forward"
done
