#!/usr/bin/env bash
# The local commands as a user runs them: init, id, put, get, ls, rm.
. "$(dirname "$0")/lib.sh"

# init: a store with a private key, a manifest and a database.
run 0 blk init --name laptop
grep -q "created store $BLK_STORE" "$T/err" || fail "init did not say where: $(cat "$T/err")"
[ "$(stat -c %a "$BLK_STORE/machine.key")" = 600 ] || fail "machine.key is not mode 600"
grep -q 'name = "laptop"' "$BLK_STORE/manifest.toml" || fail "manifest lacks the machine name"
h=$(store_hash)
expect_error 14 "already exists" blk init
[ "$(store_hash)" = "$h" ] || fail "a refused init changed the store"

# id: the id is derived from the key; --key prints the key alone; --json both.
run 0 blk id --json
id=$(sed -E 's/.*"machine_id":"([0-9a-f]+)".*/\1/' "$T/out")
key=$(sed -E 's/.*"public_key":"([^"]+)".*/\1/' "$T/out")
[ ${#id} = 32 ] || fail "machine id '$id' is not 32 hex digits"
run 0 blk id --key
[ "$(cat "$T/out")" = "$key" ] || fail "id --key printed '$(cat "$T/out")', not '$key'"
run 0 blk id
grep -q "^machine $id$" "$T/out" || fail "id does not print the machine id"

# put/get: 1 MiB of random bytes in and out unchanged, from a file and stdin.
head -c 1048576 /dev/urandom >"$T/random"
run 0 blk put --type file --id rand "$T/random"
[ "$(cat "$T/out")" = rand ] || fail "put printed '$(cat "$T/out")', not the id"
blk get rand >"$T/back"
cmp "$T/random" "$T/back" || fail "1 MiB blob came back different"
gen=$(blk put -t file <"$T/random")
[[ $gen =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] ||
  fail "generated id '$gen' is not a UUIDv7"
blk get "$gen" -o "$T/back2"
cmp "$T/random" "$T/back2" || fail "get -o FILE wrote different bytes"
printf '' | blk put -t empty --id empty >/dev/null
[ "$(blk get empty | wc -c)" = 0 ] || fail "an empty blob did not come back empty"

# get --json: the whole block, blob in base64.
run 0 blk get --json rand
grep -q '"id":"rand","type":"file"' "$T/out" || fail "get --json lacks id/type: $(head -c 200 "$T/out")"
grep -o '"blob":"[^"]*"' "$T/out" | cut -d'"' -f4 | base64 -d | cmp - "$T/random" ||
  fail "get --json blob does not decode to the original"

# Updating keeps created_at and advances modified_at.
echo one | blk put -t note --id n >/dev/null
c1=$(blk get --json n | sed -E 's/.*"created_at":([0-9]+).*/\1/')
m1=$(blk get --json n | sed -E 's/.*"modified_at":([0-9]+).*/\1/')
echo two | blk put -t note --id n >/dev/null
[ "$(blk get n)" = two ] || fail "update did not replace the blob"
c2=$(blk get --json n | sed -E 's/.*"created_at":([0-9]+).*/\1/')
m2=$(blk get --json n | sed -E 's/.*"modified_at":([0-9]+).*/\1/')
[ "$c1" = "$c2" ] || fail "update changed created_at"
[ "$m2" -gt "$m1" ] || fail "update did not advance modified_at ($m1 -> $m2)"

# put --schema keeps the app's version tag.
echo s | blk put -t note --id sch --schema 7 >/dev/null
blk get --json sch | grep -q '"schema":7' || fail "schema not stored"

# ls: one line per block, columns ID TYPE SIZE MODIFIED; filters.
run 0 blk ls
[ "$(wc -l <"$T/out")" = 5 ] || fail "ls listed $(wc -l <"$T/out") blocks, expected 5"
grep -qP '^rand\tfile\t1048576\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$' "$T/out" ||
  fail "ls line for rand is not ID TYPE SIZE TIME: $(grep rand "$T/out")"
run 0 blk ls --type note
[ "$(cut -f1 "$T/out" | tr '\n' ' ')" = "n sch " ] || fail "ls --type note: $(cat "$T/out")"
run 0 blk ls --since 2999-01-01
[ ! -s "$T/out" ] || fail "ls --since the future listed something"
run 0 blk ls --since 1970-01-01 --json
[ "$(wc -l <"$T/out")" = 5 ] || fail "ls --json did not list 5 objects"
grep -q '"id":"rand".*"size":1048576}' "$T/out" || fail "ls --json lacks size"
expect_error 2 "not a time" blk ls --since yesterday

# rm: tombstones; get of a deleted block fails with 4; all or nothing.
run 0 blk rm n
expect_error 4 "no block with id 'n' \(it was deleted\)" blk get n
run 0 blk ls --deleted
grep -qP '^n\tnote\tdeleted\t' "$T/out" || fail "ls --deleted does not show the tombstone"
run 0 blk ls
grep -q '^n	' "$T/out" && fail "ls shows a deleted block"
run 0 blk rm n   # already deleted: nothing to do
h=$(store_hash)
expect_error 4 "no block with id 'missing'" blk rm sch missing
[ "$(store_hash)" = "$h" ] || fail "a failed rm changed the store"
[ "$(blk get sch)" = s ] || fail "a failed rm deleted another block"
echo back | blk put -t note --id n >/dev/null
[ "$(blk get n)" = back ] || fail "a write after delete did not bring the block back"

# A missing block: nothing on stdout, one line, code 4.
expect_error 4 "no block with id 'nope'" blk get nope

echo ok
