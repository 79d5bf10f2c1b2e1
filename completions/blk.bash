# bash completion for blk                                   -*- shell-script -*-
#
# Install as /usr/share/bash-completion/completions/blk (or source it from
# ~/.bashrc). The candidates come from blk itself: `blk __complete WORD...`
# gets the words after `blk`, the last one being the word under the cursor,
# and prints one candidate per line. When it prints nothing (an option's
# value, a file, an id), this falls back to file-name completion.

_blk() {
    local -a words
    local cword=0 i

    # Rebuild the words as the user typed them: bash splits `--store=DIR` and
    # `note:1` at the characters in COMP_WORDBREAKS, blk wants them whole.
    # COMP_LINE tells which pieces were typed without a blank between them.
    if [[ -n ${COMP_LINE-} ]]; then
        local line=${COMP_LINE:0:${COMP_POINT:-${#COMP_LINE}}} piece joined
        local -i n=-1
        for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
            piece=${COMP_WORDS[i]}
            joined=0
            if ((i > 0)) && [[ $line != [[:blank:]]* ]]; then
                joined=1
            fi
            line=${line#"${line%%[![:blank:]]*}"}  # drop leading blanks
            if ((i == COMP_CWORD)); then
                piece=$line  # the word under the cursor, up to the cursor
            else
                line=${line#"$piece"}
            fi
            if ((joined && n >= 1)); then
                words[n]+=$piece
            else
                words[++n]=$piece
            fi
        done
        cword=$n
    else
        words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
        cword=$COMP_CWORD
    fi
    ((cword >= 1)) || return 0
    local cur=${words[cword]}

    # The blk that is being completed: the typed path if it is one, else PATH's.
    local blk=blk
    if [[ ${words[0]} == */* ]]; then
        blk=${words[0]}
        # shellcheck disable=SC2088  # a literal ~/, as typed
        [[ $blk == "~/"* ]] && blk=$HOME/${blk#"~/"}
        [[ -x $blk ]] || blk=blk
    fi

    local -a candidates=()
    local c
    while IFS= read -r c; do
        [[ -n $c ]] && candidates+=("$c")
    done < <(command "$blk" __complete "${words[@]:1:cword-1}" "$cur" 2>/dev/null)

    if ((${#candidates[@]})); then
        COMPREPLY=("${candidates[@]}")
        return 0
    fi

    # Nothing from blk: complete file names. Readline replaces only the text
    # after the last word-break character (`--store=/tm` completes `/tm`).
    local text=$cur
    if [[ ${COMP_WORDBREAKS-} ]]; then
        local breaks='' ch
        for ((i = 0; i < ${#COMP_WORDBREAKS}; i++)); do
            ch=${COMP_WORDBREAKS:i:1}
            [[ $ch == [[:space:]] ]] || breaks+="\\$ch"
        done
        # shellcheck disable=SC2295  # $breaks is a bracket expression
        [[ -n $breaks ]] && text=${cur##*[$breaks]}
    fi
    compopt -o filenames 2>/dev/null || true
    mapfile -t COMPREPLY < <(compgen -f -- "$text")
    return 0
}

complete -F _blk blk
