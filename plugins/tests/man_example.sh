#!/bin/sh
# The complete plugin in man 3 blk-merge-plugin (section EXAMPLE) is
# plugins/max_score/max_score.c, byte for byte: scdoc escapes a backslash as
# "\\", so the page's copy is compared with its backslashes undoubled.
#   man_example.sh MAN_SCD MAX_SCORE_C
set -eu
page=$1 source=$2
example=$(awk '/^# EXAMPLE$/ { in_section = 1; next }
               /^# / { in_section = 0 }
               in_section && /^```$/ { if (++fence == 2) exit; next }
               in_section && fence == 1 { print }' "$page" | sed 's/\\\\/\\/g')
if [ "$example" != "$(cat "$source")" ]; then
  echo "the EXAMPLE in $page is not $source:" >&2
  printf '%s\n' "$example" | diff -u "$source" - >&2 || true
  exit 1
fi
