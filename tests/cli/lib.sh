# Shared helpers for the end-to-end suites: each suite sources this, runs the
# real blk binary ($BLK) against stores in a fresh temp dir, and fails on the
# first broken expectation with a message saying what was expected.
set -euo pipefail

: "${BLK:?set BLK to the blk binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/blk-cli-XXXXXX")
# Background servers die with the suite, so none outlives it (or holds
# ctest's output pipe open).
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"' EXIT
export BLK_STORE="$T/store"
unset BLK_APP XDG_DATA_HOME || true

fail() { echo "FAIL: $*" >&2; exit 1; }

blk() { "$BLK" "$@"; }

# run CODE CMD...: runs CMD, captures stdout/stderr in $T/out and $T/err, and
# checks the exit code.
run() {
  local want=$1; shift
  local got=0
  "$@" >"$T/out" 2>"$T/err" || got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want; stderr: $(cat "$T/err")"
}

# expect_error CODE PATTERN CMD...: exit CODE, nothing on stdout, exactly one
# line on stderr starting with 'blk: error:' and matching PATTERN.
expect_error() {
  local code=$1 pattern=$2; shift 2
  run "$code" "$@"
  [ ! -s "$T/out" ] || fail "'$*' wrote to stdout: $(head -c 200 "$T/out")"
  [ "$(wc -l <"$T/err")" = 1 ] || fail "'$*' wrote $(wc -l <"$T/err") lines to stderr: $(cat "$T/err")"
  grep -q '^blk: error: ' "$T/err" || fail "'$*' stderr lacks 'blk: error:': $(cat "$T/err")"
  grep -qE -- "$pattern" "$T/err" || fail "'$*' stderr does not match /$pattern/: $(cat "$T/err")"
}

# The logical content of a store's database (not its bytes: WAL checkpoints
# move bytes around without changing anything).
store_hash() {
  sqlite3 "${1:-$BLK_STORE}/blk.db" .dump | sha256sum | cut -d' ' -f1
}

new_store() {
  blk --store "${1:-$BLK_STORE}" -q init --name "${2:-test}"
}

key() { blk --store "$1" id --key; }

# serve STORE LOG ADDR...: starts `blk serve` in the background; sets $pid
# and waits for its "listening" lines, which carry the ports it got.
serve() {
  local store=$1 log=$2; shift 2
  local args=()
  for a in "$@"; do args+=(--listen "$a"); done
  "$BLK" --store "$store" serve "${args[@]}" 2>"$log" &
  pid=$!
  for _ in $(seq 1 100); do
    [ "$(grep -c "listening on" "$log" 2>/dev/null || true)" = $# ] && return 0
    sleep 0.05
  done
  fail "serve did not start: $(cat "$log")"
}
# port_of SCHEME LOG: the port of the last SCHEME listener LOG reports.
port_of() { grep -o "listening on $1://127.0.0.1:[0-9]*" "$2" | tail -1 | grep -o '[0-9]*$'; }
