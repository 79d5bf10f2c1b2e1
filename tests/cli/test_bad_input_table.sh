#!/usr/bin/env bash
# Bad input, table-driven: runs every case of bad_input.table against the real
# blk binary and checks, for each, that
#   - it exits with the documented code (and finishes: each blk runs under
#     `timeout`, and a timeout fails the case),
#   - stdout is empty, and stderr is exactly one line, 'blk: error: ...',
#     matching the case's pattern (for code 0, stderr is empty),
#   - no sanitizer report is on stderr (the ASan/UBSan pass runs this too),
#   - every store the case names is as it was: its logical content (the
#     sqlite3 .dump, on a copy) with PRAGMA integrity_check, or its bytes if
#     it is not a database; its manifest, key and file list.
# The table's header says how a case is written. BLK_TABLE_FILTER=REGEX runs
# only the cases whose command matches it.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C # patterns match bytes, in messages that quote invalid UTF-8

table=${BLK_TABLE:-"$(dirname "$0")/bad_input.table"} # BLK_TABLE: another, to test this runner
minimum=200

# Files a case may read (stdin, FILE arguments) are made by root for `nobody`
# too (blk_ro below): $T must be traversable.
chmod 755 "$T"
mkdir -p "$T/scratch" "$T/cases"
# As lib.sh's, but first let the lock holders go, and make the read-only
# store removable.
trap 'touch "$T/unlock"; chmod -R u+w "$T" 2>/dev/null; kill $(jobs -p) 2>/dev/null || true
      wait 2>/dev/null || true; rm -rf "$T"' EXIT

# ---- What the table's commands call --------------------------------------

TMO=10
blk() { timeout -k 2 "$TMO" "$BLK" "$@"; }
# As a user who cannot write $RO_STORE: root ignores file modes.
if [ "$(id -u)" = 0 ]; then
  blk_ro() { timeout -k 2 "$TMO" setpriv --reuid=nobody --regid=nogroup --clear-groups "$BLK" "$@"; }
else
  blk_ro() { blk "$@"; }
fi

# ---- Fixtures --------------------------------------------------------------

setup_start=$SECONDS

# The main store ($BLK_STORE): two blocks, a tombstone, and two peers: beta,
# served by a real `blk serve` below, and phone, with no address.
new_store "$BLK_STORE" alpha
echo keep | blk put -t note --id keep >/dev/null
echo gone | blk put -t note --id gone >/dev/null
blk rm gone
PEER_STORE=$T/beta
new_store "$PEER_STORE" beta
PEER_KEY=$(key "$PEER_STORE")
OWN_KEY=$(key "$BLK_STORE")
OTHER_STORE=$T/gamma # a third machine, in no manifest
new_store "$OTHER_STORE" gamma
OTHER_KEY=$(key "$OTHER_STORE")
new_store "$T/delta" delta # only for a valid key that no manifest has
FRESH_KEY=$(key "$T/delta")
blk --store "$PEER_STORE" peer add alpha "$OWN_KEY"
echo beta | blk --store "$PEER_STORE" put -t note --id from-beta >/dev/null
serve "$PEER_STORE" "$T/beta.log" tcp://127.0.0.1:0
PEER_PORT=$(port_of tcp "$T/beta.log")
blk peer add beta "$PEER_KEY" "tcp://127.0.0.1:$PEER_PORT"
blk peer add phone "$OTHER_KEY"

# A copy of the main store, made while no blk runs.
copy_store() { cp -r "$BLK_STORE" "$1"; }

# A store with no peer, and no address to listen on.
NOPEER_STORE=$T/nopeer
new_store "$NOPEER_STORE" lonely

MISSING_STORE=$T/missing # never created

# Damaged databases in otherwise whole stores (key and manifest intact).
damaged() { # NAME: a copy of the main store without its WAL
  copy_store "$1"
  sqlite3 "$1/blk.db" 'pragma wal_checkpoint(truncate)' >/dev/null
  rm -f "$1/blk.db-wal" "$1/blk.db-shm"
}
JUNK_STORE=$T/junk
damaged "$JUNK_STORE"
head -c 65536 /dev/urandom >"$JUNK_STORE/blk.db"
ZERO_STORE=$T/zero
damaged "$ZERO_STORE"
: >"$ZERO_STORE/blk.db"
# A store with output to spare (over 64 KiB, a pipe's buffer): 200 blocks
# of 1.5 KiB and one of 1 MiB. Truncated: a copy of it cut in half.
BIG_STORE=$T/big
copy_store "$BIG_STORE"
blob=$(head -c 1500 /dev/zero | base64 -w0)
for i in $(seq 1 200); do
  printf '{"id":"b%d","type":"t","blob":"%s"}\n' "$i" "$blob"
done | blk --store "$BIG_STORE" -q import
head -c 1048576 /dev/zero | blk --store "$BIG_STORE" put -t t --id huge >/dev/null
TRUNC_STORE=$T/trunc
cp -r "$BIG_STORE" "$TRUNC_STORE"
sqlite3 "$TRUNC_STORE/blk.db" 'pragma wal_checkpoint(truncate)' >/dev/null
rm -f "$TRUNC_STORE/blk.db-wal" "$TRUNC_STORE/blk.db-shm"
truncate -s $(($(stat -c %s "$TRUNC_STORE/blk.db") / 2)) "$TRUNC_STORE/blk.db"
NEWER_STORE=$T/newer
damaged "$NEWER_STORE"
sqlite3 "$NEWER_STORE/blk.db" 'pragma user_version = 99'
FOREIGN_STORE=$T/foreign # an SQLite database that is not a blk store
damaged "$FOREIGN_STORE"
rm "$FOREIGN_STORE/blk.db"
sqlite3 "$FOREIGN_STORE/blk.db" 'create table x(y); insert into x values (1);'
DBDIR_STORE=$T/dbdir # blk.db is a directory
damaged "$DBDIR_STORE"
rm "$DBDIR_STORE/blk.db"
mkdir "$DBDIR_STORE/blk.db"

# The key file: missing, damaged, another machine's, readable by others, a
# directory.
NOKEY_STORE=$T/nokey
copy_store "$NOKEY_STORE"
rm "$NOKEY_STORE/machine.key"
BADKEY_STORE=$T/badkey
copy_store "$BADKEY_STORE"
echo 'not a key' >"$BADKEY_STORE/machine.key"
OTHERKEY_STORE=$T/otherkey
copy_store "$OTHERKEY_STORE"
cp "$OTHER_STORE/machine.key" "$OTHERKEY_STORE/machine.key"
OPENKEY_STORE=$T/openkey
copy_store "$OPENKEY_STORE"
chmod 644 "$OPENKEY_STORE/machine.key"
KEYDIR_STORE=$T/keydir
copy_store "$KEYDIR_STORE"
rm "$KEYDIR_STORE/machine.key"
mkdir "$KEYDIR_STORE/machine.key"

# The manifest: missing, a directory, and the bad ones of bad_manifest().
NOMAN_STORE=$T/noman
copy_store "$NOMAN_STORE"
rm "$NOMAN_STORE/manifest.toml"
MANDIR_STORE=$T/mandir
copy_store "$MANDIR_STORE"
rm "$MANDIR_STORE/manifest.toml"
mkdir "$MANDIR_STORE/manifest.toml"

# bad_manifest VAR TEXT: $VAR is a copy of the main store with TEXT (printf
# escapes allowed) as its manifest.
bad_manifest() {
  local dir=$T/manifest-$1
  copy_store "$dir"
  printf "$2" >"$dir/manifest.toml"
  printf -v "$1" %s "$dir"
}
machine='[machine]\nname = "alpha"\n'
peer() { printf '\n[[peer]]\nname = "%s"\nkey = "%s"\n' "$1" "$2"; }
bad_manifest M_SYNTAX_STORE '[machine\nname = "alpha"\n'
bad_manifest M_EMPTY_STORE ''
bad_manifest M_NOMACHINE_STORE "$(peer beta "$PEER_KEY")\n"
bad_manifest M_NONAME_STORE '[machine]\nlisten = []\n'
bad_manifest M_TABLE_STORE "$machine"'\n[extra]\nx = 1\n'
bad_manifest M_KEYNAME_STORE "$machine"'colour = "blue"\n'
bad_manifest M_MACHINE_NAME_STORE '[machine]\nname = "al pha"\n'
bad_manifest M_UTF8_STORE '[machine]\nname = "\xff\xfe"\n'
bad_manifest M_NUL_STORE '[machine]\nname = "alpha"\n\0\n'
bad_manifest M_ZEROKEY_STORE "$machine$(peer beta AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=)\n"
bad_manifest M_ONEKEY_STORE "$machine$(peer beta AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=)\n"
bad_manifest M_ORDER2KEY_STORE "$machine$(peer beta '7P///////////////////////////////////////38=')\n"
bad_manifest M_ORDER8KEY_STORE "$machine$(peer beta 'xxdqcD1N2E+6PAt2DRBnDyogU/osOczGTsf9d5KsA3o=')\n"
bad_manifest M_NONCANONKEY_STORE "$machine$(peer beta '7f///////////////////////////////////////38=')\n"
bad_manifest M_SHORTKEY_STORE "$machine$(peer beta EREREREREREREREREREREREREREREREREREREREREQ==)\n"
bad_manifest M_LONGKEY_STORE "$machine$(peer beta ERERERERERERERERERERERERERERERERERERERERERER)\n"
bad_manifest M_HEXKEY_STORE "$machine$(peer beta "$(printf '%064d' 1)")\n"
bad_manifest M_NOTB64KEY_STORE "$machine$(peer beta 'not base64!')\n"
bad_manifest M_EMPTYKEY_STORE "$machine$(peer beta '')\n"
bad_manifest M_NUMKEY_STORE "$machine"'\n[[peer]]\nname = "beta"\nkey = 42\n'
bad_manifest M_NOKEY_STORE "$machine"'\n[[peer]]\nname = "beta"\n'
bad_manifest M_DUPNAME_STORE "$machine$(peer beta "$PEER_KEY")$(peer beta "$OTHER_KEY")\n"
bad_manifest M_DUPKEY_STORE "$machine$(peer beta "$PEER_KEY")$(peer gamma "$PEER_KEY")\n"
bad_manifest M_SELFNAME_STORE "$machine$(peer alpha "$PEER_KEY")\n"
bad_manifest M_ROLE_STORE "$machine$(peer beta "$PEER_KEY")"'\nrole = "admin"\n'
bad_manifest M_PORT0_STORE "$machine$(peer beta "$PEER_KEY")"'\naddress = ["tcp://127.0.0.1:0"]\n'
bad_manifest M_PORT65536_STORE "$machine$(peer beta "$PEER_KEY")"'\naddress = ["tcp://127.0.0.1:65536"]\n'
bad_manifest M_ADDRTYPE_STORE "$machine$(peer beta "$PEER_KEY")"'\naddress = "tcp://127.0.0.1:7420"\n'
bad_manifest M_LISTEN65536_STORE '[machine]\nname = "alpha"\nlisten = ["tcp://127.0.0.1:65536"]\n'
bad_manifest M_LISTENEXEC_STORE '[machine]\nname = "alpha"\nlisten = ["exec:cat"]\n'
bad_manifest M_PRIORITY_STORE '[machine]\nname = "alpha"\nsync_priority = ["no such"]\n'
# 1 MiB: a comment that long, then an unknown key.
bad_manifest M_BIG_STORE "$machine#$(head -c 1048576 /dev/zero | tr '\0' x)\nbogus = 1\n"
# Parses, but `peer rm` cannot edit it: the peer is an inline table.
bad_manifest M_INLINE_STORE 'peer = [{ name = "beta", key = "'"$PEER_KEY"'" }]\n'"$machine"

# Read-only: nothing in it can be written by the user blk_ro runs as.
RO_STORE=$T/ro
copy_store "$RO_STORE"
[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$RO_STORE"
chmod -R a-w "$RO_STORE"

# Locked: another process holds the database's write lock (sqlite3 in BEGIN
# EXCLUSIVE) and the store directory's flock (what peer add/rm take), until
# $T/unlock exists.
LOCKED_STORE=$T/locked
copy_store "$LOCKED_STORE"
# (Or until $T is gone: the holders must not outlive the suite.)
until_unlocked="while [ -d $T ] && [ ! -e $T/unlock ]; do sleep 0.1; done"
(sqlite3 "$LOCKED_STORE/blk.db" 'begin exclusive;' 'select 1;' ".shell touch $T/db-locked" \
  ".shell $until_unlocked" 'commit;' >/dev/null) &
flock "$LOCKED_STORE" sh -c "touch $T/dir-locked; $until_unlocked" &
for _ in $(seq 1 100); do
  [ -e "$T/db-locked" ] && [ -e "$T/dir-locked" ] && break
  sleep 0.05
done
[ -e "$T/db-locked" ] && [ -e "$T/dir-locked" ] || fail "could not lock $LOCKED_STORE"

# Arguments and inputs. One argument can be at most 128 KiB on Linux
# (MAX_ARG_STRLEN): BIG_ARG is the longest there can be, and BIG_IDS are
# 4,100 ids of 255 bytes, over 1 MiB of arguments together.
BIG_ARG=$(head -c 131071 /dev/zero | tr '\0' a)
BIG_IDS=()
for i in $(seq 1000 5099); do
  printf -v id %0255d "$i"
  BIG_IDS+=("$id")
done
BAD_UTF8=$'\xff\xfe\xc3('
BAD_UTF8_ID=$'abc\xc3\x28'
DIR=$T/a-dir
mkdir -p "$DIR"
BIG_FILE=$T/big-blob # one byte over 16 MiB
head -c $((16 * 1024 * 1024 + 1)) /dev/zero >"$BIG_FILE"
BIG_LINE=$T/big-line # a 1 MiB line that is not JSON
{ head -c 1048576 /dev/zero | tr '\0' x; echo; } >"$BIG_LINE"
GARBAGE=$T/garbage
head -c 4096 /dev/urandom >"$GARBAGE"
# A port that is in use: beta's.
BUSY_PORT=$PEER_PORT
chmod -R a+rX "$T/big-blob" "$T/big-line" "$T/garbage" "$DIR"

# ---- Checking ---------------------------------------------------------------

# snapshot DIR: a store's files as they are: their names (not -shm, and
# -wal only if it holds something: readers may create them), the modes of
# the manifest and the key, and every file's SHA-256. Two processes: this
# runs after every case.
snapshot() {
  local d=$1 f names=() files=()
  [ -e "$d" ] || { echo absent; return; }
  for f in "$d"/* "$d"/.[!.]*; do
    [[ -e $f && $f != *-shm ]] || continue
    [[ $f == *-wal && ! -s $f ]] && continue
    names+=("${f##*/}")
    [ -f "$f" ] && files+=("$f")
  done
  echo "files: ${names[*]}"
  stat -c '%n %a' -- "$d/manifest.toml" "$d/machine.key" 2>/dev/null || true
  [ ${#files[@]} = 0 ] || sha256sum -- "${files[@]}"
}

# logical DIR: the database's content, as store_hash sees it, with PRAGMA
# integrity_check and user_version (the schema version); read from a copy,
# so that checking changes nothing (not even a checkpoint). Its bytes if it
# is not a database.
logical() {
  local d=$1 s=$T/scratch out
  rm -f "$s"/*
  [ -f "$d/blk.db" ] || { echo "no blk.db"; return; }
  cp "$d/blk.db" "$s/blk.db"
  [ -f "$d/blk.db-wal" ] && cp "$d/blk.db-wal" "$s/blk.db-wal"
  if out=$(sqlite3 "$s/blk.db" 'pragma integrity_check' 'pragma user_version' .dump 2>/dev/null); then
    echo "integrity_check: ${out%%$'\n'*}; .dump: $(sha256sum <<<"$out")"
  else
    echo "not a database: $(cat "$d/blk.db" "$d/blk.db-wal" 2>/dev/null | sha256sum)"
  fi
}

# Each store's snapshot and logical content before the cases. A case leaves
# a store unchanged if its snapshot is the same; or, if only the database's
# bytes differ (SQLite may rewrite pages without changing anything), its
# logical content is.
declare -A before_snapshot before_logical
remember() { # VAR
  local dir=${!1}
  before_snapshot[$1]=$(snapshot "$dir")
  before_logical[$1]=$(logical "$dir")
  [[ ${before_logical[$1]} != integrity_check:* || ${before_logical[$1]} == "integrity_check: ok;"* ]] ||
    fail "\$$1 is a database that fails integrity_check before the cases"
}
unchanged() { # VAR: sets $change to what changed in it, "" if nothing
  local dir=${!1} now l
  change=""
  now=$(snapshot "$dir")
  [ "$now" = "${before_snapshot[$1]}" ] && return
  # Only the database's bytes may differ, and then not its content.
  if [ "$(grep -v '/blk\.db\(-wal\)\?$' <<<"$now")" != \
    "$(grep -v '/blk\.db\(-wal\)\?$' <<<"${before_snapshot[$1]}")" ]; then
    change="before: ${before_snapshot[$1]}"$'\n'"after:  $now"
  else
    l=$(logical "$dir")
    [ "$l" = "${before_logical[$1]}" ] ||
      change="before: ${before_logical[$1]}"$'\n'"after:  $l"
    before_logical[$1]=$l
  fi
  before_snapshot[$1]=$now # a change is reported once, not for every case after
}

# The stores a command names, in $stores: BLK_STORE, and each $..._STORE in it.
stores_of() {
  local rest=$1 re='\$\{?([A-Z0-9_]+_STORE)'
  stores=" BLK_STORE "
  while [[ $rest =~ $re ]]; do
    [[ $stores == *" ${BASH_REMATCH[1]} "* ]] || stores+="${BASH_REMATCH[1]} "
    rest=${rest#*"${BASH_REMATCH[0]}"}
  done
}

failures=0
declare -A per_category
category=uncategorized

bad() { # CASE MESSAGE: one failed expectation
  echo "FAIL: $1: $2" >&2
  failures=$((failures + 1))
}

# start_case N COMMAND TIMEOUT: runs it, with stdout, stderr and exit code
# in $T/cases/N.*.
start_case() {
  local n=$1 cmd=$2
  (
    TMO=$3
    set +e -o pipefail
    eval "$cmd" </dev/null >"$T/cases/$n.out" 2>"$T/cases/$n.err"
    echo $? >"$T/cases/$n.code.new"
    mv "$T/cases/$n.code.new" "$T/cases/$n.code" # whole, for the wait on slow cases
  ) || true
}

# check_case N CODE REGEX COMMAND: the checks, with bash's own [[ ]] and
# read rather than a grep each (they run 500 times).
sanitizer='runtime error:|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer'
check_case() {
  local n=$1 want=$2 pattern=$3 cmd=$4 what="bad_input.table:$1: $4"
  local out=$T/cases/$n.out err=$T/cases/$n.err got text="" first="" lines big=0
  read -r got <"$T/cases/$n.code"
  # Up to 8 KiB of stderr, and its first line. Longer (an error that quotes
  # a 128 KiB argument) goes to grep and wc: bash is slow on long strings.
  if [ -s "$err" ]; then
    IFS= read -r -N 8192 text <"$err" || true
    IFS= read -r first <"$err" || true
    [ ${#text} -lt 8192 ] || big=1
  fi
  shown() { head -c 600 "$1" | cat -v; }
  if ((big)); then ! grep -qaE "$sanitizer" "$err"; else [[ ! $text =~ $sanitizer ]]; fi ||
    bad "$what" "sanitizer report: $(head -c 3000 "$err")"
  if [ "$got" = 124 ] || [ "$got" = 137 ]; then
    bad "$what" "timed out (exit $got)"
  elif [ "$got" != "$want" ]; then
    bad "$what" "exited $got, expected $want; stderr: $(shown "$err")"
  fi
  [ ! -s "$out" ] || bad "$what" "wrote to stdout: $(shown "$out")"
  if [ "$want" = 0 ]; then
    [ -z "$text" ] || bad "$what" "wrote to stderr: $(shown "$err")"
  else
    if ((big)); then
      lines=$(wc -l <"$err")
      [ -z "$(tail -c 1 "$err")" ] || lines="$lines and a half" # a last line without its newline
    else
      lines=${text//[!$'\n']/}
      lines=${#lines}
      [[ -z $text || $text == *$'\n' ]] || lines="$lines and a half"
    fi
    [ "$lines" = 1 ] || bad "$what" "wrote $lines lines to stderr: $(shown "$err")"
    [[ $first == 'blk: error: '* ]] || bad "$what" "stderr lacks 'blk: error:': $(shown "$err")"
    if ((big)); then grep -qaE -- "$pattern" <<<"$first"; else [[ $first =~ $pattern ]]; fi ||
      bad "$what" "stderr does not match /$pattern/: $(shown "$err")"
  fi
  local var
  stores_of "$cmd"
  for var in $stores; do
    [ -n "${!var:-}" ] || { bad "$what" "no such store variable \$$var"; continue; }
    unchanged "$var"
    [ -z "$change" ] || bad "$what" "store \$$var changed:"$'\n'"$change"
  done
}

# ---- The table ----------------------------------------------------------------

cases=()    # "N<TAB>CODE<TAB>REGEX<TAB>COMMAND<TAB>CATEGORY"
n=0
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n + 1))
  case $line in
    '' | '#'*) continue ;;
    '['*']') category=${line:1:-1}; continue ;;
  esac
  [[ $line == *' | '*' | '* ]] || fail "bad_input.table:$n: not 'CODE | REGEX | COMMAND': $line"
  code=${line%% | *}
  rest=${line#* | }
  pattern=${rest%% | *}
  cmd=${rest#* | }
  [[ $code =~ ^[0-9]+( slow)?$ ]] || fail "bad_input.table:$n: bad exit code '$code'"
  [ -z "${BLK_TABLE_FILTER:-}" ] || grep -qE -- "$BLK_TABLE_FILTER" <<<"$cmd" || continue
  cases+=("$n"$'\t'"$code"$'\t'"$pattern"$'\t'"$cmd"$'\t'"$category")
done <"$table"

remember_start=$SECONDS
for c in "${cases[@]}"; do
  IFS=$'\t' read -r _ _ _ cmd _ <<<"$c"
  stores_of "$cmd"
  for var in $stores; do
    [ -n "${before_snapshot[$var]+set}" ] || remember "$var"
  done
done

start=$SECONDS
# Slow cases (on the locked store, they wait out blk's 10 s busy timeout)
# run all at once, in the background, with a longer timeout.
slow=()
for c in "${cases[@]}"; do
  IFS=$'\t' read -r n code _ cmd _ <<<"$c"
  if [[ $code == *slow ]]; then
    start_case "$n" "$cmd" 90 &
    slow+=("$c")
  fi
done
count=0
check() { # the case $1, once it has run
  local n code pattern cmd category
  IFS=$'\t' read -r n code pattern cmd category <<<"$1"
  check_case "$n" "${code%% *}" "$pattern" "$cmd"
  count=$((count + 1))
  per_category[$category]=$((${per_category[$category]:-0} + 1))
}
for c in "${cases[@]}"; do
  IFS=$'\t' read -r n code _ cmd _ <<<"$c"
  [[ $code == *slow ]] && continue
  t0=${EPOCHREALTIME/./}
  start_case "$n" "$cmd" 10
  check "$c"
  echo "$(((${EPOCHREALTIME/./} - t0) / 1000)) ms: bad_input.table:$n" >>"$T/times"
done
for c in "${slow[@]}"; do
  IFS=$'\t' read -r n _ _ _ _ <<<"$c"
  for _ in $(seq 1 300); do
    [ -e "$T/cases/$n.code" ] && break
    sleep 0.2
  done
  [ -e "$T/cases/$n.code" ] || echo 124 >"$T/cases/$n.code" # never ended: timed out
  check "$c"
done
touch "$T/unlock"

for k in "${!per_category[@]}"; do printf '%5d  %s\n' "${per_category[$k]}" "$k"; done | sort -k2
echo "$count cases in $((SECONDS - start)) s (after $((remember_start - setup_start)) + $((start - remember_start)) s of setup), $failures failed; the slowest (not counting the slow ones):"
sort -nr "$T/times" | head -3 || true
[ "$failures" = 0 ] || exit 1
[ -n "${BLK_TABLE_FILTER:-}" ] || [ "$count" -ge "$minimum" ] ||
  fail "only $count cases; the table should have at least $minimum"
echo ok
