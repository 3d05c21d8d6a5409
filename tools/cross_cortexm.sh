#!/bin/sh
# cross_cortexm.sh   (run as `sh tools/cross.sh cortex-m`)
# Prepares this Debian 12 host to build firmware for an Arm Cortex-M
# (`generator/timmc build SPEC -o DIR --target cortex-m`, the portable backend)
# and to run it under emulation: Debian's gcc-arm-none-eabi, its newlib
# (libnewlib-arm-none-eabi: the C library and the semihosting crt0 of
# --specs=rdimon.specs) and qemu-system-arm. The machine is QEMU's mps2-an500
# (a Cortex-M7 with its double-precision FPU, 4 MiB of SSRAM at 0 for the
# image); the firmware reads and writes host files through semihosting.
# Idempotent: installed packages are kept as they are.
# Progress goes to stderr; stdout gets one line, the last of the output: the
# command prefix that runs a firmware ELF; qemu's -append gives its command line
# (semihosting's SYS_GET_CMDLINE), e.g.
#     prefix=$(sh tools/cross.sh cortex-m) &&
#       $prefix DIR/NAME.elf -append "--info"
set -u
PACKAGES="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
say() { echo "cross_cortexm.sh: $*" >&2; }

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing$missing"
  as_root=""
  [ "$(id -u)" = 0 ] || as_root=sudo
  $as_root apt-get update -q >&2 || say "apt-get update failed; trying the index as it is"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -q --no-install-recommends \
    $missing >&2 || { say "cannot install$missing"; exit 1; }
fi
for tool in arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm; do
  command -v "$tool" >/dev/null || { say "$tool is not on PATH after the install"; exit 1; }
done
echo "qemu-system-arm -M mps2-an500 -cpu cortex-m7 -nographic -monitor none -serial none" \
     "-semihosting-config enable=on,target=native -kernel"
