#!/bin/sh
# cortexm_int8_check.sh ROOT WORK [SPEC...]
# cortexm_check.sh for int8 specs (default: tests/portable/specs/cmq_*.json):
# random float weights, calibrated on the host (examples/images/chelsea.png)
# into an int8 checkpoint; the host build and the Cortex-M7 firmware image
# (its int8 weights, scales, biases and multipliers as const arrays) give the
# same outputs bit for bit; size and instructions per forward printed.
# Exit 77 (skipped) without the toolchain: sh tools/cross.sh cortex-m installs it.
exec sh "$(dirname "$0")/cortexm_check.sh" --int8 "$@"
