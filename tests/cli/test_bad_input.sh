#!/usr/bin/env bash
# Bad input of every kind the foundation knows: each a one-line error with its
# documented exit code, nothing on stdout, and the store exactly as it was.
. "$(dirname "$0")/lib.sh"

new_store
echo keep | blk put -t note --id keep >/dev/null
h=$(store_hash)
unchanged() { [ "$(store_hash)" = "$h" ] || fail "store changed after: $*"; }

# Usage errors: exit 2.
expect_error 2 "not a blk command" blk frobnicate
expect_error 2 "subcommand is required" blk
expect_error 2 "--type is required" blk put /dev/null
expect_error 2 "type is empty" blk put --type '' /dev/null; unchanged "empty type"
expect_error 2 "id is 256 bytes long; the limit is 255" blk put -t t --id "$(printf 'x%.0s' {1..256})" /dev/null
unchanged "over-long id"
expect_error 2 "id has a character outside" blk put -t t --id 'a b' /dev/null; unchanged "bad id"
expect_error 2 "id has a character outside" blk get 'a/../b c'
expect_error 2 "type has a character" blk ls --type 'no such'
expect_error 2 "schema" blk put -t t --schema -1 /dev/null; unchanged "negative schema"
expect_error 2 "schema" blk put -t t --schema 4294967296 /dev/null; unchanged "schema > u32"
expect_error 2 "not expected" blk get keep extra

# Bad data: exit 5.
head -c $((16 * 1024 * 1024 + 1)) /dev/zero >"$T/big"
expect_error 5 "over the limit of 16777216 bytes" blk put -t t --id big "$T/big"; unchanged "big blob"
head -c $((16 * 1024 * 1024)) /dev/zero >"$T/max"
run 0 blk put -t t --id max "$T/max"   # exactly the limit is fine
h=$(store_hash)
expect_error 5 "cannot open $T/nonexistent" blk put -t t "$T/nonexistent"; unchanged "missing file"

# An import with one malformed line imports nothing and names the line.
{
  echo '{"id":"i1","type":"t","blob":"aGk="}'
  echo '{"id":"i2","type":"t","blob":"aGk="}'
  echo '{"id":"i3","type":"t","blob":"not base64!"}'
  echo '{"id":"i4","type":"t","blob":"aGk="}'
} >"$T/bad.jsonl"
expect_error 5 "line 3: \"blob\" is not valid base64" blk import "$T/bad.jsonl"; unchanged "bad import"
printf '{"id":"i1","type":"t","blob":"aGk="}\n{"id":"bad id","type":"t","blob":""}\n' |
  expect_error 5 "line 2: id has a character outside" blk import; unchanged "import bad id"
printf '{"id":"i1","type":"t","blob":"aGk="}\n{oops\n' |
  expect_error 5 "line 2: not valid JSON" blk import; unchanged "import bad JSON"

# Missing store: exit 10, and the error says how to make one.
expect_error 10 "no store at $T/none; create one with 'blk init'" blk --store "$T/none" ls
expect_error 10 "blk init" env BLK_STORE="$T/none" "$BLK" get x
[ ! -e "$T/none" ] || fail "a command on a missing store created it"

# Not a blk store: random bytes, an empty file, a foreign SQLite database.
mkdir -p "$T/junk" "$T/empty" "$T/foreign"
head -c 65536 /dev/urandom >"$T/junk/blk.db"
cp "$T/junk/blk.db" "$T/junk.orig"
expect_error 12 "damaged or not a blk store" blk --store "$T/junk" ls
expect_error 12 "damaged or not a blk store" blk --store "$T/junk" put -t t /dev/null
cmp "$T/junk/blk.db" "$T/junk.orig" || fail "blk wrote into a file that is not a store"
: >"$T/empty/blk.db"
expect_error 12 "not a blk store" blk --store "$T/empty" ls
[ ! -s "$T/empty/blk.db" ] || fail "blk wrote into an empty file"
sqlite3 "$T/foreign/blk.db" 'create table x(y); insert into x values (1);'
expect_error 12 "not a blk store" blk --store "$T/foreign" put -t t /dev/null
[ "$(sqlite3 "$T/foreign/blk.db" 'select count(*) from sqlite_master')" = 1 ] ||
  fail "blk changed a foreign database"

# A store from a newer blk.
cp -r "$BLK_STORE" "$T/newer"
sqlite3 "$T/newer/blk.db" 'pragma user_version = 99'
expect_error 12 "newer than this blk" blk --store "$T/newer" get keep

# A read-only store: writes refused with 13, nothing changed. Root ignores
# file modes, so as root the check runs as 'nobody'.
cp -r "$BLK_STORE" "$T/ro"
chmod 755 "$T" && chmod -R a+rX,a-w "$T/ro"
as_reader() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  as_reader() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
fi
hro=$(store_hash "$T/ro")
expect_error 13 "(read-only|cannot be written)" as_reader "$BLK" --store "$T/ro" put -t t --id new /dev/null
expect_error 13 "(read-only|cannot be written)" as_reader "$BLK" --store "$T/ro" rm keep
[ "$(store_hash "$T/ro")" = "$hro" ] || fail "a read-only store changed"
chmod -R u+w "$T/ro"

# A store locked by another process past the busy timeout: exit 11.
# (sqlite3 holds an exclusive lock while blk waits its 10 s out.)
( sqlite3 "$BLK_STORE/blk.db" 'begin exclusive; select 1;' '.shell sleep 12' 'commit;' >/dev/null ) &
sleep 1
expect_error 11 "locked" blk put -t t --id late /dev/null
wait
blk get late >/dev/null 2>&1 && fail "a locked-out put was stored"

unchanged "all of the above"
echo ok
