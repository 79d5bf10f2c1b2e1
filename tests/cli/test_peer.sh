#!/usr/bin/env bash
# blk peer add|ls|rm: the manifest's peers, edited as text so that what a
# person wrote in the file survives byte for byte.
. "$(dirname "$0")/lib.sh"

M="$BLK_STORE/manifest.toml"
new_store "$BLK_STORE" laptop
new_store "$T/phone" phone
new_store "$T/desktop" desktop
new_store "$T/tablet" tablet
phone_key=$(blk --store "$T/phone" id --key)
desktop_key=$(blk --store "$T/desktop" id --key)
tablet_key=$(blk --store "$T/tablet" id --key)  # valid, and in no manifest
own_key=$(blk id --key)

# A manifest a person has been editing: comments, blank lines, odd spacing.
cat >"$M" <<'EOF'
# My machines.   (kept byte for byte)

[machine]
name   = "laptop"    # this one
listen = [
  "tcp://0.0.0.0:7420",   # LAN
]

# trailing remark
EOF
cp "$M" "$T/original"

# add, with a key taken from another store, as `"$(ssh phone blk id --key)"` would.
run 0 blk peer add phone "$phone_key" tcp://192.168.1.20:7420 ws://relay.example:443/blk
[ ! -s "$T/out" ] || fail "peer add printed to stdout: $(cat "$T/out")"
run 0 blk peer add desktop "$desktop_key" --read-only
cat "$T/original" - >"$T/expected" <<EOF

[[peer]]
name = "phone"
key = "$phone_key"
address = ["tcp://192.168.1.20:7420", "ws://relay.example:443/blk"]
role = "read-write"

[[peer]]
name = "desktop"
key = "$desktop_key"
address = []
role = "read-only"
EOF
diff "$T/expected" "$M" || fail "peer add did not append exactly two [[peer]] tables"

# ls: NAME KEY ROLE ADDRESSES, tab-separated, in file order; --json per line.
run 0 blk peer ls
printf '%s\t%s\t%s\t%s\n' phone "$phone_key" read-write \
  tcp://192.168.1.20:7420,ws://relay.example:443/blk desktop "$desktop_key" read-only "" \
  >"$T/want"
diff "$T/want" "$T/out" || fail "peer ls printed something else"
run 0 blk peer ls --json
[ "$(wc -l <"$T/out")" = 2 ] || fail "peer ls --json did not print 2 lines"
grep -qxF "{\"name\":\"phone\",\"key\":\"$phone_key\",\"role\":\"read-write\",\"address\":[\"tcp://192.168.1.20:7420\",\"ws://relay.example:443/blk\"]}" \
  "$T/out" || fail "peer ls --json line for phone: $(head -1 "$T/out")"
grep -qxF "{\"name\":\"desktop\",\"key\":\"$desktop_key\",\"role\":\"read-only\",\"address\":[]}" \
  "$T/out" || fail "peer ls --json line for desktop: $(tail -1 "$T/out")"

# Refused, with the manifest left byte-identical: bad keys, bad addresses,
# bad names, doubles, our own key.
cp "$M" "$T/before"
unchanged() { cmp -s "$T/before" "$M" || fail "a refused 'peer $*' changed the manifest"; }
expect_error 2 "key is not 32 bytes of base64" blk peer add tablet not-a-key tcp://t:1
unchanged add bad key
expect_error 2 "key is not 32 bytes of base64" blk peer add tablet "${phone_key:0:40}" tcp://t:1
unchanged add short key
expect_error 2 "small-order" blk peer add tablet AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= tcp://t:1
unchanged add small-order key
expect_error 2 "'tcp://t' is not an address: missing :PORT" blk peer add tablet "$tablet_key" tcp://t
unchanged add bad address
expect_error 2 "port 0 is out of range" blk peer add tablet "$tablet_key" tcp://t:0
unchanged add port 0
expect_error 2 "peer name has a character outside" blk peer add 'my tablet' "$tablet_key"
unchanged add bad name
expect_error 2 "a peer named 'phone' already exists \(.*manifest.toml:11\)" \
  blk peer add phone "$tablet_key" tcp://t:1
unchanged add duplicate name
expect_error 2 "peer 'desktop' \(.*manifest.toml:17\) already has this key" \
  blk peer add tablet "$desktop_key"
unchanged add duplicate key
expect_error 2 "this machine's own \(blk id --key\)" blk peer add me "$own_key"
unchanged add own key
expect_error 2 "this machine's own name" blk peer add laptop "$tablet_key"
unchanged add own name
expect_error 4 "no peer named 'tablet'" blk peer rm tablet
unchanged rm unknown

# rm: exactly that peer's table goes; everything else stays.
run 0 blk peer rm phone
cat "$T/original" - >"$T/expected" <<EOF

[[peer]]
name = "desktop"
key = "$desktop_key"
address = []
role = "read-only"
EOF
diff "$T/expected" "$M" || fail "peer rm phone removed something else"
run 0 blk peer rm desktop
diff "$T/original" "$M" || fail "add then rm did not give back the original manifest"

# rm takes the comment lines directly above the header with it, and leaves
# the next table's own comment.
cat >>"$M" <<EOF

# the phone: keep it charged
[[peer]]
name = "phone"   # in my pocket
key = "$phone_key"

# the desktop
[[peer]]
name = "desktop"
key = "$desktop_key"
EOF
run 0 blk peer rm phone
cat "$T/original" - >"$T/expected" <<EOF

# the desktop
[[peer]]
name = "desktop"
key = "$desktop_key"
EOF
diff "$T/expected" "$M" || fail "peer rm did not remove just the peer and its comment"

# Two stores that know each other, keys swapped the way the README shows.
B="$T/b"
new_store "$B" b
run 0 blk peer add x "$(blk --store "$B" id --key)" tcp://127.0.0.1:7420
run 0 blk --store "$B" peer add laptop "$(blk id --key)" tcp://127.0.0.1:7421
run 0 blk --store "$B" peer ls
[ "$(cut -f1,2 "$T/out")" = "laptop	$own_key" ] || fail "store b lists $(cat "$T/out")"

# Edits at the same time do not lose one another (the store is locked while
# one reads, changes and replaces the file).
keys=()
for i in 1 2 3 4 5 6; do
  new_store "$T/c$i" "c$i"
  keys+=("$(blk --store "$T/c$i" id --key)")
done
for i in 1 2 3 4 5 6; do blk peer add "c$i" "${keys[$((i - 1))]}" & done
wait
run 0 blk peer ls
for i in 1 2 3 4 5 6; do grep -q "^c$i	" "$T/out" || fail "concurrent adds lost c$i"; done
for i in 1 2 3 4 5 6; do run 0 blk peer rm "c$i"; done

# A manifest kept elsewhere through a symlink stays a symlink; its target changes.
mv "$M" "$T/dotfiles-manifest.toml"
ln -s "$T/dotfiles-manifest.toml" "$M"
run 0 blk peer rm x
[ -L "$M" ] || fail "peer rm replaced the symlinked manifest with a file"
grep -q 'name = "x"' "$T/dotfiles-manifest.toml" && fail "peer rm did not edit the symlink's target"

# A hand-broken manifest: the error names the file and the line, and
# nothing is written.
printf '\n[[peer]]\nname = "tablet"\nkey = "short"\n' >>"$M"
cp "$M" "$T/before"
line=$(grep -n 'key = "short"' "$M" | cut -d: -f1)
expect_error 5 "manifest.toml:$line: peer \"tablet\": key is not 32 bytes of base64" blk peer ls
expect_error 5 "manifest.toml:$line:" blk peer add y "$tablet_key"
unchanged add to a broken manifest
expect_error 5 "manifest.toml:$line:" blk peer rm x
unchanged rm from a broken manifest
printf 'name = 1\n' >"$M.tmp" && cat "$M" >>"$M.tmp" && mv "$M.tmp" "$M"
expect_error 5 "manifest.toml:1: unknown key 'name'" blk peer ls

# The example manifests in manifests/ are valid, and ls shows their peers.
for example in "$BLK_SOURCE_DIR"/manifests/*.toml "$BLK_SOURCE_DIR"/manifests/*/*.toml; do
  cp "$example" "$M"
  run 0 blk peer ls
  [ "$(wc -l <"$T/out")" = "$(grep -c '^\[\[peer\]\]' "$example")" ] ||
    fail "peer ls of $example: $(cat "$T/err")"
done

# No store: the usual exit code 10.
expect_error 10 "no store" blk --store "$T/nowhere" peer ls

echo ok
