/**
 * The remote half of the transaction: fixed POSIX sh templates run on a gateway with
 * `sh -c <template> natchain <args>`. Every argument is checked against a strict pattern here and
 * shell-quoted; rulesets travel on stdin; output comes back in sections framed by a random nonce
 * (`@@natchain:<nonce>:<name>`), so no rule text can forge a section.
 *
 * Gateway-side state:
 *   /run/natchain/lock/owner        the lock (atomic mkdir): tx id, owner, time (gateway clock)
 *   /var/lib/natchain/<tx>/         snapshot, new, revert, applied, state, armed, deadline,
 *                                   timer.sh, timer.pid, forward.old, fired
 *   /var/lib/natchain/last          the last committed transaction
 */
import { NatchainError } from '../errors.js';
import { COUNTERS_SHELL } from '../gateway/counters.js';
import { FACTS_SHELL } from '../gateway/facts.js';
import { RULESET_SHELL } from '../gateway/shadow.js';
import type { Backend } from '../topology/types.js';
import { shellQuote } from '../transport/quote.js';
import { isTxId, OWNER_PATTERN } from './ids.js';

/** The remote phases natchain runs, one exec (round trip) each. */
export type RemoteOp = 'begin' | 'stage' | 'apply' | 'commit' | 'abort' | 'inspect';

/** Exit status the scripts use when natchain's lock is held by someone else. */
export const EXIT_LOCKED = 4;

const COMMON = String.raw`
set -u
umask 077
D=/var/lib/natchain
R=/run/natchain
L=$R/lock
N=$1; B=$2; TX=$3; shift 3
T=$D/$TX
sec() { printf '\n@@natchain:%s:%s\n' "$N" "$1"; }
die() { sec error; printf '%s\n' "$*"; sec end; exit 3; }
holder() { sed -n 1p "$L/owner" 2>/dev/null; }
unlock() { if [ "$(holder)" = "$TX" ]; then rm -rf "$L"; fi; }
dump() {
  case $B in
  iptables) iptables-save -t nat && iptables-save -t filter ;;
  nftables)
    t=$(nft list tables ip) || return 1
    if printf '%s\n' "$t" | grep -qx 'table ip natchain'; then nft list table ip natchain; fi ;;
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
restore_forward() { if [ -f "$T/forward.old" ]; then cat "$T/forward.old" > /proc/sys/net/ipv4/ip_forward; fi; }
owned() { grep -E '^[*]|NATCHAIN' | sed -e 's/[[][0-9]*:[0-9]*[]]//g'; }
revert() {
  if load "$T/revert" > "$T/revert.err" 2>&1; then restore_forward; return 0; fi
  if [ "$B" = iptables ]; then
    # The revert text assumes the state after the load. When a load failed (whole or per table),
    # load it table by table (a table still as in the snapshot refuses its part), then compare.
    rm -f "$T"/revert.table.*
    awk -v d="$T" '/^[*]/ { f = d "/revert.table." substr($0, 2) } f != "" { print > f } /^COMMIT/ { f = "" }' "$T/revert"
    for f in "$T"/revert.table.*; do if [ -e "$f" ]; then load "$f" >> "$T/revert.err" 2>&1; fi; done
    if [ "$(owned < "$T/snapshot")" = "$(dump | owned)" ]; then restore_forward; return 0; fi
  fi
  cat "$T/revert.err"
  return 1
}
stop_timer() {
  p=$(cat "$T/timer.pid" 2>/dev/null) || return 0
  case $p in ''|*[!0-9]*) return 0 ;; esac
  kill -TERM -$p 2>/dev/null || kill -TERM $p 2>/dev/null || :
}
lockinfo() {
  cat "$L/owner" 2>/dev/null
  h=$(holder)
  if [ -n "$h" ] && [ -e "$D/$h/armed" ]; then printf 'armed %s\n' "$(cat "$D/$h/deadline" 2>/dev/null)"; fi
}
`;

/** The dead-man timer: sleeps, then (unless disarmed by renaming `armed`) restores the snapshot and frees the lock. */
const TIMER = String.raw`
echo $$ > "$T/timer.pid"
sleep "$1"
mv "$T/armed" "$T/firing" 2>/dev/null || exit 0
if revert > "$T/timer.log" 2>&1; then echo reverted > "$T/state"; else echo revert-failed > "$T/state"; fi
date +%s > "$T/fired"
rm -f "$T/firing"
unlock
`;

const BODY: Record<RemoteOp, string> = {
  // 1: lock + snapshot + ip_forward read. Args: owner, lock to break ("-": none).
  begin: String.raw`
OWNER=$1; BRK=$2
mkdir -p "$R" "$D" || die "cannot create $R and $D"
now=$(date +%s)
if ! mkdir "$L" 2>/dev/null; then
  h=$(holder)
  if [ "$BRK" = - ] || [ "$h" != "$BRK" ] || [ -e "$D/$h/armed" ]; then
    sec held; lockinfo; sec now; echo "$now"; sec end; exit 4
  fi
  sec broke; cat "$L/owner" 2>/dev/null
  if [ -d "$D/$h" ]; then echo aborted > "$D/$h/state"; fi
fi
printf '%s\n%s\n%s\n' "$TX" "$OWNER" "$now" > "$L/owner.tmp" && mv "$L/owner.tmp" "$L/owner" || { rm -rf "$L"; die "cannot write $L/owner"; }
mkdir -p "$T" && echo locked > "$T/state" || { unlock; die "cannot create $T"; }
if ! dump > "$T/snapshot" 2> "$T/err"; then e=$(cat "$T/err"); unlock; die "reading natchain's state failed: $e"; fi
sec snapshot; cat "$T/snapshot"
sec forward; cat /proc/sys/net/ipv4/ip_forward
sec last; cat "$D/last" 2>/dev/null
sec now; echo "$now"
sec end
`,
  // 2: stage + check. Stdin: sections "new" and "revert". Args: fault ("-" or "check").
  stage: String.raw`
[ "$(holder)" = "$TX" ] || die "natchain's lock on this gateway is no longer held by $TX"
awk -v m="@@natchain:$N:" -v dir="$T" '
  index($0, m) == 1 { n = substr($0, length(m) + 1); f = ""; if (n == "new" || n == "revert") { f = dir "/" n; printf "" > f }; next }
  f != "" { print > f }'
[ -f "$T/new" ] && [ -f "$T/revert" ] || die "the staged ruleset did not arrive"
if [ "$1" = check ]; then echo 'natchain-test-fault: refused on purpose' >> "$T/new"; fi
if ! out=$(check "$T/new" 2>&1); then echo check-failed > "$T/state"; die "$out"; fi
echo staged > "$T/state"
sec ok
sec end
`,
  // 3: arm the timer + apply + read back. Args: seconds, enable ip_forward (0|1), fault ("-", "apply", "disconnect").
  apply: String.raw`
SECS=$1; FWD=$2; FAULT=$3
[ "$(holder)" = "$TX" ] || die "natchain's lock on this gateway is no longer held by $TX"
[ -f "$T/new" ] && [ -f "$T/revert" ] || die "nothing is staged for $TX"
deadline=$(( $(date +%s) + SECS ))
echo "$deadline" > "$T/deadline"
rm -f "$T/timer.pid"
cat > "$T/timer.sh" <<'NATCHAIN_TIMER'
${COMMON}
${TIMER}
NATCHAIN_TIMER
: > "$T/armed"
setsid sh "$T/timer.sh" "$N" "$B" "$TX" "$SECS" < /dev/null > /dev/null 2>&1 &
i=0
while [ ! -s "$T/timer.pid" ]; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then rm -f "$T/armed"; die "the dead-man timer did not start"; fi
  sleep 0.05
done
echo armed > "$T/state"
if [ "$FWD" = 1 ]; then
  cat /proc/sys/net/ipv4/ip_forward > "$T/forward.old"
  echo 1 > /proc/sys/net/ipv4/ip_forward || { echo apply-failed > "$T/state"; revert; mv "$T/armed" "$T/disarmed" && stop_timer; die "cannot enable net.ipv4.ip_forward"; }
fi
src=$T/new
if [ "$FAULT" = apply ]; then { cat "$T/new"; echo 'natchain-test-fault: refused on purpose'; } > "$T/new.fault"; src=$T/new.fault; fi
if ! out=$(load "$src" 2>&1); then
  echo apply-failed > "$T/state"
  if r=$(revert 2>&1); then r="restored the snapshot"; echo rolled-back > "$T/state"; else r="restoring the snapshot failed too: $r"; fi
  mv "$T/armed" "$T/disarmed" 2>/dev/null && stop_timer
  die "$out" "($r)"
fi
echo applied > "$T/state"
if ! dump > "$T/applied" 2> "$T/err"; then die "reading back failed: $(cat "$T/err")"; fi
sec readback; cat "$T/applied"
sec deadline; echo "$deadline"
if [ "$FAULT" = disconnect ]; then
  p=$PPID
  while [ "$p" -gt 1 ]; do
    case $(cat /proc/$p/comm 2>/dev/null) in sshd*) break ;; esac
    p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status 2>/dev/null); [ -n "$p" ] || p=1
  done
  if [ "$p" -gt 1 ]; then (sleep 0.3; kill -9 $p) < /dev/null > /dev/null 2>&1 & fi
fi
sec end
`,
  // 4: commit = disarm + record + unlock.
  commit: String.raw`
if mv "$T/armed" "$T/committing" 2>/dev/null; then
  stop_timer
  echo committed > "$T/state"
  rm -f "$T/committing"
  echo "$TX" > "$D/last.tmp" && mv "$D/last.tmp" "$D/last"
  unlock
  ls -1 "$D" | grep -E '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$' | sort -r | tail -n +21 | while read -r old; do
    [ -e "$D/$old/armed" ] || rm -rf "$D/$old"
  done
  sec ok
  sec end
  exit 0
fi
st=$(cat "$T/state" 2>/dev/null || echo none)
if [ "$st" = committed ]; then unlock; sec ok; sec end; exit 0; fi
sec state; echo "$st"
die "not armed any more (state: $st): the dead-man timer already fired"
`,
  // Roll this gateway back to its snapshot (idempotent). Args: also undo a committed gateway (0|1).
  abort: String.raw`
UNDO=$1
# No record of $TX (its begin may have been cut short after taking the lock): release a lock it holds.
[ -d "$T" ] || { unlock; sec state; echo none; sec end; exit 0; }
if mv "$T/armed" "$T/aborting" 2>/dev/null; then stop_timer; fi
i=0
while [ -e "$T/firing" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
st=$(cat "$T/state" 2>/dev/null || echo none)
case $st in
  armed|applied|apply-failed) todo=revert ;;
  committed) if [ "$UNDO" = 1 ]; then todo=relock; else todo=none; fi ;;
  *) todo=none ;;
esac
if [ $todo = relock ]; then
  mkdir -p "$R"
  if ! mkdir "$L" 2>/dev/null && [ "$(holder)" != "$TX" ]; then rm -f "$T/aborting"; sec held; lockinfo; die "cannot undo $TX: the lock is held by another transaction"; fi
  printf '%s\n%s\n%s\n' "$TX" undo "$(date +%s)" > "$L/owner"
  todo=revert
fi
if [ $todo = revert ]; then
  if out=$(revert 2>&1); then echo rolled-back > "$T/state"; else echo revert-failed > "$T/state"; rm -f "$T/aborting"; unlock; die "restoring the snapshot failed: $out"; fi
  if [ "$st" = committed ] && [ "$(cat "$D/last" 2>/dev/null)" = "$TX" ]; then rm -f "$D/last"; fi
elif [ "$st" = locked ] || [ "$st" = staged ] || [ "$st" = check-failed ]; then
  echo aborted > "$T/state"
fi
rm -f "$T/aborting"
unlock
sec state; cat "$T/state"
sec end
`,
  // Read-only look: live state, lock, armed timers, last commit (and one transaction's state);
  // the gateway's facts, the foreign ruleset (nftables) and natchain's DNAT counters (src/gateway/).
  inspect: String.raw`
${FACTS_SHELL}${RULESET_SHELL}${COUNTERS_SHELL}
now=$(date +%s)
# Captured in a variable, never a file: a fixed temp file name is a symlink attack on a root shell.
if ! live=$(dump 2>&1); then die "reading natchain's state failed: $live"; fi
sec live; if [ -n "$live" ]; then printf '%s\n' "$live"; fi
sec now; echo "$now"
sec forward; cat /proc/sys/net/ipv4/ip_forward
sec lock; lockinfo
sec armed
for f in "$D"/*/armed; do
  [ -e "$f" ] || continue
  d=$(dirname "$f")
  printf '%s %s\n' "$(basename "$d")" "$(cat "$d/deadline" 2>/dev/null)"
done
last=$(cat "$D/last" 2>/dev/null)
sec last; printf '%s\n' "$last"
if [ -n "$last" ] && [ -f "$D/$last/applied" ]; then sec committed; cat "$D/$last/applied"; fi
sec facts; facts
sec ruleset; ruleset
sec counters; counters
if [ "$TX" != none ] && [ -d "$T" ]; then
  sec txstate; cat "$T/state" 2>/dev/null
  if [ -f "$T/revert" ]; then sec txsnapshot; cat "$T/snapshot" 2>/dev/null; fi
fi
sec end
`,
};

/** One remote invocation: the command line (template + quoted args) and what goes to stdin. */
export interface RemoteCall {
  op: RemoteOp;
  nonce: string;
  command: string;
  stdin?: string;
}

const NONCE_RE = /^[0-9a-f]{16}$/;
const WORD_RE = /^[A-Za-z0-9._@:-]{1,200}$/;

/** A value natchain made (or checked) itself did not have its shape: a bug, or tampered state; never sent. */
function badArgument(what: string, value: unknown, op: RemoteOp): NatchainError {
  return new NatchainError('INTERNAL', `bad ${what} ${JSON.stringify(value)} for ${op}`, ['natchain refuses to send it to a gateway shell']);
}

/** Builds the exact command for one phase; throws on any argument that is not of the expected shape. */
export function remoteCall(
  op: RemoteOp,
  nonce: string,
  backend: Backend,
  tx: string | null,
  args: Array<string | number>,
  stdin?: string,
): RemoteCall {
  if (!NONCE_RE.test(nonce)) throw badArgument('nonce', nonce, op);
  if (backend !== 'iptables' && backend !== 'nftables') throw badArgument('backend', backend, op);
  if (tx !== null && !isTxId(tx)) throw badArgument('transaction id', tx, op);
  for (const a of args) {
    if (typeof a === 'number' ? !Number.isInteger(a) || a < 0 : !WORD_RE.test(a)) throw badArgument('argument', a, op);
  }
  if (op === 'begin' && !OWNER_PATTERN.test(String(args[0]))) throw badArgument('owner', args[0], op);
  const script = COMMON + BODY[op];
  const words = [nonce, backend, tx ?? 'none', ...args.map(String)].map((w) => shellQuote(w)).join(' ');
  const call: RemoteCall = { op, nonce, command: `sh -c ${shellQuote(script)} natchain ${words}` };
  if (stdin !== undefined) call.stdin = stdin;
  return call;
}

/** Frames named texts for a script's stdin (each text ends with a newline). */
export function frame(nonce: string, parts: Record<string, string>): string {
  let out = '';
  for (const [name, text] of Object.entries(parts)) {
    out += `@@natchain:${nonce}:${name}\n` + text + (text === '' || text.endsWith('\n') ? '' : '\n');
  }
  return out;
}

/** A script's output, cut into its named sections; `complete` is false when the end marker is missing. */
export interface Sections {
  get(name: string): string | undefined;
  has(name: string): boolean;
  complete: boolean;
}

/** Splits a script's stdout into sections (text between markers exactly as the gateway printed it). */
export function parseSections(stdout: string, nonce: string): Sections {
  const map = new Map<string, string>();
  const marker = new RegExp(`\\n@@natchain:${nonce}:([a-z]+)\\n`);
  const parts = stdout.split(marker);
  // parts: [before, name1, body1, name2, body2, ...]
  for (let i = 1; i + 1 < parts.length; i += 2) map.set(parts[i]!, parts[i + 1]!);
  const complete = map.has('end');
  return { get: (n) => map.get(n), has: (n) => map.has(n), complete };
}

/** The lock holder as the gateway recorded it. */
export interface LockHolder {
  tx: string;
  owner: string;
  /** When it was taken (gateway clock, epoch seconds). */
  since: number;
  /** Age in seconds, on the gateway's clock. */
  ageSec: number;
  /** Deadline of the holder's armed dead-man timer, when one is armed. */
  armedUntil?: number;
}

/** Parses a `held`/`lock` section (plus the gateway's `now`). */
export function parseLockInfo(text: string | undefined, now: number): LockHolder | undefined {
  if (!text || !text.trim()) return undefined;
  const lines = text.split('\n');
  const since = Number(lines[2] ?? NaN);
  const armed = lines.find((l) => l.startsWith('armed '));
  const holder: LockHolder = {
    tx: (lines[0] ?? '').trim() || '(being taken)',
    owner: (lines[1] ?? '').trim() || 'unknown',
    since: Number.isFinite(since) ? since : now,
    ageSec: Number.isFinite(since) ? Math.max(0, now - since) : 0,
  };
  if (armed) {
    const d = Number(armed.slice(6));
    if (Number.isFinite(d)) holder.armedUntil = d;
  }
  return holder;
}

/** Parses the `armed` section of `inspect`: each armed timer's transaction and deadline. */
export function parseArmed(text: string | undefined): Array<{ tx: string; deadline: number }> {
  return (text ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[0] && isTxId(w[0]))
    .map((w) => ({ tx: w[0]!, deadline: Number(w[1] ?? 0) }));
}
