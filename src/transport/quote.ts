import { NatchainError } from '../errors.js';
import { IFNAME_RE, isSafeHost, NAME_RE, USER_RE } from '../topology/names.js';

// Everything here guards the one place where topology text meets a remote /bin/sh: invariant 6
// says nothing built from user input reaches a shell unvalidated. The validators are
// deliberately narrower than what Linux accepts; widening one is a design decision, not a fix.

/** Quotes one argument for a POSIX shell: the result is always exactly one literal word. */
export function shellQuote(arg: string | number): string {
  const s = String(arg);
  // NUL cannot be part of an argv string; a shell would silently truncate it.
  if (s.includes('\0')) throw unsafe('shell argument', s, 'contains a NUL byte');
  // Bare words are kept readable; `=` is excluded because a leading `a=b` word is an assignment.
  if (s !== '' && /^[A-Za-z0-9_./:@%+,-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Joins arguments into one shell command line, each one quoted. */
export function shellJoin(args: ReadonlyArray<string | number>): string {
  return args.map(shellQuote).join(' ');
}

/**
 * Template tag that quotes every interpolated value: sh`iptables -t nat -N ${chain}`.
 * Only the literal parts of the template are shell syntax; values are always single words.
 */
export function sh(strings: TemplateStringsArray, ...values: ReadonlyArray<string | number>): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += shellQuote(v) + (strings[i + 1] ?? '');
  });
  return out;
}

function unsafe(what: string, value: string, why: string): NatchainError {
  // JSON.stringify shows control characters and quotes unambiguously in the message.
  return new NatchainError('TOPOLOGY_INVALID', `unsafe ${what} ${JSON.stringify(value)}: ${why}`, [
    'natchain refuses to send it to a gateway shell; fix the topology',
  ]);
}

/** Asserts a natchain name (gateway, forward, site, network, lab): ASCII letters, digits, `_ . -`, starting alnum, 1–63 chars. */
export function assertSafeName(value: string, what = 'name'): string {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    throw unsafe(what, String(value), 'allowed are 1-63 ASCII letters, digits, "_", "." and "-", starting with a letter or digit');
  }
  return value;
}

/** Asserts a kernel interface name (IFNAMSIZ: at most 15 bytes), ASCII only. */
export function assertSafeInterface(value: string, what = 'interface name'): string {
  if (typeof value !== 'string' || !IFNAME_RE.test(value)) {
    throw unsafe(what, String(value), 'allowed are 1-15 ASCII letters, digits, "_", "." and "-", starting with a letter');
  }
  return value;
}

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
/** Asserts a dotted-quad IPv4 address without leading zeros (which some tools read as octal). */
export function assertSafeAddress(value: string, what = 'address'): string {
  if (typeof value !== 'string' || !IPV4_RE.test(value)) {
    throw unsafe(what, String(value), 'expected a dotted-quad IPv4 address such as 192.0.2.10');
  }
  return value;
}

/** Asserts an IPv4 prefix `a.b.c.d/n` with n in 0..32. */
export function assertSafeCidr(value: string, what = 'prefix'): string {
  const m = typeof value === 'string' ? /^([0-9.]+)\/(3[0-2]|[12]?[0-9])$/.exec(value) : null;
  if (!m || !IPV4_RE.test(m[1]!)) throw unsafe(what, String(value), 'expected an IPv4 prefix such as 10.0.0.0/24');
  return value;
}

/** Asserts a TCP/UDP port number 1..65535 (an integer, not a string that looks like one). */
export function assertSafePort(value: number, what = 'port'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw unsafe(what, String(value), 'expected an integer port 1-65535');
  }
  return value;
}

const COMMENT_RE = /^[A-Za-z0-9 _.:,/@=+#-]{0,200}$/;
/** Asserts a rule comment: printable ASCII without quotes, `$`, backslash, backtick or `;`; at most 200 chars (netfilter allows 255). */
export function assertSafeComment(value: string, what = 'comment'): string {
  if (typeof value !== 'string' || !COMMENT_RE.test(value)) {
    throw unsafe(what, String(value), 'allowed are ASCII letters, digits, spaces and _ . : , / @ = + # - (at most 200)');
  }
  return value;
}

const PATH_RE = /^\/[A-Za-z0-9_.@+-]+(\/[A-Za-z0-9_.@+-]+)*\/?$/;
/** Asserts an absolute remote path made of plain segments (no `..`, spaces or shell syntax). */
export function assertSafePath(value: string, what = 'path'): string {
  if (typeof value !== 'string' || !PATH_RE.test(value) || value.split('/').some((seg) => seg === '..' || seg === '.')) {
    throw unsafe(what, String(value), 'expected an absolute path of plain segments (letters, digits, _ . @ + -)');
  }
  return value;
}

/**
 * Asserts an SSH host: a DNS name, ssh_config alias, IPv4 or IPv6 literal. It may be expanded into
 * a local ProxyCommand through %h/%n (the OpenSSH CVE-2023-51385 pattern), so shell syntax is refused.
 */
export function assertSafeHost(value: string, what = 'ssh host'): string {
  if (typeof value !== 'string' || !isSafeHost(value)) {
    throw unsafe(what, String(value), 'expected a host name or an IP address');
  }
  return value;
}

/** Asserts a login user name (POSIX portable: no leading `-`, at most 32 chars): it reaches %r and sudoers hints. */
export function assertSafeUser(value: string, what = 'ssh user'): string {
  if (typeof value !== 'string' || !USER_RE.test(value)) {
    throw unsafe(what, String(value), 'expected a user name of ASCII letters, digits, "_", "." and "-"');
  }
  return value;
}
