// The shell side of completion: each script asks `natchain __complete --shell <shell> -- <words>`
// (the words typed after `natchain`, the one being typed last) and shows the answer; `:file` in it
// means "file names fit here too". All the knowledge is in complete.ts.

/** Shells `natchain completion` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const BASH = `# natchain completion for bash: eval "$(natchain completion bash)" in ~/.bashrc
_natchain() {
  local cur=\${COMP_WORDS[COMP_CWORD]} line out
  out=$(natchain __complete --shell bash -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  COMPREPLY=()
  while IFS= read -r line; do
    if [ "$line" = ":file" ]; then
      compopt -o filenames 2>/dev/null
      while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -f -- "$cur")
    elif [ -n "$line" ]; then
      COMPREPLY+=("$line")
    fi
  done <<< "$out"
}
complete -F _natchain natchain
`;

const ZSH = `#compdef natchain
# natchain completion for zsh: eval "$(natchain completion zsh)" in ~/.zshrc (after compinit),
# or save it as _natchain in a directory of $fpath.
_natchain() {
  local -a lines cands
  local line files=0
  lines=("\${(@f)$(natchain __complete --shell zsh -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  for line in "\${lines[@]}"; do
    if [[ $line == ":file" ]]; then files=1; elif [[ -n $line ]]; then cands+=("$line"); fi
  done
  (( \${#cands} )) && _describe -t values natchain cands
  (( files )) && _files
  return 0
}
if [[ $funcstack[1] == _natchain ]]; then _natchain "$@"; else compdef _natchain natchain; fi
`;

const FISH = `# natchain completion for fish: natchain completion fish > ~/.config/fish/completions/natchain.fish
function __natchain_complete
    set -l words (commandline -opc) (commandline -ct)
    for line in (natchain __complete --shell fish -- $words[2..-1] 2>/dev/null)
        if test "$line" = ":file"
            __fish_complete_path (commandline -ct)
        else
            printf '%s\\n' $line
        end
    end
end
complete -c natchain -f -a '(__natchain_complete)'
`;

/** The completion script for a shell. */
export function completionScript(shell: Shell): string {
  return shell === 'bash' ? BASH : shell === 'zsh' ? ZSH : FISH;
}
