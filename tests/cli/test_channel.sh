#!/usr/bin/env bash
# The authenticated channel end to end, with real processes: ping over
# loopback TCP, WebSocket and exec:, refusals the server logs, reflection,
# the handshake deadline, the cap on half-open connections, clean stops.
. "$(dirname "$0")/lib.sh"

A="$T/a" B="$T/b" C="$T/c"
new_store "$A" alpha
new_store "$B" beta
new_store "$C" gamma

blk --store "$B" peer add alpha "$(key "$A")"
serve "$B" "$T/b.log" tcp://127.0.0.1:0 ws://127.0.0.1:0/blk
bpid=$pid
tcp=$(port_of tcp "$T/b.log")
ws=$(port_of ws "$T/b.log")
blk --store "$A" peer add beta "$(key "$B")" "tcp://127.0.0.1:$tcp"

# Two stores that list each other can ping, over every transport.
run 0 blk --store "$A" ping beta
grep -qP "^beta\t$(key "$B" | sed 's/[+/]/\\&/g')\t[0-9.]+ ms$" "$T/out" ||
  fail "ping beta printed: $(cat "$T/out")"
run 0 blk --store "$A" --json ping "ws://127.0.0.1:$ws/blk"
grep -q '"peer":"beta".*"protocol":1,"rtt_ms":' "$T/out" || fail "ping over ws: $(cat "$T/out")"
run 0 blk --store "$A" ping "exec:$BLK --store $B serve --stdio"
grep -q '^beta' "$T/out" || fail "ping over exec: $(cat "$T/out")"
grep -q "authenticated as alpha (protocol 1)" "$T/b.log" || fail "server did not log the peer"

# ssh://: a stand-in ssh on PATH runs the remote command here, as sshd
# would (words joined, then a shell), so the quoting of ssh:// is real.
mkdir -p "$T/bin"
cat >"$T/bin/ssh" <<'SSH'
#!/bin/sh
[ "$1" = -p ] && shift 2
echo "$1" >"$(dirname "$0")/ssh-host"
shift
exec sh -c "$*"
SSH
chmod +x "$T/bin/ssh"
ln -s "$BLK" "$T/bin/blk"
mkdir -p "$T/dir with space"
cp -r "$B" "$T/dir with space/b"
PATH="$T/bin:$PATH" run 0 blk --store "$A" ping "ssh://me@example:2222$T/dir with space/b"
grep -q '^beta' "$T/out" || fail "ping over ssh://: $(cat "$T/out")"
[ "$(cat "$T/bin/ssh-host")" = me@example ] || fail "ssh was given host '$(cat "$T/bin/ssh-host")'"

# A secret key others can read is refused, with the fix in the message.
chmod 644 "$A/machine.key"
expect_error 1 "chmod 600" blk --store "$A" ping beta
chmod 600 "$A/machine.key"

# A store the server does not list is refused, and the server says why.
blk --store "$C" peer add beta "$(key "$B")" "tcp://127.0.0.1:$tcp"
expect_error 1 "the peer closed the connection during the handshake: it may not list this machine" blk --store "$C" ping beta
sleep 0.2
grep -q "handshake failed: key $(key "$C") is not in the manifest" "$T/b.log" ||
  fail "server did not log the unknown key: $(cat "$T/b.log")"

# The wrong responder: a peer entry naming beta with gamma's key.
blk --store "$A" peer add fake "$(key "$C")" "tcp://127.0.0.1:$tcp"
expect_error 1 "the peer has key $(key "$B" | sed 's/[+/]/\\&/g'), not fake's key" blk --store "$A" ping fake

# A WebSocket client on the wrong path, and a plain HTTP request: refused.
expect_error 1 "" blk --store "$A" ping "ws://127.0.0.1:$ws/wrong"
grep -q "asked for /wrong" "$T/b.log" || fail "server did not log the wrong ws path"

# Connecting to oneself: our own key coming back is refused on both ends.
serve "$A" "$T/a.log" tcp://127.0.0.1:0
self=$(port_of tcp "$T/a.log")
expect_error 1 "our own key" blk --store "$A" ping "tcp://127.0.0.1:$self"
apid=$pid

# Not a blk peer at all: garbage is refused at the hello.
exec 3<>"/dev/tcp/127.0.0.1/$tcp"
printf 'GET / HTTP/1.1\r\n\r\n' >&3
cat <&3 >/dev/null || true
exec 3>&-
sleep 0.2
grep -q "not a blk peer (wrong magic)" "$T/b.log" || fail "garbage was not refused at the hello"

# The cap on connections still in their handshake (64): the 65th and later
# are closed at once; a trickling client is cut at the 10 s deadline.
trap '' PIPE  # the server hangs up on the trickler: no SIGPIPE for us
fds=()
for i in $(seq 1 70); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$tcp"
  fds+=("$fd")
done
start=$(date +%s)
for i in 1 2 3 4 5 6; do printf 'b' >&"${fds[0]}" 2>/dev/null || true; sleep 2; done
for fd in "${fds[@]}"; do exec {fd}>&-; done
grep -q "refused: 64 connections already in their handshake" "$T/b.log" ||
  fail "the handshake cap did not hold: $(tail -3 "$T/b.log")"
grep -q "handshake not done within 10 s" "$T/b.log" || fail "no handshake deadline in the log"
[ $(($(date +%s) - start)) -le 14 ] || fail "the deadline took too long"

# After all that the server still answers, and SIGTERM stops it cleanly.
run 0 blk --store "$A" ping beta
kill -TERM "$bpid" "$apid"
wait "$bpid" || fail "serve exited $? on SIGTERM"
grep -q "stopping on SIGTERM" "$T/b.log" || fail "serve did not log its stop"

echo ok
