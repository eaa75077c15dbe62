import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { AuthMethod, ParsedKey } from 'ssh2';
import { ioReason, NatchainError } from '../errors.js';

const { utils, OpenSSHAgent } = ssh2;

// Client authentication the way ssh(1) does it for natchain's needs: the agent first (it needs
// no prompt), then the identity files. Keys are loaded before the handshake starts, because
// ssh2's readyTimeout runs until authentication succeeds and a passphrase prompt must not eat it.

/** A private key file that can be offered, or why it cannot. */
export interface LoadedIdentity {
  file: string;
  key?: ParsedKey;
  /** Set when the key is unusable (encrypted without a way to ask, unsupported type...). */
  problem?: string;
  /** True when the file is encrypted and its public half is in the agent: the agent offers it. */
  viaAgent?: boolean;
}

/** What we will try, in order, and what we skipped (for the error message when nothing works). */
export interface AuthPlan {
  methods: AuthMethod[];
  agentKeys: number;
  identities: LoadedIdentity[];
}

/** Asks for passphrases; one promise per key file, so parallel connections share one prompt. */
export type PassphraseCache = Map<string, Promise<string>>;

// Caches live as long as the askPassphrase function they belong to: one per run in practice.
const caches = new WeakMap<(f: string) => Promise<string>, PassphraseCache>();

function cacheFor(ask: (f: string) => Promise<string>): PassphraseCache {
  let c = caches.get(ask);
  if (!c) {
    c = new Map();
    caches.set(ask, c);
  }
  return c;
}

/** The public key blob of an openssh-key-v1 file, readable without the passphrase (the format stores it in clear). */
export function opensshPublicBlob(pem: string): Buffer | undefined {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(pem);
  if (!m) return undefined;
  const buf = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0';
  if (buf.subarray(0, magic.length).toString('latin1') !== magic) return undefined;
  let off = magic.length;
  const str = (): Buffer | undefined => {
    if (off + 4 > buf.length) return undefined;
    const n = buf.readUInt32BE(off);
    off += 4;
    if (off + n > buf.length) return undefined;
    const s = buf.subarray(off, off + n);
    off += n;
    return s;
  };
  str(); // cipher
  str(); // kdf
  str(); // kdf options
  if (off + 4 > buf.length) return undefined;
  const nkeys = buf.readUInt32BE(off);
  off += 4;
  if (nkeys < 1) return undefined;
  return str();
}

function publicBlobOf(file: string, text: string): Buffer | undefined {
  const inline = opensshPublicBlob(text);
  if (inline) return inline;
  // Old PEM keys keep the public half only in the .pub file next to them.
  try {
    const pub = readFileSync(file + '.pub', 'utf8').trim().split(/\s+/)[1];
    return pub ? Buffer.from(pub, 'base64') : undefined;
  } catch {
    return undefined;
  }
}

function isEncryptedError(e: Error): boolean {
  return /encrypted|passphrase/i.test(e.message);
}

/** Lists the agent's public keys (empty when the agent is unreachable: auth then falls back to files). */
export function agentKeys(socket: string): Promise<ParsedKey[]> {
  return new Promise((resolve) => {
    const agent = new OpenSSHAgent(socket);
    const timer = setTimeout(() => resolve([]), 3000);
    agent.getIdentities((err, keys) => {
      clearTimeout(timer);
      resolve(err || !keys ? [] : (keys.filter((k) => typeof (k as ParsedKey).getPublicSSH === 'function') as ParsedKey[]));
    });
  });
}

/** Loads one identity file, asking its passphrase once (per file, per ask function) when it is encrypted. */
export async function loadIdentity(
  file: string,
  agentBlobs: Buffer[],
  ask?: (keyFile: string) => Promise<string>,
): Promise<LoadedIdentity> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, problem: `cannot read: ${ioReason(e)}` };
  }
  const parsed = utils.parseKey(text);
  const first = Array.isArray(parsed) ? (parsed[0] as ParsedKey | Error) : parsed;
  if (!(first instanceof Error)) return { file, key: signingOnce(first) };
  if (!isEncryptedError(first)) return { file, problem: `unusable key: ${first.message}` };
  const blob = publicBlobOf(file, text);
  if (blob && agentBlobs.some((b) => b.equals(blob))) return { file, viaAgent: true };
  if (!ask) {
    return { file, problem: 'encrypted, and no passphrase can be asked here (not a TTY): load it with `ssh-add` first' };
  }
  const cache = cacheFor(ask);
  let p = cache.get(file);
  if (!p) {
    p = ask(file);
    cache.set(file, p);
  }
  const pass = await p;
  const dec = utils.parseKey(text, pass);
  const k = Array.isArray(dec) ? (dec[0] as ParsedKey | Error) : dec;
  if (k instanceof Error) {
    throw new NatchainError('SSH', `wrong passphrase for key ${file}`, [
      'the passphrase is asked once per run; run again to retry, or load the key with `ssh-add`',
    ]);
  }
  return { file, key: signingOnce(k) };
}

/** The hash ssh2 signs with by default, per key type (an explicit algorithm, e.g. rsa-sha2-256's, wins). */
const DEFAULT_HASH: Record<string, string | null> = {
  'ssh-ed25519': null,
  'ssh-rsa': 'sha1',
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
};

/**
 * ssh2 signs with the key's PEM text, which OpenSSL 3 decodes again for every signature (about
 * 2 ms of CPU per login, issue 12): the key is decoded once here into a KeyObject and signs with it,
 * giving the same signature bytes. Other key types keep ssh2's own signing.
 */
export function signingOnce(key: ParsedKey): ParsedKey {
  if (!(key.type in DEFAULT_HASH) || !key.isPrivateKey()) return key;
  const keyObject = createPrivateKey(key.getPrivatePEM());
  const fallback = DEFAULT_HASH[key.type] ?? null;
  key.sign = (data: Buffer | string, algo?: string): Buffer => {
    try {
      return cryptoSign(algo || fallback, typeof data === 'string' ? Buffer.from(data) : data, keyObject);
    } catch (e) {
      return e as Buffer; // ssh2's contract: an Error is returned, not thrown
    }
  };
  return key;
}

/** The identity files to try: those configured, else ssh's defaults that exist. */
export function candidateIdentityFiles(configured: string[], sshDir: string): string[] {
  if (configured.length > 0) return configured;
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => `${sshDir}/${n}`).filter((f) => existsSync(f));
}

/**
 * What one run reads about credentials once and every connection shares: the agent's key list,
 * each identity file decoded (and its passphrase asked) once, public halves of key files.
 */
export class CredentialCache {
  private readonly agents = new Map<string, Promise<ParsedKey[]>>();
  private readonly identities = new Map<string, Promise<LoadedIdentity>>();
  private readonly blobs = new Map<string, Buffer | undefined>();

  /** The agent's keys, asked once per socket. */
  agentKeys(socket: string): Promise<ParsedKey[]> {
    let p = this.agents.get(socket);
    if (!p) {
      p = agentKeys(socket);
      this.agents.set(socket, p);
    }
    return p;
  }

  /** One identity file, loaded (and decoded) once per run; a wrong passphrase fails every connection that uses it. */
  identity(file: string, agentSocket: string | undefined, agentBlobs: Buffer[], ask?: (keyFile: string) => Promise<string>): Promise<LoadedIdentity> {
    const key = `${file}\0${agentSocket ?? ''}`;
    let p = this.identities.get(key);
    if (!p) {
      p = loadIdentity(file, agentBlobs, ask);
      this.identities.set(key, p);
      p.catch(() => undefined);
    }
    return p;
  }

  /** The public key blob of a key file (for IdentitiesOnly with an agent). */
  publicBlob(file: string): Buffer | undefined {
    if (!this.blobs.has(file)) {
      let blob: Buffer | undefined;
      try {
        blob = publicBlobOf(file, readFileSync(file, 'utf8'));
      } catch {
        blob = undefined;
      }
      this.blobs.set(file, blob);
    }
    return this.blobs.get(file);
  }
}

/**
 * Builds the list of auth attempts: agent keys (only the configured ones with IdentitiesOnly),
 * then each usable key file. A missing configured file is skipped like ssh does.
 */
export async function planAuth(opts: {
  username: string;
  agentSocket?: string | undefined;
  identityFiles: string[];
  identitiesOnly: boolean;
  ask?: ((keyFile: string) => Promise<string>) | undefined;
  /** Shared by the connections of a run (default: a fresh one, nothing shared). */
  cache?: CredentialCache;
}): Promise<AuthPlan> {
  const cache = opts.cache ?? new CredentialCache();
  const files = opts.identityFiles.filter((f) => existsSync(f));
  const keys = opts.agentSocket ? await cache.agentKeys(opts.agentSocket) : [];
  const blobs = keys.map((k) => k.getPublicSSH());
  const identities: LoadedIdentity[] = [];
  for (const f of files) identities.push(await cache.identity(f, opts.agentSocket, blobs, opts.ask));
  const methods: AuthMethod[] = [];
  let agentCount = 0;
  if (opts.agentSocket && keys.length > 0) {
    let agent: InstanceType<typeof OpenSSHAgent> = new OpenSSHAgent(opts.agentSocket);
    agentCount = keys.length;
    if (opts.identitiesOnly) {
      // Offer only agent keys that belong to a configured file, so a full agent does not
      // exhaust the server's MaxAuthTries before our key's turn.
      const wanted = files.map((f) => cache.publicBlob(f));
      const allowed = keys.filter((k) => wanted.some((w) => w && w.equals(k.getPublicSSH())));
      agentCount = allowed.length;
      agent = new FilteredAgent(opts.agentSocket, allowed);
    }
    if (agentCount > 0) methods.push({ type: 'agent', username: opts.username, agent } as AuthMethod);
  }
  for (const id of identities) {
    if (id.key) methods.push({ type: 'publickey', username: opts.username, key: id.key } as AuthMethod);
  }
  return { methods, agentKeys: agentCount, identities };
}

class FilteredAgent extends OpenSSHAgent {
  constructor(
    socket: string,
    private readonly allowed: ParsedKey[],
  ) {
    super(socket);
  }
  override getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
    cb(undefined, this.allowed);
  }
}

/** Explains what was tried, for the "authentication failed" error. */
export function describeAuth(plan: AuthPlan, agentSocket: string | undefined): string[] {
  const lines: string[] = [];
  if (agentSocket) lines.push(`ssh-agent at ${agentSocket}: ${plan.agentKeys} key(s) offered`);
  else lines.push('no ssh-agent (SSH_AUTH_SOCK is not set)');
  if (plan.identities.length === 0) lines.push('no identity file found (IdentityFile, ~/.ssh/id_ed25519, id_ecdsa, id_rsa)');
  for (const id of plan.identities) {
    if (id.key) lines.push(`key ${id.file}: offered`);
    else if (id.viaAgent) lines.push(`key ${id.file}: encrypted, offered through the agent`);
    else lines.push(`key ${id.file}: ${id.problem}`);
  }
  return lines;
}
