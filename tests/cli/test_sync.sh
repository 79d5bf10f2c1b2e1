#!/usr/bin/env bash
# Sync end to end with real processes: three stores in a ring over loopback
# TCP, WebSocket and exec:, concurrent edits, deletes, cursors and --full,
# unreachable peers and exit codes, status, watch, and a server killed with
# SIGKILL in the middle of a sync.
. "$(dirname "$0")/lib.sh"

A="$T/a" B="$T/b" C="$T/c"
new_store "$A" alpha
new_store "$B" beta
new_store "$C" gamma

# What a store holds, without its local seqs: equal views mean the same versions.
view() { blk --store "$1" --json ls --deleted | sed 's/"seq":[0-9]*,//' | sort; }
same() { [ "$(view "$1")" = "$(view "$2")" ] || fail "$1 and $2 differ: $(diff <(view "$1") <(view "$2") | head -5)"; }
put() { printf '%s' "$3" | blk --store "$1" put --type note --id "$2" >/dev/null; }
get() { blk --store "$1" get "$2"; }

serve "$B" "$T/b.log" tcp://127.0.0.1:0 ws://127.0.0.1:0/blk
bpid=$pid
serve "$C" "$T/c.log" ws://127.0.0.1:0/blk
cpid=$pid
btcp=$(port_of tcp "$T/b.log")
cws=$(port_of ws "$T/c.log")
# The ring: A dials B over TCP, B dials C over WebSocket, C runs A over exec:.
blk --store "$A" peer add beta "$(key "$B")" "tcp://127.0.0.1:$btcp"
blk --store "$A" peer add gamma "$(key "$C")"
blk --store "$B" peer add alpha "$(key "$A")"
blk --store "$B" peer add gamma "$(key "$C")" "ws://127.0.0.1:$cws/blk"
blk --store "$C" peer add alpha "$(key "$A")" "exec:$BLK --store $A serve --stdio"
blk --store "$C" peer add beta "$(key "$B")"

for i in 1 2 3; do put "$A" "a$i" "from alpha $i"; put "$B" "b$i" "from beta $i"; put "$C" "c$i" "from gamma $i"; done
ring() {
  run 0 blk --store "$A" sync
  run 0 blk --store "$B" sync
  run 0 blk --store "$C" sync
}
ring
ring
same "$A" "$B"
same "$B" "$C"
[ "$(get "$A" c2)" = "from gamma 2" ] || fail "alpha lacks gamma's block"
[ "$(blk --store "$C" ls | wc -l)" = 9 ] || fail "gamma has $(blk --store "$C" ls | wc -l) blocks"

# One line per peer on stdout; --json says what moved.
run 0 blk --store "$A" --json sync beta
grep -q '"peer":"beta","ok":true,.*"received":0,.*"reconciled":false' "$T/out" ||
  fail "no-op sync: $(cat "$T/out")"
run 0 blk --store "$A" sync beta
grep -qP '^beta\tok\treceived 0' "$T/out" || fail "text line: $(cat "$T/out")"

# Concurrent edits of one id: the later write wins, the same everywhere.
put "$A" shared "alpha's edit"
sleep 0.01
put "$C" shared "gamma's edit"
ring
ring
for s in "$A" "$B" "$C"; do
  [ "$(get "$s" shared)" = "gamma's edit" ] || fail "$s holds '$(get "$s" shared)' for shared"
done
same "$A" "$C"

# A delete is not undone by a stale copy, and a write after it wins.
blk --store "$B" rm a1
ring
ring
for s in "$A" "$B" "$C"; do
  blk --store "$s" ls | grep -qx a1 && fail "a1 came back on $s"
done
put "$C" a1 "written again"
ring
ring
[ "$(get "$A" a1)" = "written again" ] || fail "a write after the delete lost"
same "$A" "$B"

# --full reconciles with Negentropy and finds nothing to move.
run 0 blk --store "$A" --json sync --full beta
grep -q '"received":0,.*"reconciled":true' "$T/out" || fail "--full: $(cat "$T/out")"

# A new store: its first sync copies everything (blobs inline: it is empty).
# Its first contact with a second peer holding the same versions is a
# Negentropy reconciliation that finds nothing to move: no blob sent twice.
D="$T/d"
new_store "$D" delta
blk --store "$D" peer add beta "$(key "$B")" "tcp://127.0.0.1:$btcp"
blk --store "$D" peer add alpha "$(key "$A")" "exec:$BLK --store $A serve --stdio"
blk --store "$B" peer add delta "$(key "$D")"
blk --store "$A" peer add delta "$(key "$D")"
run 0 blk --store "$D" --json sync beta
grep -q '"reconciled":false' "$T/out" || fail "first sync into an empty store: $(cat "$T/out")"
same "$D" "$B"
run 0 blk --store "$D" --json sync alpha
grep -q '"received":0,.*"blobs_sent":0,.*"reconciled":true' "$T/out" || fail "first contact: $(cat "$T/out")"
same "$D" "$A"

# A store restored from an older backup: its peers remember more of it than
# it has. The next sync notices (reconciles, gets its lost writes back from
# the peer), and its new writes after that travel by the cursor as usual.
R="$T/r"
new_store "$R" rho
blk --store "$R" peer add beta "$(key "$B")" "tcp://127.0.0.1:$btcp"
blk --store "$B" peer add rho "$(key "$R")"
put "$R" r1 "before the backup"
run 0 blk --store "$R" sync beta
sqlite3 "$R/blk.db" ".backup '$T/r-backup.db'"
put "$R" r2 "after the backup"
put "$R" r3 "also after"
run 0 blk --store "$R" sync beta
rm -f "$R/blk.db-wal" "$R/blk.db-shm"
cp "$T/r-backup.db" "$R/blk.db"
run 0 blk --store "$R" --json sync beta
grep -q '"reconciled":true' "$T/out" || fail "a restored store was not reconciled: $(cat "$T/out")"
[ "$(get "$R" r3)" = "also after" ] || fail "the restored store did not get its lost write back"
put "$R" r4 "written after the restore"
run 0 blk --store "$R" --json sync beta
grep -q '"reconciled":false' "$T/out" || fail "still reconciling after the restore: $(cat "$T/out")"
[ "$(get "$B" r4)" = "written after the restore" ] || fail "a write after the restore did not reach beta"
same "$R" "$B"

# Status: per peer, the last sync.
run 0 blk --store "$A" status
grep -qP '^beta\t20[0-9-]+T[0-9:.]+Z\t0 unsent\tok$' "$T/out" || fail "status: $(cat "$T/out")"
run 0 blk --store "$A" --json status
grep -q '"peer":"gamma".*"error":null' "$T/out" || fail "status --json: $(cat "$T/out")"

# An unreachable peer does not stop the others: exit 3 (some), 1 (none).
new_store "$T/g" ghost
blk --store "$A" peer add ghost "$(key "$T/g")" tcp://127.0.0.1:1
run 3 blk --store "$A" sync
grep -qP '^beta\tok' "$T/out" || fail "beta missing from a partial sync: $(cat "$T/out")"
grep -qP '^ghost\tfailed\tcannot reach tcp://127.0.0.1:1' "$T/out" || fail "ghost: $(cat "$T/out")"
grep -q "sync with ghost failed" "$T/err" || fail "no note for ghost: $(cat "$T/err")"
run 1 blk --store "$A" sync ghost
grep -qP '^ghost\tfailed\t' "$T/out" || fail "ghost alone: $(cat "$T/out")"
grep -qx 'blk: error: cannot reach tcp://127.0.0.1:1: Connection refused' "$T/err" || fail "ghost alone: $(cat "$T/err")"
run 0 blk --store "$A" status
grep -qP '^ghost\tnever\t[0-9]+ unsent\tfailed .*cannot reach' "$T/out" || fail "status of ghost: $(cat "$T/out")"
blk --store "$A" peer rm ghost
expect_error 2 "neither a peer in the manifest nor an address" blk --store "$A" sync nobody

# The changes sync brought in are in the log, for pipes.
run 0 blk --store "$D" sync beta
n=$(blk --store "$D" log | wc -l)
put "$B" fresh "new on beta"
run 0 blk --store "$D" sync beta
[ "$(blk --store "$D" log | wc -l)" = $((n + 1)) ] || fail "log did not grow by one"
blk --store "$D" log | tail -1 | grep -q '"id":"fresh"' || fail "log lacks the synced block"

# Watch: commits stream both ways while connected.
"$BLK" --store "$A" sync --watch beta >"$T/watch.out" 2>"$T/watch.err" &
wpid=$!
put "$B" live1 "pushed by beta"
put "$A" live2 "pushed by alpha"
for _ in $(seq 1 100); do
  [ "$(get "$A" live1 2>/dev/null)" = "pushed by beta" ] &&
    [ "$(get "$B" live2 2>/dev/null)" = "pushed by alpha" ] && break
  sleep 0.05
done
[ "$(get "$A" live1)" = "pushed by beta" ] || fail "watch did not bring live1"
[ "$(get "$B" live2)" = "pushed by alpha" ] || fail "watch did not push live2"
kill -TERM $wpid
wait $wpid || fail "sync --watch exited $? on SIGTERM"
# Stopped cleanly: both sides record a good sync.
grep -qP '^beta\tok\t' "$T/watch.out" || fail "watch printed: $(cat "$T/watch.out") $(cat "$T/watch.err")"
run 0 blk --store "$A" status
grep -qP '^beta\t.*\tok$' "$T/out" || fail "status after watch: $(cat "$T/out")"
# (the server records it as its connection closes: a moment after the client)
for _ in $(seq 1 50); do
  blk --store "$B" status | grep -qP '^alpha\t.*\tok$' && break
  sleep 0.1
done
run 0 blk --store "$B" status
grep -qP '^alpha\t.*\tok$' "$T/out" || fail "beta's status after watch: $(cat "$T/out")"

# -q, as cron runs it: nothing on stdout unless something failed.
run 0 blk --store "$A" -q sync beta
[ ! -s "$T/out" ] && [ ! -s "$T/err" ] || fail "sync -q printed: $(cat "$T/out" "$T/err")"

# Two syncs of one store at once (cron and a person): both succeed.
"$BLK" --store "$A" sync beta >/dev/null 2>"$T/s1.err" & s1=$!
"$BLK" --store "$A" sync beta >/dev/null 2>"$T/s2.err" & s2=$!
wait $s1 || fail "first concurrent sync: $(cat "$T/s1.err")"
wait $s2 || fail "second concurrent sync: $(cat "$T/s2.err")"

# A server killed with SIGKILL mid-sync: the client fails cleanly; after a
# restart the next sync converges and nothing is lost.
E="$T/e"
new_store "$E" epsilon
seq 1 20000 | awk '{printf "{\"id\":\"bulk-%d\",\"type\":\"bulk\",\"blob\":\"%s\"}\n", $1, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="}' |
  blk --store "$B" import
blk --store "$E" peer add beta "$(key "$B")" "tcp://127.0.0.1:$btcp"
blk --store "$B" peer add epsilon "$(key "$E")"
"$BLK" --store "$E" sync beta >/dev/null 2>"$T/cut.err" & cut=$!
sleep 0.3
kill -KILL $bpid
wait $bpid 2>/dev/null || true
code=0
wait $cut || code=$?
got=$(blk --store "$E" ls --type bulk | wc -l)
echo "killed mid-sync: epsilon had $got of 20000 (sync exited $code)" >&2
[ "$(sqlite3 "$E/blk.db" 'pragma integrity_check')" = ok ] || fail "epsilon's store is damaged"
serve "$B" "$T/b2.log" "tcp://127.0.0.1:$btcp"
run 0 blk --store "$E" --json sync beta
[ "$(blk --store "$E" ls --type bulk | wc -l)" = 20000 ] || fail "epsilon has $(blk --store "$E" ls --type bulk | wc -l) of 20000"
same "$E" "$B"
echo "sync suite: ok"
