#!/bin/sh
# check_generated.sh: regenerates generated/ from models/specs/ twice and fails
# if either run differs from the checked-in files (so CI catches stale C and
# any non-determinism in the generator).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for spec in models/specs/*.json; do
  generator/timmc generate "$spec" -o "$tmp/a"
  generator/timmc generate "$spec" -o "$tmp/b"
done
for f in "$tmp"/a/*; do
  base=$(basename "$f")
  cmp -s "$f" "$tmp/b/$base" || { echo "non-deterministic: $base"; status=1; }
  if ! cmp -s "$f" "generated/$base"; then
    echo "stale: generated/$base differs from what generator/timmc emits now"
    diff -u "generated/$base" "$f" | head -20 || true
    status=1
  fi
done
for f in generated/*; do
  [ -f "$tmp/a/$(basename "$f")" ] || { echo "orphan: $f has no spec in models/specs"; status=1; }
done
[ $status -eq 0 ] && echo "generated/: $(ls generated | wc -l) files up to date, deterministic"
exit $status
