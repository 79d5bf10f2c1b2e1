#!/usr/bin/env bash
# Shell completion: `blk __complete` itself, and completions/blk.bash driving
# it as bash would (COMP_WORDS/COMP_CWORD set, _blk called, COMPREPLY read).
. "$(dirname "$0")/lib.sh"
: "${BLK_SOURCE_DIR:?set BLK_SOURCE_DIR to the source tree}"

commands=(init id put get ls rm import export log peer serve ping sync status merge-plugin)

# blk __complete directly: every command, in order, and no hidden one.
run 0 "$BLK" __complete ''
[ "$(cat "$T/out")" = "$(printf '%s\n' "${commands[@]}")" ] ||
  fail "'blk __complete \"\"' printed '$(cat "$T/out")', not the ${#commands[@]} commands"
[ ! -s "$T/err" ] || fail "'blk __complete \"\"' wrote to stderr: $(cat "$T/err")"
run 0 "$BLK" __complete pu
[ "$(cat "$T/out")" = put ] || fail "'blk __complete pu' printed '$(cat "$T/out")', not 'put'"
run 0 "$BLK" __complete put --t
[ "$(cat "$T/out")" = --type ] || fail "'blk __complete put --t' printed '$(cat "$T/out")'"
# Flags take no value: the word after one is a command or an option again.
run 0 "$BLK" __complete --json ''
[ "$(wc -l <"$T/out")" = ${#commands[@]} ] || fail "'blk __complete --json \"\"' did not offer the commands"
run 0 "$BLK" __complete ls --deleted --t
[ "$(cat "$T/out")" = --type ] || fail "'blk __complete ls --deleted --t' printed '$(cat "$T/out")'"
run 0 "$BLK" __complete ls --type ''
[ ! -s "$T/out" ] || fail "'blk __complete ls --type \"\"' offered '$(cat "$T/out")' for a value"
run 0 "$BLK" __complete __
[ ! -s "$T/out" ] || fail "'blk __complete __' offered '$(cat "$T/out")'"

# Commands that take peers offer the names in the manifest of the store the
# command line names (--store DIR or --store=DIR, else $BLK_STORE).
new_store "$T/p" here
new_store "$T/q" other
"$BLK" --store "$T/p" peer add laptop "$("$BLK" --store "$T/q" id --key)"
run 0 "$BLK" __complete --store "$T/p" sync ''
[ "$(cat "$T/out")" = laptop ] || fail "'sync' offered '$(cat "$T/out")', not the peer"
run 0 "$BLK" __complete --store="$T/p" ping la
[ "$(cat "$T/out")" = laptop ] || fail "'ping la' offered '$(cat "$T/out")'"
run 0 "$BLK" __complete --store "$T/p" peer rm ''
[ "$(cat "$T/out")" = laptop ] || fail "'peer rm' offered '$(cat "$T/out")'"
run 0 "$BLK" __complete --store "$T/p" get ''
[ ! -s "$T/out" ] || fail "'get' offered '$(cat "$T/out")'"

# The bash completion, with this blk as `blk` on PATH, in a directory whose
# only file tells the file-name fallback apart from blk's candidates.
mkdir "$T/bin" "$T/cwd"
ln -s "$BLK" "$T/bin/blk"
export PATH="$T/bin:$PATH"
[ "$(type -P blk)" = "$T/bin/blk" ] || fail "blk on PATH is $(type -P blk), not the test's"
cd "$T/cwd" || fail "cannot cd to $T/cwd"
touch somefile

. "$BLK_SOURCE_DIR/completions/blk.bash"
complete -p blk | grep -q -- '-F _blk' || fail "blk.bash did not register _blk for blk"

# complete WORD...: what bash would offer for `blk WORD...` with the cursor at
# the end of the last WORD (empty for a fresh word); one per line in $T/got.
complete_words() {
  unset COMP_LINE COMP_POINT
  COMP_WORDS=(blk "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _blk
  printf '%s\n' ${COMPREPLY[@]+"${COMPREPLY[@]}"} >"$T/got"
}

# offers WORD CANDIDATE / offers_not WORD CANDIDATE: checks $T/got.
offers() {
  grep -qxF -- "$2" "$T/got" || fail "completing '$1' does not offer '$2'; it offers: $(tr '\n' ' ' <"$T/got")"
}
offers_not() {
  ! grep -qxF -- "$2" "$T/got" || fail "completing '$1' offers '$2'; it should not"
}

complete_words pu
offers "blk pu" put
[ "$(grep -c . "$T/got")" = 1 ] || fail "completing 'blk pu' offers more than put: $(tr '\n' ' ' <"$T/got")"

complete_words put --t
offers "blk put --t" --type

complete_words ''
for c in "${commands[@]}"; do offers "blk " "$c"; done
offers_not "blk " __complete
offers_not "blk " somefile

# An option's value: blk offers nothing, so bash falls back to file names.
complete_words ls --type ''
for c in "${commands[@]}" --type --since --deleted --help; do offers_not "blk ls --type " "$c"; done
offers "blk ls --type " somefile

# As bash splits a real line: `--app=ls` comes as three words, and is one.
COMP_LINE="blk --app=ls " COMP_POINT=13
COMP_WORDS=(blk --app '=' ls '') COMP_CWORD=4 COMPREPLY=()
_blk
printf '%s\n' ${COMPREPLY[@]+"${COMPREPLY[@]}"} >"$T/got"
offers "blk --app=ls " put
offers_not "blk --app=ls " somefile

echo "completion: ok"
