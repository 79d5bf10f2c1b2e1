#!/usr/bin/env bash
# blk log: changes in commit order, --since to resume, --follow to watch.
. "$(dirname "$0")/lib.sh"

new_store
echo a | blk put -t note --id a >/dev/null
echo b | blk put -t note --id b >/dev/null
echo a2 | blk put -t note --id a >/dev/null   # a moves after b
blk rm b

run 0 blk log
[ "$(grep -o '"id":"[a-z]*"' "$T/out" | tr '\n' ' ')" = '"id":"a" "id":"b" ' ] ||
  fail "log order is not commit order: $(cat "$T/out")"
grep -q '"id":"b".*"deleted_at":[0-9]' "$T/out" || fail "the delete is not in the log"
grep -q '"size":3' "$T/out" || fail "log lacks sizes"
last=$(tail -1 "$T/out" | grep -o '"seq":[0-9]*' | cut -d: -f2)
first=$(head -1 "$T/out" | grep -o '"seq":[0-9]*' | cut -d: -f2)
run 0 blk log --since "$first"
[ "$(wc -l <"$T/out")" = 1 ] && grep -q '"id":"b"' "$T/out" || fail "log --since $first: $(cat "$T/out")"
run 0 blk log --since "$last"
[ ! -s "$T/out" ] || fail "log --since the last seq printed something"
run 0 blk log --blobs --since "$first" --json
run 0 blk log --blobs
grep -q '"blob":"YTIK"' "$T/out" || fail "log --blobs lacks the blob"
expect_error 2 "sequence number" blk log --since -1

# --follow prints what other processes commit, as they commit it.
"$BLK" log --follow --since "$last" >"$T/follow" &
follower=$!
sleep 0.5
echo c | blk put -t note --id c >/dev/null
for _ in $(seq 1 50); do grep -q '"id":"c"' "$T/follow" && break; sleep 0.1; done
grep -q '"id":"c"' "$T/follow" || fail "log --follow did not show a new commit"
kill "$follower"

# A closed pipe ends --follow even when nothing new comes.
set +o pipefail
timeout 5 "$BLK" log --follow | head -1 >/dev/null
status=${PIPESTATUS[0]}
set -o pipefail
[ "$status" = 0 ] || fail "log --follow | head -1 exited $status (124: it did not notice)"

echo ok
