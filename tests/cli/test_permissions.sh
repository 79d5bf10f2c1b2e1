#!/usr/bin/env bash
# Write permissions from the manifest (man 5 blk-manifest, PERMISSIONS): a
# read-only peer's writes are refused and reported, write_types limits what
# a peer may write, and an owner-only block is not changed by another
# user's machine — the same decision on every machine.
. "$(dirname "$0")/lib.sh"

A="$T/a" B="$T/b" C="$T/c"
new_store "$A" alpha
new_store "$B" beta
new_store "$C" gamma
put() { printf '%s' "$3" | blk --store "$1" put --type "${4:-note}" --id "$2" >/dev/null; }
get() { blk --store "$1" get "$2"; }
exec_addr() { echo "exec:$BLK --store $1 serve --stdio"; }

# ---- read-only: alpha lists beta as read-only; beta's writes do not land.
blk --store "$A" peer add --read-only beta "$(key "$B")" "$(exec_addr "$B")"
blk --store "$B" peer add alpha "$(key "$A")"
put "$A" a1 "alpha's"
put "$B" b1 "beta's"
run 0 blk --store "$A" --json sync beta
grep -q '"received":0,.*"denied":1' "$T/out" || fail "read-only: $(cat "$T/out")"
run 4 blk --store "$A" get b1
[ "$(get "$B" a1)" = "alpha's" ] || fail "a read-only peer could not read"
run 0 blk --store "$A" sync beta
grep -qP '^beta\tok\t.*' "$T/out" || fail "text summary: $(cat "$T/out")"
# Beta editing alpha's block: refused too, alpha keeps its own.
put "$B" a1 "beta changed it"
run 0 blk --store "$A" sync beta
grep -q "denied 1 (not theirs to write)" "$T/out" || fail "summary: $(cat "$T/out")"
[ "$(get "$A" a1)" = "alpha's" ] || fail "a read-only peer changed a block: $(get "$A" a1)"

# ---- write_types: gamma may write tasks only.
cat >>"$A/manifest.toml" <<TOML

[[peer]]
name = "gamma"
key = "$(key "$C")"
address = ["$(exec_addr "$C")"]
write_types = ["task"]
TOML
blk --store "$C" peer add alpha "$(key "$A")"
put "$C" t1 "a task" task
put "$C" n1 "a note" note
run 0 blk --store "$A" --json sync gamma
grep -q '"received":1,.*"denied":1' "$T/out" || fail "write_types: $(cat "$T/out")"
[ "$(get "$A" t1)" = "a task" ] || fail "an allowed type was refused"
run 4 blk --store "$A" get n1

# ---- owner-only: two users, alice (alpha, delta) and bob (epsilon).
D="$T/d" E="$T/e"
new_store "$D" delta
new_store "$E" epsilon
manifest() {  # manifest STORE NAME USER: the same peers and users everywhere
  local self=$1 name=$2 user=$3
  {
    printf '[machine]\nname = "%s"\nuser = "%s"\n\n[types]\nowner_only = ["budget"]\n' "$name" "$user"
    for p in "delta:$D:alice" "epsilon:$E:bob" "zeta:$T/z:alice"; do
      IFS=: read -r pname pstore puser <<<"$p"
      [ "$pname" = "$name" ] && continue
      printf '\n[[peer]]\nname = "%s"\nkey = "%s"\naddress = ["%s"]\nuser = "%s"\n' \
        "$pname" "$(key "$pstore")" "$(exec_addr "$pstore")" "$puser"
    done
  } >"$self/manifest.toml"
}
new_store "$T/z" zeta
manifest "$D" delta alice
manifest "$E" epsilon bob
manifest "$T/z" zeta alice
put "$D" plan "alice's budget" budget
put "$D" shared "a plain note"
run 0 blk --store "$E" sync delta
[ "$(get "$E" plan)" = "alice's budget" ] || fail "bob's machine could not read alice's budget"
# Bob cannot change it locally: exit 15, nothing written.
h=$(store_hash "$E")
printf 'bob was here' | expect_error 15 "cannot write 'plan': type 'budget' is owner-only" \
  blk --store "$E" put --type budget --id plan
expect_error 15 "owner-only" blk --store "$E" rm plan
[ "$(store_hash "$E")" = "$h" ] || fail "a refused local write changed the store"
# ...nor by dropping owner_only from his own manifest: alice's machines,
# which share the real one, deny his version on sync.
sed -i 's/^owner_only = .*/owner_only = []/' "$E/manifest.toml"
put "$E" plan "bob was here" budget
manifest "$E" epsilon bob
put "$E" shared "bob may edit notes"
put "$E" mine "bob's budget" budget
run 0 blk --store "$D" --json sync epsilon
grep -q '"received":2,.*"denied":1' "$T/out" || fail "owner-only on sync: $(cat "$T/out")"
[ "$(get "$D" plan)" = "alice's budget" ] || fail "bob changed alice's budget: $(get "$D" plan)"
[ "$(get "$D" shared)" = "bob may edit notes" ] || fail "a plain note was refused"
[ "$(get "$D" mine)" = "bob's budget" ] || fail "bob's own budget block did not arrive"
# Alice's other machine may change alice's budget.
run 0 blk --store "$T/z" sync delta
put "$T/z" plan "alice again" budget
run 0 blk --store "$T/z" --json sync delta
grep -q '"denied":0' "$T/out" || fail "alice's own machine was denied: $(cat "$T/out")"
[ "$(get "$D" plan)" = "alice again" ] || fail "delta did not take zeta's change"
# Alice's machines cannot change bob's budget block.
h=$(store_hash "$D")
printf 'alice was here' | expect_error 15 "belongs to user 'bob'" blk --store "$D" put --type budget --id mine
[ "$(store_hash "$D")" = "$h" ] || fail "a refused local write changed the store"

echo "ok: permissions"
