# fish completion for blk.
#
# Install as ~/.config/fish/completions/blk.fish (or into fish's vendor
# completions directory). The candidates come from blk itself:
# `blk __complete WORD...` gets the words after `blk`, the last one being the
# word under the cursor, and prints one candidate per line. When it prints
# nothing (an option's value, a file, an id), fish completes file names.

# Sets __blk_candidates to what blk offers for the command line up to the
# cursor (asked once per command line); true if it offers anything.
function __blk_offers
    set -l line (commandline -cp)
    if test "$line" != "$__blk_candidates_for"
        set -l tokens (commandline -opc)
        set -l cur (commandline -ct)
        set -l blk blk
        if string match -q -- '*/*' $tokens[1]; and test -x $tokens[1]
            set blk $tokens[1]
        end
        set -g __blk_candidates_for $line
        set -g __blk_candidates (command $blk __complete $tokens[2..-1] "$cur" 2>/dev/null)
    end
    set -q __blk_candidates[1]
end

complete -c blk -f -n __blk_offers -a '(printf "%s\n" $__blk_candidates)'
complete -c blk -F -n 'not __blk_offers'
