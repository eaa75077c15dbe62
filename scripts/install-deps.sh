#!/usr/bin/env bash
# The one install step: Debian packages the lab needs (when missing), npm packages, the build.
# Called by `npm test` and `npm run demo`; safe to run again (it only does what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

# program -> Debian package that provides it (the lab's list, src/lab/preflight.ts LAB_PROGRAMS,
# plus what the tests use: graphviz for `natchain graph --format svg`, sudo for the transport tests,
# tmux to drive the wizard in a real terminal, bash/zsh/fish for shell completion in the real shells,
# groff and man to check the manual page)
declare -A PKG=(
  [ip]=iproute2 [ss]=iproute2 [nsenter]=util-linux [unshare]=util-linux [setsid]=util-linux
  [mount]=mount [umount]=mount [sshd]=openssh-server [ssh]=openssh-client [ssh-keygen]=openssh-client
  [socat]=socat [iptables]=iptables [nft]=nftables [conntrack]=conntrack [awk]=mawk
  [dot]=graphviz [sudo]=sudo [timeout]=coreutils [tmux]=tmux [zsh]=zsh [fish]=fish [groff]=groff-base [man]=man-db
)
missing=()
for prog in "${!PKG[@]}"; do
  command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] || missing+=("${PKG[$prog]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" != 0 ]; then
    echo "natchain: missing Debian packages: $pkgs(run as root, or: apt-get install $pkgs)" >&2
    exit 1
  fi
  echo "natchain: installing Debian packages: $pkgs" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >&2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "natchain: installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi
# The build (scripts/build.mjs): again whenever a source, the build itself or the installed packages changed.
if [ ! -f dist/cli/main.js ] || [ -n "$(find src scripts/build.mjs tsconfig.json tsconfig.build.json node_modules/.package-lock.json -newer dist/cli/main.js \( -name '*.ts' -o -name '*.mjs' -o -name '*.json' \) -print -quit)" ]; then
  echo "natchain: building" >&2
  npm run --silent build >&2
fi
