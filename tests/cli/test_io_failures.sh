#!/usr/bin/env bash
# I/O failures under the real binary: a full disk and a read-only file system
# (on a 2 MB tmpfs, so this needs root: without, it prints SKIP and passes),
# and a store folder removed while blk runs. Each must end in one
# 'blk: error:' line with its documented exit code, print no id or count for
# what it did not write, and leave a store that opens and passes
# integrity_check once the fault is gone.
. "$(dirname "$0")/lib.sh"
: "${T:?lib.sh did not load}"  # never mount or remove anything outside $T

M=$T/mnt
mkdir -p "$M"
if ! mount -t tmpfs -o size=2m tmpfs "$M" 2>"$T/mount.err"; then
  echo "SKIP: cannot mount a tmpfs: $(head -1 "$T/mount.err") (needs root)"
  exit 0
fi
# lib.sh's cleanup, after unmounting (rm -rf would stop at the mount).
trap 'umount -l "$M" 2>/dev/null; kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"' EXIT

# intact STORE: it opens (ls) and SQLite finds nothing wrong with it.
intact() {
  run 0 blk --store "$1" ls
  [ "$(sqlite3 "$1/blk.db" 'PRAGMA integrity_check')" = ok ] || fail "$1 fails integrity_check"
}

# fill [KB]: a file taking all the space left on the tmpfs but KB.
fill() {
  local avail
  avail=$(df -Pk "$M" | awk 'NR == 2 { print $4 }')
  dd if=/dev/zero of="$M/filler" bs=1k count=$((avail - ${1:-0})) 2>/dev/null || true
}

# Inputs bigger than the tmpfs: a 3 MB blob, 3 MB of JSON lines.
head -c 3000000 /dev/urandom >"$T/big"
python3 -c '
import base64, os
for i in range(100):
    print("{\"id\":\"row%d\",\"type\":\"row\",\"blob\":\"%s\"}" % (i, base64.b64encode(os.urandom(30000)).decode()))
' >"$T/big.jsonl"
head -c 500000 /dev/urandom >"$T/mid"

# The peer that syncs with the stores on the tmpfs.
O=$T/other
new_store "$O" other
serve "$O" "$T/serve.log" tcp://127.0.0.1:0
addr=tcp://127.0.0.1:$(port_of tcp "$T/serve.log")

# --- a full disk --------------------------------------------------------

S=$M/s
new_store "$S" s
echo kept | blk --store "$S" put -t note --id kept >/dev/null

# More than the disk holds: refused, nothing printed, nothing stored.
expect_error 1 'disk full' blk --store "$S" put -t file --id big "$T/big"
expect_error 4 'no block' blk --store "$S" get big
expect_error 1 'disk full' blk --store "$S" --json import "$T/big.jsonl"
run 0 blk --store "$S" ls
[ "$(cut -f1 "$T/out")" = kept ] || fail "a failed put or import left blocks: $(cat "$T/out")"
intact "$S"

# Not a byte left: a small write fits in the WAL's free pages or fails
# whole, never an id for a block that is not there.
fill
for i in 1 2 3; do
  got=0
  echo "small $i" | blk --store "$S" put -t note --id "small$i" >"$T/out" 2>"$T/err" || got=$?
  if [ $got = 0 ]; then
    [ "$(cat "$T/out")" = "small$i" ] || fail "put printed $(cat "$T/out")"
    [ "$(blk --store "$S" get "small$i")" = "small $i" ] || fail "acknowledged small$i is not there"
  else
    [ $got = 1 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" = 1 ] &&
      grep -q '^blk: error: disk full' "$T/err" ||
      fail "small put on a full disk: exit $got, out '$(cat "$T/out")', err '$(cat "$T/err")'"
    expect_error 4 'no block' blk --store "$S" get "small$i"
  fi
done

# A new store on a full disk: refused, and nothing left behind.
expect_error 1 'No space left' blk --store "$M/new" init
[ ! -e "$M/new" ] || fail "a failed init left $(ls -A "$M/new")"

# Space back: writes work again.
rm -f "$M/filler"
intact "$S"
echo after | blk --store "$S" put -t note --id after >/dev/null
[ "$(blk --store "$S" get after)" = after ] || fail "no write after the disk had space again"

# A sync that receives more than fits fails with the disk full error; run
# again with space, it completes.
rm -rf "${M:?}"/*
new_store "$S" s
blk --store "$S" peer add other "$(key "$O")"
blk --store "$O" peer add s "$(key "$S")"
blk --store "$O" put -t file --id mid "$T/mid" >/dev/null
fill 200
expect_error 1 'disk full' blk --store "$S" -q sync "$addr"
intact "$S"
expect_error 4 'no block' blk --store "$S" get mid
rm -f "$M/filler"
run 0 blk --store "$S" -q sync "$addr"
blk --store "$S" get mid | cmp -s - "$T/mid" || fail "mid differs after the sync with space"
intact "$S"

# --- a read-only file system --------------------------------------------

new_store "$T/third" third
echo one | blk --store "$S" put -t note --id one >/dev/null  # blk.db-wal stays
mount -o remount,ro "$M"
expect_error 13 'read-only' blk --store "$S" put -t note --id two "$T/big"
expect_error 13 'read-only' blk --store "$S" --json import "$T/big.jsonl"
expect_error 13 'read-only' blk --store "$S" rm mid
expect_error 13 'Read-only file system' blk --store "$S" peer add third "$(key "$T/third")"
expect_error 13 'Read-only file system' blk --store "$M/new" init
blk --store "$O" put -t note --id newer </dev/null >/dev/null
expect_error 13 'read-only' blk --store "$S" -q sync "$addr"
run 0 blk --store "$S" export  # reading needs no writing
[ "$(wc -l <"$T/out")" = 2 ] || fail "export on a read-only file system: $(cut -c1-200 "$T/out")"

# The same without blk.db-wal (a copy of blk.db alone, or a store the
# sqlite3 shell closed last), which SQLite would have to create to read.
mount -o remount,rw "$M"
intact "$S"
[ ! -e "$S/blk.db-wal" ] || fail "the sqlite3 shell left blk.db-wal"
mount -o remount,ro "$M"
run 0 blk --store "$S" export
[ "$(wc -l <"$T/out")" = 2 ] || fail "export of blk.db alone, read-only: $(cut -c1-200 "$T/out")"
expect_error 13 'read-only' blk --store "$S" put -t note --id two "$T/big"
mount -o remount,rw "$M"

# Writable again: all works, and nothing the read-only spell refused is there.
intact "$S"
echo two | blk --store "$S" put -t note --id two >/dev/null
run 0 blk --store "$S" -q sync "$addr"
[ "$(blk --store "$S" ls | cut -f1 | tr '\n' ' ')" = "mid newer one two " ] ||
  fail "after the read-only spell: $(blk --store "$S" ls)"

# --- the store folder removed while blk runs ----------------------------

# has_open PID FILE: waits until process PID has FILE open.
has_open() {
  local fd
  for _ in $(seq 1 200); do
    for fd in /proc/"$1"/fd/*; do
      [[ $(readlink "$fd" 2>/dev/null) == "$2" ]] && return 0
    done
    sleep 0.02
  done
  fail "process $1 never opened $2"
}

# removed_error: the last command's output in $T/out, $T/err, exit in $got.
removed_error() {
  [ "$got" = 10 ] || fail "$1 into a removed store exited $got: $(cat "$T/err")"
  [ ! -s "$T/out" ] || fail "$1 into a removed store printed $(cat "$T/out")"
  [ "$(wc -l <"$T/err")" = 1 ] && grep -q '^blk: error: store was removed' "$T/err" ||
    fail "$1 into a removed store: $(cat "$T/err")"
}

# A put that has the store open and is still reading its input: its commit
# lands in a file no name leads to any more, so it must not print the id.
R=$T/removed
new_store "$R"
mkfifo "$T/fifo"
"$BLK" --store "$R" put -t note --id gone <"$T/fifo" >"$T/out" 2>"$T/err" &
p=$!
exec 7>"$T/fifo"
echo "part 1" >&7
has_open $p "$R/blk.db"
rm -rf "$R"
echo "part 2" >&7
exec 7>&-
got=0
wait $p || got=$?
removed_error put
expect_error 10 'no store' blk --store "$R" ls

# The same for an import of a large file, the folder removed halfway.
new_store "$R"
(
  head -50 "$T/big.jsonl"
  while [ ! -e "$T/removed.done" ]; do sleep 0.02; done
  tail -n +51 "$T/big.jsonl"
) >"$T/fifo" &
"$BLK" --store "$R" --json import "$T/fifo" >"$T/out" 2>"$T/err" &
p=$!
has_open $p "$R/blk.db"
rm -rf "$R"
touch "$T/removed.done"
got=0
wait $p || got=$?
removed_error import

# serve: once its store is gone, the next sync ends it with exit 10 and one
# error line (a serve that stayed up would refuse every peer).
new_store "$R" r
blk --store "$R" peer add other "$(key "$O")"
blk --store "$O" peer add r "$(key "$R")"
serve "$R" "$T/serve-r.log" tcp://127.0.0.1:0
addr_r=tcp://127.0.0.1:$(port_of tcp "$T/serve-r.log")
run 0 blk --store "$O" -q sync "$addr_r"
rm -rf "$R"
run 1 blk --store "$O" -q sync "$addr_r"
got=0
wait "$pid" || got=$?
[ $got = 10 ] || fail "serve of a removed store exited $got: $(cat "$T/serve-r.log")"
[ "$(grep -c '^blk: error: ' "$T/serve-r.log")" = 1 ] &&
  tail -1 "$T/serve-r.log" | grep -q '^blk: error: no store at' ||
  fail "serve of a removed store: $(cat "$T/serve-r.log")"
intact "$O"

echo "io_failures: ok"
