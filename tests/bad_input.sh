#!/bin/sh
# bad_input.sh PATTERN LEFTOVER COMMAND...
# COMMAND must fail with exit status 2 and exactly one line on stderr that
# matches the extended regex PATTERN, and must not leave LEFTOVER behind. An
# argument @EMPTY@ stands for '' (CMake drops empty list elements).
pattern=$1 leftover=$2
shift 2
for a; do
  shift
  [ "$a" = @EMPTY@ ] && a=
  set -- "$@" "$a"
done
rm -rf "$leftover"
mkdir -p "$(dirname "$leftover")" # so that COMMAND could leave it there
err=$("$@" 2>&1 >/dev/null)
status=$?
echo "stderr: $err"
[ "$status" -eq 2 ] || { echo "FAIL: exit status $status, expected 2"; exit 1; }
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { echo "FAIL: more than one line"; exit 1; }
printf '%s\n' "$err" | grep -Eq -- "$pattern" || { echo "FAIL: does not match /$pattern/"; exit 1; }
[ ! -e "$leftover" ] || { echo "FAIL: $leftover was left behind"; exit 1; }
# nothing half-written next to it either (nor a hidden temporary directory)
ls -A "$(dirname "$leftover")" 2>/dev/null | grep -Eq '\.tmp|^\.timmc' &&
  { echo "FAIL: temporary file left"; exit 1; }
echo "ok"
