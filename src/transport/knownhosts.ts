import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { NatchainError } from '../errors.js';
import { toNameTable } from '../names.js';
import { matchPatternList } from './sshconfig.js';

// known_hosts(5) as OpenSSH reads it: plain and hashed (`|1|salt|hmac`) host fields, `[host]:port`
// names for non-default ports, `!negated` patterns, and the @revoked / @cert-authority markers.
// Decisions are a pure function (checkHostKey); reading and appending are separate.

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  file: string;
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The host field as written (comma list of patterns, or one `|1|...` hash). */
  hosts: string;
  keyType: string;
  /** The public key blob (the base64 field decoded). */
  key: Buffer;
}

/** Parses known_hosts text; lines that are not entries (comments, garbage) are skipped like OpenSSH does. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) return;
    const f = s.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (f[0]!.startsWith('@')) {
      const m = f.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return; // unknown marker: OpenSSH ignores the line
    }
    const [hosts, keyType, b64] = f;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return;
    const key = Buffer.from(b64, 'base64');
    if (blobKeyType(key) !== keyType) return; // corrupt or mislabelled line
    const e: KnownHostEntry = { file, line: idx + 1, hosts, keyType, key };
    if (marker) e.marker = marker;
    out.push(e);
  });
  return out;
}

/** The name a host's keys are filed under: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Hashes a host name as `ssh-keygen -H` / HashKnownHosts do: `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const mac = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${mac.toString('base64')}`;
}

/** Whether an entry's host field names `name` (hashed fields compared by HMAC, plain ones as pattern lists). */
export function entryMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const parts = hosts.split('|');
    if (parts.length !== 4) return false;
    const salt = Buffer.from(parts[2]!, 'base64');
    const want = Buffer.from(parts[3]!, 'base64');
    const mac = createHmac('sha1', salt).update(name).digest();
    return mac.length === want.length && mac.equals(want);
  }
  return matchPatternList(name.toLowerCase(), hosts.split(','));
}

/** The key type name at the start of an SSH public key blob (`ssh-ed25519`, `ssh-rsa`...). */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return undefined;
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** OpenSSH's fingerprint: `SHA256:` + unpadded base64 of the blob's SHA-256. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** A short human name for a key type (`ED25519`, `ECDSA`, `RSA`), as ssh prints it. */
export function keyTypeLabel(type: string | undefined): string {
  if (!type) return 'unknown';
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  if (type === 'ssh-rsa') return 'RSA';
  if (type === 'ssh-dss') return 'DSA';
  return type;
}

/** The outcome of looking a presented key up. */
export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'revoked'; entry: KnownHostEntry }
  /** Other keys are on file for this name: the key changed (or the server no longer offers a type we know). */
  | { status: 'changed'; entries: KnownHostEntry[] }
  | { status: 'unknown' };

/** Decides about a presented host key given the entries of every known_hosts file read (pure). */
export function checkHostKey(entries: KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const mine = entries.filter((e) => e.marker !== 'cert-authority' && entryMatches(e.hosts, name));
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  // A revoked key is refused whatever host field the @revoked line carries (OpenSSH does the same).
  if (revoked) return { status: 'revoked', entry: revoked };
  const hit = mine.find((e) => !e.marker && e.key.equals(key));
  if (hit) return { status: 'known', entry: hit };
  const others = mine.filter((e) => !e.marker);
  if (others.length > 0) {
    // Prefer reporting a line of the same key type: that is the key that "changed".
    const type = blobKeyType(key);
    const same = others.filter((e) => e.keyType === type);
    return { status: 'changed', entries: same.length > 0 ? same : others };
  }
  return { status: 'unknown' };
}

/** Reads every existing file of the list (missing ones are simply empty, as for ssh). */
export function readKnownHosts(files: string[]): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new NatchainError('SSH', `cannot read known_hosts file ${f}: ${(e as Error).message}`);
    }
    out.push(...parseKnownHosts(text, f));
  }
  return out;
}

/** Appends a host key to a known_hosts file (creating it and its directory), hashed or plain; returns the line number written. */
export function appendKnownHost(file: string, name: string, key: Buffer, hashed: boolean): number {
  return appendKnownHostEntry(file, name, key, hashed).entry.line;
}

/** appendKnownHost, returning the entry written and the file's signature (inode:size:mtime) before the write. */
export function appendKnownHostEntry(file: string, name: string, key: Buffer, hashed: boolean): { entry: KnownHostEntry; before: string } {
  const type = blobKeyType(key);
  if (!type) throw new NatchainError('HOST_KEY', `cannot record a malformed host key for ${name}`);
  const dir = path.dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let prefix = '';
  let lines = 0;
  let before = 'missing';
  if (existsSync(file)) {
    const st = statSync(file);
    before = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (st.size > 0) {
      const text = readFileSync(file, 'utf8');
      // Never glue our entry onto a last line without a newline.
      if (!text.endsWith('\n')) prefix = '\n';
      lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    }
  }
  const hostField = hashed ? hashHostName(name) : name;
  appendFileSync(file, `${prefix}${hostField} ${type} ${key.toString('base64')}\n`, { mode: 0o600 });
  return { entry: { file, line: lines + 1, hosts: hostField, keyType: type, key }, before };
}

// Which host-key algorithms a key type can be negotiated with (ssh-rsa keys sign with rsa-sha2-*).
// No prototype: a key type read from known_hosts is looked up here.
const ALGOS_BY_TYPE: Record<string, string[]> = toNameTable({
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
});
/** ssh2's default host-key algorithm order (ssh-dss is supported but not offered by default). */
export const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * Host-key algorithms to offer, types already on file for `name` first: like OpenSSH, so a
 * server with several host keys shows the one we know instead of one that looks "unknown".
 */
export function preferredHostKeyAlgorithms(entries: KnownHostEntry[], name: string): string[] {
  const first: string[] = [];
  for (const e of entries) {
    if (e.marker || !entryMatches(e.hosts, name)) continue;
    for (const a of ALGOS_BY_TYPE[e.keyType] ?? []) if (!first.includes(a)) first.push(a);
  }
  return [...first, ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}
