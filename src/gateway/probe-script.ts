// The remote half of `natchain probe`: one fixed sh script per gateway that asks the kernel for the
// route to each address (`ip route get`) and opens TCP connections from the gateway itself. It sends
// no traffic but those connections, and only to the forwards' targets. Arguments are checked words
// (`route:<ipv4>`, `tcp:<ipv4>:<port>`); the answer is one framed section of one line per check.
import { NatchainError } from '../errors.js';
import { shellQuote } from '../transport/quote.js';

/** One check to run on a gateway. */
export type ProbeCheck = { kind: 'route'; address: string } | { kind: 'tcp'; address: string; port: number };

/** What one check saw on the gateway. */
export type ProbeAnswer =
  | { kind: 'route'; address: string; dev?: string; error?: string; line: string }
  | { kind: 'tcp'; address: string; port: number; ok: boolean | null; detail: string };

// A plain template: \${...} below is shell parameter expansion, \\n a backslash-n for printf.
const SCRIPT = `
set -u
N=$1; shift
printf '\\n@@natchain:%s:probe\\n' "$N"
tcp_check() {
  if command -v bash >/dev/null 2>&1; then
    out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>&1); rc=$?
  elif command -v nc >/dev/null 2>&1; then
    out=$(nc -z -w 3 "$1" "$2" 2>&1); rc=$?
  elif command -v socat >/dev/null 2>&1; then
    out=$(timeout 3 socat -u /dev/null "TCP:$1:$2,connect-timeout=3" 2>&1); rc=$?
  else
    echo "skip no bash, nc or socat on the gateway to open a TCP connection with"; return
  fi
  if [ $rc = 0 ]; then echo ok; elif [ $rc = 124 ]; then echo "fail no answer within 3s"; else echo "fail $(printf '%s' "$out" | tr '\\n' ' ' | sed 's/^.*: //')"; fi
}
for a in "$@"; do
  case $a in
  route:*) printf 'route %s %s\\n' "\${a#route:}" "$(ip -o route get "\${a#route:}" 2>&1 | tr '\\n' ' ')" ;;
  tcp:*) t=\${a#tcp:}; printf 'tcp %s %s\\n' "$t" "$(tcp_check "\${t%:*}" "\${t##*:}")" ;;
  esac
done
printf '\\n@@natchain:%s:end\\n' "$N"
`;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The command line for a gateway's checks; throws on an argument that is not of the expected shape. */
export function probeCommand(nonce: string, checks: readonly ProbeCheck[]): string {
  const words = checks.map((c) => {
    if (!IPV4.test(c.address)) throw new NatchainError('INTERNAL', `bad probe address ${JSON.stringify(c.address)}`);
    if (c.kind === 'route') return `route:${c.address}`;
    if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) throw new NatchainError('INTERNAL', `bad probe port ${c.port}`);
    return `tcp:${c.address}:${c.port}`;
  });
  if (!/^[0-9a-f]{16}$/.test(nonce)) throw new NatchainError('INTERNAL', `bad nonce ${nonce}`);
  return `sh -c ${shellQuote(SCRIPT)} natchain ${[nonce, ...words].map((w) => shellQuote(w)).join(' ')}`;
}

/** Parses the `probe` section: one answer per line, in the order asked. */
export function parseProbe(section: string): ProbeAnswer[] {
  const out: ProbeAnswer[] = [];
  for (const line of section.split('\n')) {
    const m = /^(route|tcp) (\S+) ?(.*)$/.exec(line.trim());
    if (!m) continue;
    const rest = m[3]!.trim();
    if (m[1] === 'route') {
      const dev = /\bdev (\S+)/.exec(rest)?.[1];
      const a: ProbeAnswer = { kind: 'route', address: m[2]!, line: rest };
      if (dev) a.dev = dev;
      else a.error = rest || 'no answer';
      out.push(a);
    } else {
      const [address, port] = [m[2]!.slice(0, m[2]!.lastIndexOf(':')), Number(m[2]!.slice(m[2]!.lastIndexOf(':') + 1))];
      const ok = rest === 'ok' ? true : rest.startsWith('skip') ? null : false;
      out.push({ kind: 'tcp', address, port, ok, detail: rest.replace(/^(ok|fail|skip) ?/, '') });
    }
  }
  return out;
}
