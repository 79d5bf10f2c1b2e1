#!/usr/bin/env bash
# A put killed inside its commit: after SQLite wrote the commit to the WAL,
# before it published it in the WAL index (blk.db-shm). While another
# process keeps the store open (here a serve), readers do not see such a
# commit; when the last of them dies, the next open rebuilds the index from
# the WAL and the write appears, whole. blk's promise holds either way: a
# killed write is all or nothing, and it never replaces a write that was
# acknowledged after it (a later commit overwrites its frames). The kill
# lands at that moment every time: the preloaded shim SIGKILLs blk in its
# WAL fsync. tests/crash/ finds the same by chance; its model allows it.
. "$(dirname "$0")/lib.sh"
: "${BLK_DIE_IN_WAL_FSYNC:?set BLK_DIE_IN_WAL_FSYNC to the shim (tests/cli/helpers)}"

S=$T/s
new_store "$S"
echo old >"$T/old"
head -c 300000 /dev/urandom >"$T/killed"
echo acknowledged >"$T/acked"

# put_killed ID FILE: a put that dies in its commit, having printed nothing.
put_killed() {
  local got=0
  # ASan must come first in a sanitized build; the shim does not mind.
  LD_PRELOAD=$BLK_DIE_IN_WAL_FSYNC \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "$BLK" --store "$S" put --type t --id "$1" "$2" >"$T/out" 2>"$T/err" || got=$?
  [ "$got" = 137 ] || fail "the put of $1 was not killed in its commit (exit $got): $(cat "$T/err")"
  [ ! -s "$T/out" ] || fail "a killed put printed its id: $(cat "$T/out")"
}

# holds ID FILE: the store holds FILE's bytes as block ID.
holds() {
  blk --store "$S" get "$1" -o "$T/got"
  cmp -s "$T/got" "$2" || fail "$1 holds $(wc -c <"$T/got") B, not $2 ($(wc -c <"$2") B)"
}

intact() {
  [ "$(sqlite3 "$S/blk.db" 'PRAGMA integrity_check')" = ok ] || fail "the store fails integrity_check"
}

# 1. Killed with serve holding the store open; nothing written after. When
#    serve dies too, the killed write is either there whole or not at all.
blk --store "$S" -q put --type t --id x "$T/old" >/dev/null
serve "$S" "$T/serve1.log" tcp://127.0.0.1:0
put_killed x "$T/killed"
blk --store "$S" get x -o "$T/got"
cmp -s "$T/got" "$T/old" || cmp -s "$T/got" "$T/killed" || fail "x is neither the old nor the killed blob"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
blk --store "$S" get x -o "$T/got"
cmp -s "$T/got" "$T/old" || cmp -s "$T/got" "$T/killed" || fail "x is neither the old nor the killed blob after serve died"
intact

# 2. The same, then an acknowledged write of the same id and a killed serve:
#    the acknowledged write stays, and the killed one never comes back.
serve "$S" "$T/serve2.log" tcp://127.0.0.1:0
put_killed x "$T/killed"
run 0 blk --store "$S" put --type t --id x "$T/acked"
[ "$(cat "$T/out")" = x ] || fail "the acknowledged put printed '$(cat "$T/out")', not its id"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
holds x "$T/acked"
intact

# 3. A write to another id is a later commit too: the killed write of y (a
#    new id) never appears after it.
serve "$S" "$T/serve3.log" tcp://127.0.0.1:0
put_killed y "$T/killed"
run 0 blk --store "$S" put --type t --id z "$T/old"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
expect_error 4 "no block with id 'y'" blk --store "$S" get y
holds z "$T/old"
holds x "$T/acked"
intact

echo "ok: a put killed in its commit is all or nothing, and never replaces a later acknowledged write"
