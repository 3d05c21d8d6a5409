#!/bin/sh
# run_one.sh FUZZER NAME WORK [LIBFUZZER FLAGS...]
# Runs the libFuzzer binary FUZZER from the seed corpus corpus/NAME/ with the
# dictionary NAME.dict. New inputs go to WORK/NAME.corpus (emptied first, so
# the seeds in the tree are never written); a crashing input is saved as
# WORK/NAME-crash-* and the exit status is non-zero.
set -eu
fuzzer=$1 name=$2 work=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work/$name.corpus"
mkdir -p "$work/$name.corpus"
exec "$fuzzer" -dict="$here/$name.dict" -artifact_prefix="$work/$name-" -print_final_stats=1 \
  "$@" "$work/$name.corpus" "$here/corpus/$name"
