/**
 * The shell text of the remote half of the transaction (POSIX sh, run by dash or any sh).
 * remote.ts builds the call (arguments checked and quoted); this file is only the scripts.
 *
 * Three execs change a gateway: `prepare` (lock + snapshot + stage + check), `apply` (arm +
 * load + read back) and `commit` (over a new connection). `abort` rolls back, `inspect` reads.
 * Cost rules (issue 12): shell builtins wherever possible, one iptables-save / nft list per
 * read, no polling: the dead-man timer hands its pid back through a pipe (a command
 * substitution returns when the timer closes its stdout), and the clock is read from /proc.
 * The shell's \`read\` takes a file one byte per system call, so files that grow (the history,
 * a transaction's meta with its member list) are read by the one awk a phase runs anyway, or
 * once; and each phase runs at most one awk: it stages, checks what it wrote and reads back.
 *
 * Gateway-side state:
 *   /run/natchain/lock/owner   the lock (atomic mkdir): tx id, owner, time (gateway clock)
 *   /var/lib/natchain/<tx>/    snapshot, new, revert, meta, hash, prev, state, claim, armed,
 *                              deadline, timer.pid (pid and boot id), applied, forward.old, fired
 *   /var/lib/natchain/last     the committed transaction whose state the gateway holds
 *   /var/lib/natchain/history  one line per finished transaction (bounded): see history() below
 *   /var/lib/natchain/pruned   the newest history line pruned away (prune)
 */

/** String.raw, but `\${` becomes `${` (shell parameter expansions inside a template literal). */
function sh(strings: TemplateStringsArray, ...values: unknown[]): string {
  return String.raw(strings, ...values).replace(/\\\$\{/g, '${');
}

/** How many history lines (and so transaction directories) a gateway keeps; pruned when twice as many. */
export const HISTORY_KEEP = 50;

/** Shell functions every phase shares. $1..$3 are nonce, backend, tx; the phase's own arguments follow. */
export const COMMON = sh`
set -u
umask 077
# Bytes, not characters, everywhere (the byte counts that check what was written) and messages in English (matched below).
LC_ALL=C; export LC_ALL
D=/var/lib/natchain
R=/run/natchain
L=$R/lock
N=$1; B=$2; TX=$3; shift 3
T=$D/$TX
sec() { printf '\n@@natchain:%s:%s\n' "$N" "$1"; }
die() { sec error; printf '%s\n' "$*"; sec end; exit 3; }
# NOW: epoch seconds from /proc (boot time + uptime), without starting date(1). The shell reads
# /proc/stat a byte per system call, up to its btime line past the interrupt counts (KiBs on a big
# machine): the boot time is kept in $D/btime with the uptime it was read at and the boot id (last,
# so a torn write never matches), and read again after 60 s (a clock stepped since moves it) or in
# another boot. inspect (read-only) uses it but never writes it (EPOCHW=0).
epoch() {
  read -r NOW _ < /proc/uptime; NOW=\${NOW%.*}
  rd "$D/btime"; eb=\${V%% *}; V=\${V#* }; eu=\${V%% *}; ei=\${V#* }
  rd /proc/sys/kernel/random/boot_id
  case $eb$eu in
    ''|*[!0-9]*) ;;
    *) if [ "$ei" = "$V" ] && [ "$NOW" -ge "$eu" ] && [ $((NOW - eu)) -lt 60 ]; then NOW=$((NOW + eb)); return 0; fi ;;
  esac
  while read -r k v; do
    if [ "$k" = btime ]; then
      if [ "\${EPOCHW:-1}" = 1 ]; then printf '%s %s %s\n' "$v" "$NOW" "$V" 2>/dev/null > "$D/btime" || :; fi
      NOW=$((NOW + v)); return 0
    fi
  done < /proc/stat
}
# V: the first line of a file ('' when absent).
rd() { V=; if [ -r "$1" ]; then IFS= read -r V < "$1" || :; fi; }
holder() { rd "$L/owner"; HOLDER=$V; }
# Releases the lock if this transaction holds it; the files given go in the same rm (one process).
unlock() { holder; if [ "$HOLDER" = "$TX" ]; then rm -rf "$L" "$@"; elif [ $# -gt 0 ]; then rm -f "$@"; fi; }
# True while a transaction's dead-man timer is armed: its marker is there and nobody has claimed it
# (commit removes the marker last, with the lock: a commit cut short after its claim is not armed).
is_armed() { [ -e "$D/$1/armed" ] && [ ! -e "$D/$1/claim" ]; }
setstate() { printf '%s\n' "$1" > "$T/state"; }
# A failed write: say whether the file system is full (df only runs on this error path).
nowrite() {
  # In prepare nothing has changed yet: give the lock back before saying why.
  if [ "\${PREP:-0}" = 1 ]; then unlock; if [ -d "$T" ]; then history aborted; fi; fi
  A=$(df -Pk "$D" 2>/dev/null | awk 'NR == 2 { print $4 }')
  case $A in ''|*[!0-9]*) ;; *) if [ "$A" -lt 64 ]; then die "no space left on $D ($A KiB free); nothing was changed"; fi ;; esac
  die "cannot write $1; nothing was changed"
}
put() { printf '%s\n' "$2" > "$1" 2>/dev/null || nowrite "$1"; }
dump() {
  case $B in
  iptables) iptables-save ;;
  nftables)
    if out=$(nft list table ip natchain 2>&1); then printf '%s\n' "$out"
    else case $out in *'No such file or directory'*) ;; *) printf '%s\n' "$out" >&2; return 1 ;; esac; fi ;;
  esac
}
check() {
  case $B in
  iptables) iptables-restore --noflush --test < "$1" ;;
  nftables) nft -c -f "$1" ;;
  esac
}
load() {
  case $B in
  iptables) iptables-restore --noflush < "$1" ;;
  nftables) nft -f "$1" ;;
  esac
}
# Resolves a template (stdin) against a dump of the gateway (file $1): iptables jump, declare and
# remove lines depend on what is there now; nft text passes through.
resolve() { awk -v b="$B" -v snap="$1" "$RESOLVE_AWK"; }
# Exactly one of commit, abort and the timer decides an armed transaction: the first to create
# $T/claim (noclobber: O_EXCL) wins; the file says who.
claim() { set -C; if printf '%s\n' "$1" 2>/dev/null > "$T/claim"; then set +C; return 0; fi; set +C; return 1; }
restore_forward() { rd "$T/forward.old"; if [ -n "$V" ]; then printf '%s\n' "$V" > /proc/sys/net/ipv4/ip_forward; fi; }
# Puts the snapshot back: the revert template resolved against the state now, loaded atomically.
revert() {
  if [ "$B" = iptables ]; then
    now=$(dump) || return 1
    printf '%s\n' "$now" > "$T/revert.now" || return 1
    resolve "$T/revert.now" < "$T/revert" > "$T/revert.load" || return 1
    load "$T/revert.load" || return 1
  else
    load "$T/revert" || return 1
  fi
  restore_forward
}
# Stops the timer: only in the boot that started it (after a reboot its pid may be anyone's). Not
# stopping it is always safe: it only acts if it wins the claim.
stop_timer() {
  rd "$T/timer.pid"; tp=\${V%% *}; tb=\${V#* }; rd /proc/sys/kernel/random/boot_id
  [ "$tb" = "$V" ] || return 0
  case $tp in ''|*[!0-9]*) ;; *) kill -TERM -"$tp" 2>/dev/null || kill -TERM "$tp" 2>/dev/null || : ;; esac
}
lockinfo() {
  if [ -r "$L/owner" ]; then while IFS= read -r l; do printf '%s\n' "$l"; done < "$L/owner"; fi
  holder
  if [ -n "$HOLDER" ] && is_armed "$HOLDER"; then rd "$D/$HOLDER/deadline"; printf 'armed %s\n' "$V"; fi
}
# One line per finished transaction: tx, time, owner, kind, outcome, topology hash, wave rollout (tab-separated).
# $1: the outcome; $2: the transaction (default this one).
history() {
  hx=\${2:-$TX}
  epoch; meta "$hx"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$hx" "$NOW" "\${mo:--}" "\${mk:--}" "$1" "\${mh:--}" "\${mr:--}" >> "$D/history" 2>/dev/null || :
}
# mk, mo, mh, mr: kind, owner, topology and rollout of a transaction's meta (key=value lines natchain wrote at
# prepare), in one pass. natchain writes the member list (a fleet long) last, after a rollout line ('-':
# none): the pass stops there (a meta of an older natchain, rollout after members, is read to its end).
meta() {
  mk=; mo=; mh=; mr=; mf=$D/$1/meta
  [ -r "$mf" ] || return 0
  while IFS= read -r l; do
    case $l in
      kind=*) mk=\${l#*=} ;; owner=*) mo=\${l#*=} ;; topology=*) mh=\${l#*=} ;; rollout=*) mr=\${l#*=} ;;
      members=*) if [ -n "$mr" ]; then return 0; fi ;;
    esac
  done < "$mf"
}
# Sets the commit record to $1 (or removes it when $1 is empty: no earlier commit).
setlast() {
  if [ -n "$1" ]; then printf '%s\n' "$1" > "$D/last.tmp" && mv -f "$D/last.tmp" "$D/last"; else rm -f "$D/last"; fi
}
`;

/** awk functions: write a line to a file (or stdout), counting the bytes written per file in W. */
const OUT_AWK = sh`
function out(s, f) { if (f == "") print s; else { print s > f; W[f] += length(s) + 1 } }
# 1 when every file written reads back with the bytes written: a full disk never leaves a short file staged.
function verified(   f, l, n) {
  for (f in W) {
    close(f); n = 0
    while ((getline l < f) > 0) n += length(l) + 1
    close(f)
    if (n != W[f]) return 0
  }
  return 1
}
`;

/** awk functions: resolve a template against a dump (see template.ts for the directives). */
const RESOLVE_LIB = sh`
# Reads a dump of the gateway (file f): the NATCHAIN chains of each table, the jumps to them from the
# built-in chains and the rules ahead of those. Returns its bytes (-1: unreadable).
function snapload(f,   l, w, c, k, t, n, r) {
  t = ""; n = 0
  while ((r = (getline l < f)) > 0) {
    n += length(l) + 1
    if (l ~ /^\*/) { t = substr(l, 2); continue }
    if (l ~ /^:NATCHAIN-/) { split(substr(l, 2), w, " "); have[t, w[1]] = 1; continue }
    if (l ~ /^-A /) {
      split(l, w, " ")
      if (w[2] ~ /^NATCHAIN-/) { have[t, w[2]] = 1; continue }
      if (match(l, / -[jg] NATCHAIN-[A-Z]+( |$)/)) {
        c = substr(l, RSTART + 4, RLENGTH - 4); sub(/ $/, "", c)
        k = t SUBSEP w[2] SUBSEP c
        nj[k]++; jump[k, nj[k]] = substr(l, 5 + length(w[2]))
        have[t, c] = 1; jumped[t, w[2]] = 1
      } else if (!((t, w[2]) in jumped)) ahead[t, w[2]]++
    }
  }
  close(f)
  return r < 0 ? -1 : n
}
# Resolves one template line into file RO ("": stdout). iptables jump, declare and remove lines depend
# on the dump; nft text passes through.
function res(l,   f, k, spec, i) {
  if (b != "iptables") { out(l, RO); return }
  if (l ~ /^\*/) { rt = substr(l, 2); buf = l; touched = 0; return }
  if (l == "COMMIT") { if (touched) { out(buf, RO); out("COMMIT", RO) }; buf = ""; rt = ""; return }
  split(l, f, " ")
  if (f[1] == "@declare") { if (f[3] == 1 || have[rt, f[2]]) emit(":" f[2] " - [0:0]"); return }
  if (f[1] == "@drop") {
    k = rt SUBSEP f[2] SUBSEP f[3]; keep[k] = 0
    spec = l; sub(/^@drop [^ ]+ [^ ]+ [01] /, "", spec)
    # Keep the jump only when it is the built-in chain's first rule and exactly natchain's: a foreign
    # rule ahead of it could catch a forward's packets first (the renderer's rule, render/iptables.ts).
    for (i = 1; i <= nj[k]; i++) {
      if (f[4] == 1 && i == 1 && jump[k, i] == spec && !ahead[rt, f[2]]) { keep[k] = i; continue }
      emit("-D " f[2] " " jump[k, i])
    }
    return
  }
  if (f[1] == "@insert") {
    k = rt SUBSEP f[2] SUBSEP f[3]
    spec = l; sub(/^@insert [^ ]+ [^ ]+ /, "", spec)
    if (!keep[k]) emit("-I " f[2] " 1 " spec)
    return
  }
  if (f[1] == "@remove") { if (have[rt, f[2]]) emit("-X " f[2]); return }
  if (rt != "") { emit(l); return }
  out(l, RO)
}
function emit(s) { buf = buf "\n" s; touched = 1 }
`;

/** awk: resolve a template (stdin) against a dump (file \`snap\`), to stdout. */
export const RESOLVE_AWK = OUT_AWK + RESOLVE_LIB + sh`
BEGIN { snapload(snap) }
{ res($0) }
`;

/** awk functions: framed stdin (a line \`<m><name>\` starts section name) cut into files dir/<name>. */
const FRAME_LIB = sh`
# Returns the section a line of stdin belongs to ("" for a marker or the end).
function frame(l) {
  if (index(l, m) == 1) {
    if (fo != "") close(fo)
    sn = substr(l, length(m) + 1); fo = ""
    if (sn == "end") { ended = 1; return "" }
    fo = dir "/" sn; printf "" > fo; W[fo] += 0
    return ""
  }
  if (fo == "") return ""
  out(l, fo)
  return sn
}
`;

/** awk: framed stdin into files of \`dir\`; exit 12 when the end marker did not come, 13 when a file does not read back whole or section \`need\` is empty. */
export const UNFRAME_AWK = OUT_AWK + FRAME_LIB + sh`
{ frame($0) }
END { if (!ended) exit 12; if (!verified() || W[dir "/" need] < 1) exit 13 }
`;

/**
 * awk: prepare's one process past the snapshot. Prints the history's last line (section histlast, when
 * \`hist\` is set: read in blocks, where the shell reads a byte per system call); checks the snapshot
 * file \`snap\` has \`snapbytes\` bytes; exit 10 when it holds the natchain state of file \`cmp\` (the
 * gateway is unchanged); exit 11 without \`dir\` (only the check was asked); else stages: framed stdin
 * into dir/<section>, section \`new\` resolved into dir/new.load, the history's line count into
 * dir/histn (for prune), every file read back (exit 12: the end marker did not come; 13: a short file).
 */
export const STAGE_AWK = OUT_AWK + RESOLVE_LIB + FRAME_LIB + sh`
# The natchain state of a dump (iptables: NATCHAIN lines per table; nft: the table), counters left out.
function canon(f,   l, t, s, r) {
  t = ""; s = ""
  while ((r = (getline l < f)) > 0) {
    if (b == "iptables") {
      if (l ~ /^\*/) { t = l; continue }
      if (l !~ /NATCHAIN-/) continue
      gsub(/\[[0-9]+:[0-9]+\]/, "", l)
      l = t " " l
    } else gsub(/packets [0-9]+ bytes [0-9]+/, "", l)
    s = s l "\n"
  }
  close(f)
  return r < 0 ? "\001unreadable" : s
}
BEGIN {
  hn = 0; hl = ""
  if (hist != "") { while ((getline l < hist) > 0) { hn++; hl = l }; close(hist) }
  if (say) printf "\n%shistlast\n%s\n", m, hl
  if (snapload(snap) != snapbytes) { rc = 13; exit }
  if (cmp != "" && canon(cmp) == canon(snap)) { rc = 10; exit }
  if (dir == "") { rc = 11; exit }
  RO = dir "/new.load"; printf "" > RO; W[RO] = 0
  if (hist != "") out(hn, dir "/histn")
}
{ if (frame($0) == "new") res($0) }
END {
  if (rc) exit rc
  if (!ended) exit 12
  if (!verified() || W[RO] < 1) exit 13
}
`;

/** The dead-man timer (run detached by apply, after COMMON): hands back its pid, sleeps, then reverts unless commit or abort claimed the transaction first. */
export const TIMER = sh`
printf '%s\n' "$$"
exec > /dev/null 2>&1
sleep "$1"
if claim timer; then
  rm -f "$T/armed"
  if revert > "$T/timer.log" 2>&1; then setstate reverted; o=reverted; else setstate revert-failed; o=revert-failed; fi
  epoch; printf '%s\n' "$NOW" > "$T/fired"
  history "$o"
  unlock
fi
`;

/** The phases (bodies run after COMMON). */
export const BODIES = {
  // Exec 1: lock + snapshot + (unchanged: release and stop) + stage + check.
  // Args: owner, lock to break ("-"), hash of the desired state, desired is empty (0|1),
  // needs ip_forward (0|1), fault ("-" | "check"). Stdin: sections meta, new, end.
  prepare: sh`
OWNER=$1; BRK=$2; WANT=$3; EMPTY=$4; NEEDFWD=$5; FAULT=$6; PREP=1
epoch
if [ ! -d "$R" ] || [ ! -d "$D" ]; then mkdir -p "$R" "$D" 2>/dev/null || die "cannot create $R and $D"; fi
if ! mkdir "$L" 2>/dev/null; then
  holder
  if [ -d "$L" ] && [ "$HOLDER" != "$TX" ]; then
    if [ "$BRK" = - ] || [ "$HOLDER" != "$BRK" ] || is_armed "$HOLDER"; then
      sec held; lockinfo; sec now; printf '%s\n' "$NOW"; sec end; exit 4
    fi
    sec broke; lockinfo
    # The holder died before its end (its prepare cut short, say): its history line says so, and prune can drop it.
    if [ -d "$D/$HOLDER" ]; then printf 'aborted\n' > "$D/$HOLDER/state"; fi
    history aborted "$HOLDER"
  elif [ ! -d "$L" ]; then
    err=$(mkdir "$L" 2>&1) || die "cannot take natchain's lock $L ($err); nothing was changed"
  fi
fi
printf '%s\n%s\n%s\n' "$TX" "$OWNER" "$NOW" > "$L/owner" 2>/dev/null || { rm -rf "$L"; die "cannot write natchain's lock $L/owner; nothing was changed"; }
if ! snap=$(dump 2> "$L/err"); then rd "$L/err"; rm -rf "$L"; die "reading natchain's state failed: $V"; fi
rd /proc/sys/net/ipv4/ip_forward; FWD=$V
rd "$D/last"; LAST=$V
sec snapshot; printf '%s\n' "$snap"
sec forward; printf '%s\n' "$FWD"
sec last; printf '%s\n' "$LAST"
sec now; printf '%s\n' "$NOW"
sec facts; facts
# The rest is one awk (STAGE_AWK): it also prints the history's last line (section histlast: a
# transaction this gateway's timer reverted while others committed it).
stage() { awk -v b="$B" -v m="@@natchain:$N:" -v snap="$1" -v snapbytes=$((\${#snap} + 1)) -v cmp="$2" -v dir="$3" -v hist="$D/history" -v say="$4" "$STAGE_AWK"; }
# Unchanged: the gateway's last commit had this desired state and nothing changed since, or
# natchain never committed here, holds nothing and nothing is wanted. One exec, lock released.
CMP=
if [ "$NEEDFWD" = 0 ] || [ "$FWD" = 1 ]; then
  if [ -n "$LAST" ]; then rd "$D/$LAST/hash"; if [ "$V" = "$WANT" ]; then CMP=$D/$LAST/applied; fi
  elif [ "$EMPTY" = 1 ]; then CMP=/dev/null; fi
fi
SAY=1
if [ -n "$CMP" ]; then
  # The snapshot goes in the lock's directory: an unchanged gateway gets no transaction directory.
  put "$L/snap" "$snap"
  stage "$L/snap" "$CMP" '' 1 < /dev/null
  case $? in
    10) rm -rf "$L"; sec unchanged; sec end; exit 0 ;;
    11) SAY=0 ;;
    *) unlock; nowrite "$L/snap" ;;
  esac
fi
mkdir -p "$T" 2>/dev/null || { rm -rf "$L"; nowrite "$T"; }
# Prepared again after waiting for a lock (--lock-timeout): nothing of the first try may decide this one.
if [ -e "$T/claim" ]; then rm -f "$T/claim"; fi
put "$T/snapshot" "$snap"
put "$T/hash" "$WANT"
put "$T/prev" "$LAST"
# Stages the framed stdin (meta, new) and checks every byte written: a full disk must never leave a
# short or empty ruleset staged.
stage "$T/snapshot" '' "$T" $SAY
case $? in
  0) ;;
  12) setstate aborted; history aborted; unlock; die "the staged ruleset did not arrive whole; nothing was changed" ;;
  *) unlock; nowrite "$T" ;;
esac
if [ "$FAULT" = check ]; then printf 'natchain-test-fault: refused on purpose\n' >> "$T/new.load"; fi
if ! out=$(check "$T/new.load" 2>&1); then setstate check-failed; history aborted; unlock; die "check failed: $out"; fi
setstate staged 2>/dev/null || { unlock; nowrite "$T/state"; }
sec staged
sec end
`,
  // Exec 2: arm the timer + load + read back. Args: seconds, enable ip_forward (0|1), fault
  // ("-", "apply", "disconnect"). Stdin: sections revert, members (the changed gateways), end.
  apply: sh`
SECS=$1; FWD=$2; FAULT=$3
holder; [ "$HOLDER" = "$TX" ] || die "natchain's lock on this gateway is no longer held by $TX"
[ -s "$T/new.load" ] || die "nothing is staged for $TX"
awk -v m="@@natchain:$N:" -v dir="$T" -v need=revert "$UNFRAME_AWK"
case $? in
  0) ;;
  12) die "the revert text did not arrive whole; nothing was changed" ;;
  *) nowrite "$T/revert" ;;
esac
epoch; DL=$((NOW + SECS))
put "$T/deadline" "$DL"
: > "$T/armed" 2>/dev/null || nowrite "$T/armed"
# The timer's script is COMMON + TIMER; its awk program comes in its environment (sent once, parsed once).
TP=$(RESOLVE_AWK=$RESOLVE_AWK setsid sh -c "$TIMER_SH" natchain "$N" "$B" "$TX" "$SECS" < /dev/null 2> /dev/null &)
case $TP in ''|*[!0-9]*) rm -f "$T/armed"; die "the dead-man timer did not start; nothing was changed" ;; esac
rd /proc/sys/kernel/random/boot_id; put "$T/timer.pid" "$TP $V"
setstate armed
if [ "$FWD" = 1 ]; then
  rd /proc/sys/net/ipv4/ip_forward; put "$T/forward.old" "$V"
  if ! printf '1\n' > /proc/sys/net/ipv4/ip_forward; then
    claim abort && { stop_timer; rm -f "$T/armed"; setstate rolled-back; history rolled-back; }
    die "cannot enable net.ipv4.ip_forward (restored the snapshot)"
  fi
fi
src=$T/new.load
if [ "$FAULT" = apply ]; then { cat "$T/new.load"; printf 'natchain-test-fault: refused on purpose\n'; } > "$T/new.fault"; src=$T/new.fault; fi
if ! out=$(load "$src" 2>&1); then
  setstate apply-failed
  if claim abort; then
    stop_timer; rm -f "$T/armed"
    if r=$(revert 2>&1); then r="restored the snapshot"; setstate rolled-back; history rolled-back; else r="restoring the snapshot failed too: $r"; setstate revert-failed; history revert-failed; fi
  else r="its dead-man timer restores the snapshot"; fi
  die "$out" "($r)"
fi
setstate applied
if ! rb=$(dump 2> "$T/err"); then rd "$T/err"; die "reading back failed: $V"; fi
printf '%s\n' "$rb" > "$T/applied"
sec readback; printf '%s\n' "$rb"
sec deadline; printf '%s\n' "$DL"
if [ "$FAULT" = disconnect ]; then
  p=$PPID
  while [ "$p" -gt 1 ]; do
    rd /proc/$p/comm; case $V in sshd*) break ;; esac
    q=1; while read -r k v; do if [ "$k" = PPid: ]; then q=$v; break; fi; done < /proc/$p/status; p=$q
  done
  if [ "$p" -gt 1 ]; then (sleep 0.3; kill -9 $p) < /dev/null > /dev/null 2>&1 & fi
fi
sec end
`,
  // Exec 3: commit = disarm + record + unlock + prune. Over a new connection.
  commit: sh`
[ -d "$T" ] || die "no transaction $TX on this gateway"
if claim commit; then
  stop_timer
  setstate committed
  setlast "$TX"
  history committed
  # Pruned under the lock: no prepare can be making a directory meanwhile.
  prune
  # The armed marker goes with the lock, in one rm (the claim already says it is not armed).
  unlock "$T/armed"
  sec ok; sec end; exit 0
fi
rd "$T/claim"; c=$V; rd "$T/state"; st=$V
if [ "$c" = commit ]; then unlock "$T/armed"; sec ok; sec end; exit 0; fi
sec state; printf '%s\n' "$st"
if [ "$c" = timer ]; then die "not armed any more (state: $st): the dead-man timer already fired"; fi
die "not armed any more (state: $st): the transaction was rolled back"
`,
  // Rolls this gateway back to its snapshot (idempotent). Args: also undo a committed gateway (0|1).
  abort: sh`
UNDO=$1
# No record of $TX (its prepare may have been cut short after taking the lock): release a lock it holds.
[ -d "$T" ] || { holder; if [ "$HOLDER" = "$TX" ]; then unlock; history aborted; fi; sec state; printf 'none\n'; sec end; exit 0; }
if [ -e "$T/armed" ] && claim abort; then stop_timer; rm -f "$T/armed"; fi
rd "$T/claim"; c=$V
if [ "$c" = timer ]; then
  i=0; while [ ! -e "$T/fired" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
rd "$T/state"; st=$V
case $st in
  armed|applied|apply-failed) todo=revert ;;
  committed) if [ "$UNDO" = 1 ]; then todo=undo; else todo=none; fi ;;
  *) todo=none ;;
esac
if [ $todo = undo ]; then
  [ -d "$R" ] || mkdir -p "$R"
  if ! mkdir "$L" 2>/dev/null; then holder; if [ "$HOLDER" != "$TX" ]; then sec held; lockinfo; die "cannot undo $TX: the lock is held by another transaction"; fi; fi
  epoch; printf '%s\n%s\n%s\n' "$TX" undo "$NOW" > "$L/owner"
fi
if [ $todo != none ]; then
  if out=$(revert 2>&1); then setstate rolled-back; else setstate revert-failed; history revert-failed; unlock; die "restoring the snapshot failed: $out"; fi
  rd "$D/last"
  if [ "$V" = "$TX" ]; then rd "$T/prev"; setlast "$V"; fi
  if [ $todo = undo ]; then history undone; else history rolled-back; fi
elif [ "$st" = staged ] || [ "$st" = '' ]; then
  # Staged, or its prepare cut short before that ('' : no state yet). (A failed check wrote its line already.)
  setstate aborted; history aborted
fi
unlock
sec state; rd "$T/state"; printf '%s\n' "$V"
sec end
`,
  // Read-only look: live state, lock, armed timers, the commit record, history (and one transaction's records).
  // Args: none, or whether to read natchain's DNAT counters (0|1; default 1: one more iptables-save on iptables).
  inspect: sh`
WITHCOUNTERS=\${1:-1}; EPOCHW=0
epoch
# Captured in a variable, never a file: a fixed temp file name is a symlink attack on a root shell.
if ! live=$(dump 2>&1); then die "reading natchain's state failed: $live"; fi
sec live; if [ -n "$live" ]; then printf '%s\n' "$live"; fi
sec now; printf '%s\n' "$NOW"
sec forward; rd /proc/sys/net/ipv4/ip_forward; printf '%s\n' "$V"
sec lock; lockinfo
sec armed
for f in "$D"/*/armed; do
  d=\${f%/armed}
  is_armed "\${d##*/}" || continue
  rd "$d/deadline"; printf '%s %s\n' "\${d##*/}" "$V"
done
rd "$D/last"; last=$V
sec last; printf '%s\n' "$last"
# The files, as sections (name, path pairs), in one process.
set --
if [ -n "$last" ] && [ -f "$D/$last/applied" ]; then set -- "$@" committed "$D/$last/applied"; fi
if [ "$TX" != none ] && [ -d "$T" ]; then
  sec txstate; rd "$T/state"; printf '%s\n' "$V"
  sec txclaim; rd "$T/claim"; printf '%s\n' "$V"
  sec txprev; rd "$T/prev"; printf '%s\n' "$V"
  sec txdeadline; rd "$T/deadline"; printf '%s\n' "$V"
  sec txmembers; rd "$T/members"; printf '%s\n' "$V"
  if [ -r "$T/meta" ]; then set -- "$@" txmeta "$T/meta"; fi
  if [ -f "$T/applied" ]; then set -- "$@" txapplied "$T/applied"; fi
  if [ -f "$T/snapshot" ]; then set -- "$@" txsnapshot "$T/snapshot"; fi
fi
if [ -r "$D/history" ]; then set -- "$@" history "$D/history"; fi
if [ -r "$D/pruned" ]; then set -- "$@" pruned "$D/pruned"; fi
if [ $# -gt 0 ]; then
  awk -v m="@@natchain:$N:" 'BEGIN { for (i = 1; i < ARGC; i += 2) { printf "\n%s%s\n", m, ARGV[i]; f = ARGV[i + 1]; while ((getline l < f) > 0) print l; close(f) } }' "$@"
fi
# The gateway's facts, the foreign ruleset (nftables) and natchain's DNAT counters (src/gateway/).
sec facts; facts
sec ruleset; ruleset
if [ "$WITHCOUNTERS" = 1 ]; then sec counters; counters; fi
sec end
`,
} as const;

/**
 * Keeps the history and the transaction directories bounded (run by commit, under the lock, after
 * the record is written): past twice HISTORY_KEEP lines, the last HISTORY_KEEP are kept, and every
 * transaction directory no kept line names goes, except the commit record's, the one before it,
 * an armed one and the lock holder's. So a directory whose transaction never wrote its line (its
 * prepare cut short by a reboot, say) goes too.
 */
export const PRUNE = sh`
prune() {
  [ -r "$D/history" ] || return 0
  KEEP=${HISTORY_KEEP}
  # The count prepare's awk took, plus this commit's line, says whether to count (the shell reads a byte per system call).
  rd "$T/histn"; case $V in ''|*[!0-9]*) ;; *) [ $((V + 1)) -gt $((KEEP * 2)) ] || return 0 ;; esac
  n=0; while IFS= read -r l; do n=$((n + 1)); done < "$D/history"
  [ $n -gt $((KEEP * 2)) ] || return 0
  rd "$D/last"; keep=" $V "; rd "$D/$V/prev"; keep="$keep$V "; holder; keep="$keep$HOLDER "
  i=0; gone=
  while IFS= read -r l; do
    i=$((i + 1))
    if [ $i -gt $((n - KEEP)) ]; then printf '%s\n' "$l"; keep="$keep\${l%%	*} "; else gone=$l; fi
  done < "$D/history" > "$D/history.tmp" && mv -f "$D/history.tmp" "$D/history" || return 0
  # The newest line pruned away: a rollback names a gateway whose history no longer reaches a transaction.
  if [ -n "$gone" ]; then printf '%s\n' "$gone" > "$D/pruned.tmp" && mv -f "$D/pruned.tmp" "$D/pruned"; fi
  old=
  for d in "$D"/[0-9]*T*Z-*/; do
    t=\${d%/}; t=\${t##*/}
    case $t in *[!0-9A-Za-z-]*) continue ;; esac
    case $keep in *" $t "*) continue ;; esac
    if [ -d "$d" ] && ! is_armed "$t"; then old="$old $D/$t"; fi
  done
  if [ -n "$old" ]; then rm -rf $old; fi
}
`;
