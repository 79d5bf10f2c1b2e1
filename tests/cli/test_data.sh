#!/usr/bin/env bash
# Moving data: export | import reproduces every block, imports are atomic,
# closed pipes end quietly, 50 writers at once all land, terminals are spared
# binary.
. "$(dirname "$0")/lib.sh"

new_store
for i in $(seq 1 20); do head -c $((i * 37)) /dev/urandom | blk put -t "type$((i % 3))" --id "b$i" >/dev/null; done
printf 'text\n' | blk put -t note --id text --schema 3 >/dev/null
blk rm b5 b6
printf '' | blk put -t note --id empty >/dev/null

# export | import into a new store reproduces every block exactly (all but
# the fields that belong to the store: seq, version, modified_by).
blk export --deleted >"$T/all.jsonl"
[ "$(wc -l <"$T/all.jsonl")" = 22 ] || fail "export --deleted wrote $(wc -l <"$T/all.jsonl") lines"
[ "$(blk export | wc -l)" = 20 ] || fail "export without --deleted included tombstones"
new_store "$T/copy"
blk --store "$T/copy" import "$T/all.jsonl" 2>"$T/err"
grep -q "imported 22 block(s)" "$T/err" || fail "import did not report its count: $(cat "$T/err")"
strip() { sed -E 's/,"modified_by":"[0-9a-f]*","seq":[0-9]+,"version":"[0-9a-f]*"//' | sort; }
diff <(strip <"$T/all.jsonl") <(blk --store "$T/copy" export --deleted | strip) ||
  fail "export | import did not reproduce the blocks"
for i in 1 7 20; do
  cmp <(blk get "b$i") <(blk --store "$T/copy" get "b$i") || fail "b$i differs after import"
done
blk --store "$T/copy" get b5 >/dev/null 2>&1 && fail "a tombstone came back alive through import"
run 0 blk --store "$T/copy" import --json "$T/all.jsonl"
[ "$(cat "$T/out")" = '{"imported":22}' ] || fail "import --json printed $(cat "$T/out")"

# Import from stdin; blank lines are skipped; ids may be omitted.
printf '{"type":"gen","blob":"aGk="}\n\n{"id":"x1","type":"gen","blob":""}\n' | blk import
[ "$(blk ls --type gen | wc -l)" = 2 ] || fail "stdin import did not land 2 blocks"

# Writing into a closed pipe ends quietly, with status 0.
for i in $(seq 1 3000); do echo "{\"id\":\"p$i\",\"type\":\"pipe\",\"blob\":\"aGVsbG8gd29ybGQ=\"}"; done |
  blk import
set +o pipefail
blk export 2>"$T/err" | head -1 >/dev/null
status=${PIPESTATUS[0]}
set -o pipefail
[ "$status" = 0 ] || fail "export into a closed pipe exited $status"
[ ! -s "$T/err" ] || fail "export into a closed pipe said: $(cat "$T/err")"
set +o pipefail
blk ls 2>"$T/err" | head -2 >/dev/null
status=${PIPESTATUS[0]}
set -o pipefail
[ "$status" = 0 ] && [ ! -s "$T/err" ] || fail "ls into a closed pipe: $status $(cat "$T/err")"

# A full disk on stdout is an error, not silence.
if [ -w /dev/full ]; then
  expect_error 1 "cannot write to standard output" sh -c '"$0" export >/dev/full' "$BLK"
fi

# 50 writers at once: every one succeeds and is stored.
new_store "$T/busy"
pids=()
for i in $(seq 1 50); do
  (echo "writer $i" | "$BLK" --store "$T/busy" put -t w --id "w$i" >"$T/w$i.out" 2>"$T/w$i.err") &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
[ "$failed" = 0 ] || fail "$failed of 50 concurrent puts failed: $(cat "$T"/w*.err | sort | uniq -c)"
[ "$(blk --store "$T/busy" ls | wc -l)" = 50 ] || fail "not all 50 concurrent puts are stored"
for i in 1 25 50; do [ "$(blk --store "$T/busy" get "w$i")" = "writer $i" ] || fail "w$i wrong"; done
[ "$(sqlite3 "$T/busy/blk.db" 'pragma integrity_check')" = ok ] || fail "integrity_check failed"

# Terminals: binary is refused without -o -, text is shown.
if command -v script >/dev/null; then
  printf 'bin\0ary' | blk put -t t --id bin >/dev/null
  script -qec "$BLK get bin" /dev/null >"$T/tty" 2>&1 && fail "binary went to a terminal"
  grep -q "not writing binary data to a terminal" "$T/tty" || fail "no terminal refusal: $(cat "$T/tty")"
  script -qec "$BLK get bin -o -" /dev/null >"$T/tty" || fail "get -o - refused a terminal"
  script -qec "$BLK get text" /dev/null >"$T/tty" || fail "text refused on a terminal"
  grep -q text "$T/tty" || fail "text did not reach the terminal"
fi

echo ok
