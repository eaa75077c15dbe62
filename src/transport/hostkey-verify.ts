import { NatchainError } from '../errors.js';
import { blobKeyType, checkHostKey, fingerprint, keyTypeLabel, type HostKeyVerdict } from './knownhosts.js';
import type { KnownHostsStore } from './knownhosts-store.js';
import { expandPath, type ResolvedSshConfig, type TokenValues } from './sshconfig.js';

// The host-key check of one handshake (invariant 6): a known key is accepted, a revoked or
// changed one always refused, an unknown one refused unless new keys may be recorded.

/** Where a target's host keys are looked up and recorded, and whether an unknown one may be recorded. */
export interface HostKeyPolicy {
  /** The host-key name (`host` or `[host]:port`, HostKeyAlias honoured). */
  name: string;
  /** The user's files (the first records new keys), then the global ones. */
  userFiles: string[];
  files: string[];
  acceptNew: boolean;
  hashed: boolean;
}

/** The policy ssh_config (and natchain's --accept-new) set for one target. */
export function hostKeyPolicy(name: string, cfg: ResolvedSshConfig, tokens: TokenValues, acceptNewOption: boolean | undefined): HostKeyPolicy {
  const userFiles = (cfg.userKnownHostsFiles ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']).map((f) => expandPath(f, tokens));
  const globalFiles = (cfg.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']).map((f) => expandPath(f, tokens));
  const strict = cfg.strictHostKeyChecking;
  return {
    name,
    userFiles,
    files: [...userFiles, ...globalFiles],
    acceptNew: acceptNewOption === true || strict === 'accept-new' || strict === 'no',
    hashed: cfg.hashKnownHosts === true,
  };
}

/** What a presented key came to: accepted, or refused with why. */
export type HostKeyOutcome = { ok: true; fingerprint: string } | { ok: false; fingerprint?: string; error: NatchainError };

/** Checks the key a server presents against the known_hosts files; records an unknown one where the policy allows (and says so through `notice`). */
export function verifyHostKey(label: string, policy: HostKeyPolicy, store: KnownHostsStore, key: Buffer, notice: (message: string) => void): HostKeyOutcome {
  let fp: string | undefined;
  try {
    // Looked up now, not earlier: a parallel connection may just have recorded a key.
    const verdict = checkHostKey(store.lookup(policy.files, policy.name), policy.name, key);
    fp = fingerprint(key);
    const presented = `${keyTypeLabel(blobKeyType(key))} ${fp}`;
    if (verdict.status === 'known') return { ok: true, fingerprint: fp };
    if (verdict.status !== 'unknown' || !policy.acceptNew) return { ok: false, fingerprint: fp, error: refusal(label, policy, verdict, presented) };
    const file = policy.userFiles[0];
    if (!file) return { ok: false, fingerprint: fp, error: new NatchainError('HOST_KEY', `${label}: unknown host key ${fp} and no UserKnownHostsFile to record it in`) };
    const line = store.record(file, policy.name, key, policy.hashed);
    notice(`recorded new host key for ${policy.name} (${presented}) in ${file}:${line} (${policy.hashed ? 'hashed' : 'plain'} entry)`);
    return { ok: true, fingerprint: fp };
  } catch (e) {
    return { ok: false, ...(fp ? { fingerprint: fp } : {}), error: e instanceof NatchainError ? e : new NatchainError('HOST_KEY', `${label}: ${(e as Error).message}`) };
  }
}

/** Why a presented key (`presented`: its type and fingerprint) is refused. */
function refusal(label: string, policy: HostKeyPolicy, verdict: Exclude<HostKeyVerdict, { status: 'known' }>, presented: string): NatchainError {
  switch (verdict.status) {
    case 'revoked':
      return new NatchainError('HOST_KEY', `${label}: the host key of ${policy.name} is REVOKED (${presented})`, [
        `marked @revoked in ${verdict.entry.file}:${verdict.entry.line}`,
        'natchain will not connect to a host presenting a revoked key',
      ]);
    case 'changed': {
      const old = verdict.entries[0]!;
      return new NatchainError(
        'HOST_KEY',
        `${label}: HOST KEY CHANGED for ${policy.name}: it now presents ${presented}, but ${old.file}:${old.line} has ${keyTypeLabel(old.keyType)} ${fingerprint(old.key)}`,
        [
          'someone may be intercepting the connection (man-in-the-middle), or the gateway was reinstalled',
          'natchain never accepts a changed key, not even with --accept-new',
          `if the change is expected, remove the old key: ssh-keygen -R '${policy.name}' -f ${old.file}`,
        ],
      );
    }
    case 'unknown':
      return new NatchainError('HOST_KEY', `${label}: unknown host key for ${policy.name}: ${presented}`, [
        `not found in ${policy.files.join(', ')}`,
        'check the fingerprint on the gateway (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then run again with --accept-new to record it',
      ]);
  }
}
