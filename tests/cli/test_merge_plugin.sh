#!/usr/bin/env bash
# Merge plugins end to end: merge-plugin add/ls/rm/test with the example
# plugins; concurrent edits merged by a plugin the same on both machines;
# plugins that crash, hang, answer garbage or were built for another ABI,
# each failing only its merge (the versions are held, nothing is lost);
# held versions applied once a plugin can merge them.
. "$(dirname "$0")/lib.sh"

PLUGINS=$(cd "$(dirname "$BLK")/../plugins" && pwd)
JSON=$PLUGINS/json_fields.so
BAD=$PLUGINS/testing
for f in "$JSON" "$BAD/crash.so" "$BAD/hang.so" "$BAD/garbage.so" "$BAD/wrong_abi.so"; do
  [ -f "$f" ] || fail "missing plugin $f (built with blk)"
done

A="$T/a" B="$T/b"
new_store "$A" alpha
new_store "$B" beta
blk --store "$A" peer add beta "$(key "$B")" "exec:$BLK --store $B serve --stdio"
blk --store "$B" peer add alpha "$(key "$A")"
put() { printf '%s' "$3" | blk --store "$1" put --type "${4:-json}" --id "$2" >/dev/null; }
get() { blk --store "$1" get "$2"; }

# ---- add, ls, test, rm
run 0 blk --store "$A" merge-plugin add "$JSON"
grep -q "added merge plugin 'json_fields' for json:1" "$T/err" || fail "add said: $(cat "$T/err")"
[ -f "$A/plugins/json_fields.so" ] || fail "add did not copy the plugin into the store"
run 0 blk --store "$A" merge-plugin ls
[ "$(cat "$T/out")" = "$(printf 'json_fields\tjson:1\tworker\tok')" ] || fail "ls: $(cat "$T/out")"
run 0 blk --store "$A" --json merge-plugin ls
grep -q '"name":"json_fields","file":"json_fields.so","types":\[{"type":"json","max_schema":1}\],"in_process":false,"failures":0,"disabled":""' "$T/out" ||
  fail "ls --json: $(cat "$T/out")"

printf '{"a":1,"b":1}' >"$T/x.json"
printf '{"b":2,"c":3}' >"$T/y.json"
touch -d '2026-01-01 00:00 UTC' "$T/x.json"
touch -d '2026-01-02 00:00 UTC' "$T/y.json"   # y is later: its b wins
# a, from the earlier x, keeps x's stamp (its time, the test's machine id
# for A, the hash of its value); the merged version has y's.
want='{"_blk_stamps":{"a":[1767225600000,"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","af63ac4c86019afc"]},"a":1,"b":2,"c":3}'
run 0 blk --store "$A" merge-plugin test json_fields --type json "$T/x.json" "$T/y.json"
[ "$(cat "$T/out")" = "$want" ] || fail "test merged to $(cat "$T/out")"
run 0 blk --store "$A" merge-plugin test json_fields --type json "$T/y.json" "$T/x.json"
# Swapped, x is B: the same merge, a's stamp now names the machine id for B.
[ "$(cat "$T/out")" = "${want//aaaaaaaa/bbbbbbbb}" ] || fail "test with A and B swapped: $(cat "$T/out")"
run 0 blk merge-plugin test "$JSON" --type json "$T/x.json" "$T/y.json"   # a file, no store
printf 'not json' >"$T/bad.json"
expect_error 1 "did not merge them \(cannot merge\)" blk --store "$A" merge-plugin test json_fields --type json "$T/x.json" "$T/bad.json"
expect_error 2 "does not merge type 'note'" blk --store "$A" merge-plugin test json_fields --type note "$T/x.json" "$T/y.json"
expect_error 4 "no merge plugin named 'nope'" blk --store "$A" merge-plugin test nope --type json "$T/x.json" "$T/y.json"

# Not plugins: clear errors, exit 5, nothing installed.
h=$(store_hash "$A")
head -c 1000 /dev/urandom >"$T/random.so"
expect_error 5 "is not a usable merge plugin" blk --store "$A" merge-plugin add "$T/random.so"
expect_error 5 "built for merge ABI version 2|speaks 1" blk --store "$A" merge-plugin add "$BAD/wrong_abi.so"
expect_error 5 "has no blk_merge_plugin_v1" blk --store "$A" merge-plugin add "$BAD/no_entry.so"
expect_error 5 "is not a file" blk --store "$A" merge-plugin add "$T"
expect_error 2 "already merged by plugin 'json_fields'" blk --store "$A" merge-plugin add --name other "$JSON"
[ "$(store_hash "$A")" = "$h" ] || fail "a refused add changed the store"
expect_error 4 "no merge plugin named 'nope'" blk --store "$A" merge-plugin rm nope

# ---- concurrent edits merged field by field, the same on both machines
run 0 blk --store "$B" merge-plugin add "$JSON"
put "$A" doc '{"title":"draft","tags":["x"]}'
run 0 blk --store "$A" sync beta
put "$A" doc '{"title":"final","tags":["x"]}'
sleep 0.01
put "$B" doc '{"title":"draft","tags":["x"],"done":true}'
run 0 blk --store "$A" --json sync beta
grep -q '"merged":1' "$T/out" || fail "no merge reported: $(cat "$T/out")"
[ "$(get "$A" doc)" = "$(get "$B" doc)" ] || fail "A has $(get "$A" doc), B has $(get "$B" doc)"
grep -q '"done":true' <(get "$A" doc) || fail "merged doc lost B's field: $(get "$A" doc)"
run 0 blk --store "$A" --json sync beta
grep -q '"received":0,"merged":0' "$T/out" || fail "a merged block travelled again: $(cat "$T/out")"

# ---- a plugin that crashes: that merge fails, its versions are held, blk
# goes on; told once; disabled after three failures in a row. (The test
# plugins merge types named after them: crash, hang, garbage.)
C="$T/c"
new_store "$C" gamma
blk --store "$C" peer add beta "$(key "$B")" "exec:$BLK --store $B serve --stdio"
blk --store "$B" peer add gamma "$(key "$C")"
run 0 blk --store "$C" merge-plugin add "$BAD/crash.so"
run 0 blk --store "$B" merge-plugin add "$BAD/crash.so" --name crash_b
for i in 1 2 3 4; do put "$B" "k$i" "$i" crash; done
put "$B" plain "untouched by plugins" note
run 0 blk --store "$C" sync beta
for i in 1 2 3 4; do put "$C" "k$i" "1$i" crash; put "$B" "k$i" "2$i" crash; done
put "$B" plain2 "still synced" note
run 0 blk --store "$C" --json sync beta
grep -q '"held":4' "$T/out" || fail "crashing plugin: $(cat "$T/out")"
[ "$(grep -c "warning: merge plugin 'crash' failed" "$T/err")" = 1 ] ||
  fail "expected one warning: $(cat "$T/err")"
[ "$(get "$C" plain2)" = "still synced" ] || fail "a crashing plugin stopped the rest of the sync"
[ "$(get "$C" k1)" = 11 ] || fail "C's own version was lost: $(get "$C" k1)"
run 0 blk --store "$C" ls --held
[ "$(wc -l <"$T/out")" = 4 ] || fail "ls --held: $(cat "$T/out")"
grep -qP '^k1\tcrash\t0\t.*merge plugin .crash. failed: the merge worker crashed' "$T/out" ||
  fail "ls --held: $(cat "$T/out")"
run 0 blk --store "$C" merge-plugin ls
grep -qP '^crash\tcrash:1\tworker\tdisabled: failed 3 merges in a row' "$T/out" ||
  fail "not disabled after 3 failures: $(cat "$T/out")"
run 0 blk --store "$C" status
grep -qP '^beta\t.*4 held\tok' "$T/out" || fail "status: $(cat "$T/out")"
[ "$(sqlite3 "$C/blk.db" 'pragma integrity_check')" = ok ] || fail "integrity_check"

# A plugin that can merge them applies the held versions, as a sync would
# have: here max_score (the C example) built for type crash.
cc -shared -fPIC -fvisibility=hidden -I"$BLK_SOURCE_DIR/include" \
  -D'BLK_PLUGIN_TYPES={"crash", 1}' -o "$T/max_crash.so" "$BLK_SOURCE_DIR/plugins/max_score/max_score.c"
run 0 blk --store "$C" merge-plugin rm crash
run 0 blk --store "$C" merge-plugin add "$T/max_crash.so"
grep -q "held versions: 4 merged, 0 still held" "$T/err" || fail "add: $(cat "$T/err")"
run 0 blk --store "$C" ls --held
[ ! -s "$T/out" ] || fail "still held: $(cat "$T/out")"
[ "$(get "$C" k3)" = 23 ] || fail "k3 merged to $(get "$C" k3)"
run 0 blk --store "$B" merge-plugin rm crash_b
run 0 blk --store "$B" merge-plugin add "$T/max_crash.so"
grep -q "held versions: 4 merged, 0 still held" "$T/err" || fail "add on B: $(cat "$T/err")"
run 0 blk --store "$C" --json sync beta
grep -q '"received":0,"merged":0' "$T/out" || fail "B and C merged differently: $(cat "$T/out")"
for i in 1 2 3 4; do
  [ "$(get "$C" "k$i")" = "$(get "$B" "k$i")" ] || fail "k$i: C $(get "$C" "k$i"), B $(get "$B" "k$i")"
done

# ---- a plugin that hangs: killed at the deadline; one that answers garbage.
for bad in hang garbage; do
  S="$T/s-$bad"
  new_store "$S" "s-$bad"
  blk --store "$S" peer add beta "$(key "$B")" "exec:$BLK --store $B serve --stdio"
  blk --store "$B" peer add "s-$bad" "$(key "$S")"
  put "$B" "$bad" "base" "$bad"
  run 0 blk --store "$S" sync beta
  run 0 blk --store "$S" merge-plugin add "$BAD/$bad.so"
  run 0 blk --store "$B" merge-plugin add "$BAD/$bad.so" --name "${bad}_b"
  put "$S" "$bad" "mine" "$bad"
  put "$B" "$bad" "theirs" "$bad"
  start=$SECONDS
  run 0 env BLK_MERGE_TIMEOUT_MS=300 "$BLK" --store "$S" --json sync beta
  ((SECONDS - start < 20)) || fail "$bad: sync took $((SECONDS - start)) s"
  grep -q '"held":1' "$T/out" || fail "$bad: $(cat "$T/out")"
  [ "$(get "$S" "$bad")" = mine ] || fail "$bad: own version lost"
  run 0 blk --store "$S" ls --held
  grep -q "merge plugin '$bad' failed" "$T/out" || fail "$bad: ls --held: $(cat "$T/out")"
done
run 0 blk --store "$T/s-hang" ls --held
grep -q "did not answer within 300 ms" "$T/out" || fail "hang: $(cat "$T/out")"

# ---- schema above what the plugin understands: held, then applied once a
# plugin that understands it is added (here: the same plugin is replaced
# by a build that claims schema 2 is fine — json_fields built for it).
S="$T/schema"
new_store "$S" schema
blk --store "$S" peer add beta "$(key "$B")" "exec:$BLK --store $B serve --stdio"
blk --store "$B" peer add schema "$(key "$S")"
run 0 blk --store "$S" merge-plugin add "$JSON"
run 0 blk --store "$S" sync beta
put "$S" k2 '{"mine":1}'
printf '{"theirs":2}' | blk --store "$B" put --type json --id k2 --schema 2 >/dev/null
run 0 blk --store "$S" --json sync beta
grep -q '"held":1' "$T/out" || fail "schema 2: $(cat "$T/out")"
run 0 blk --store "$S" ls --held
grep -q "schema 2 is above the 1 that merge plugin 'json_fields' understands" "$T/out" ||
  fail "schema: $(cat "$T/out")"
run 0 blk --store "$S" merge-plugin rm json_fields
run 0 blk --store "$S" merge-plugin add "$JSON"   # still schema 1: stays held
grep -q "0 merged, 1 still held" "$T/err" || fail "re-add: $(cat "$T/err")"

echo "ok: merge plugins"
