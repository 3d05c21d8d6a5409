#!/bin/sh
# memcheck.sh STATUS COMMAND...
# Runs COMMAND under valgrind memcheck. Passes when COMMAND exits with STATUS
# and memcheck reports nothing: no invalid read or write, no use of an
# uninitialised value, no leaked block (definite, indirect or possible).
# Blocks still reachable at exit are not errors: the only ones are cpuinfo's
# tables, made once per process by xnn_initialize and kept for its lifetime.
want=$1
shift
valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
  --show-leak-kinds=definite,indirect,possible --track-origins=yes --quiet "$@"
status=$?
[ "$status" -ne 99 ] || { echo "FAIL: memcheck found errors (above)"; exit 1; }
[ "$status" -eq "$want" ] || { echo "FAIL: exit status $status, expected $want"; exit 1; }
echo "ok: exit status $status, memcheck clean"
