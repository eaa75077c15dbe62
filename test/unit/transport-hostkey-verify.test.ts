import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostKeyPolicy, verifyHostKey, type HostKeyPolicy } from '../../src/transport/hostkey-verify.js';
import { KnownHostsStore } from '../../src/transport/knownhosts-store.js';
import { parseSshConfig, resolveSshConfig } from '../../src/transport/sshconfig.js';

// A real ed25519 key (as in transport-knownhosts.test.ts) and one with other bytes: the "changed key".
const KEY_B64 = 'AAAAC3NzaC1lZDI1NTE5AAAAIIpOt3ifR6cqUUhXKKS/zsett8xmWryhHAocYRl+LD9y';
const KEY = Buffer.from(KEY_B64, 'base64');
const KEY_FP = 'SHA256:JF1NjvqlHtVADxazLO/lKiXJ5tOjtCo/v2FiJAKg0tY';
const OTHER = Buffer.concat([KEY.subarray(0, KEY.length - 1), Buffer.from([KEY[KEY.length - 1]! ^ 1])]);

describe('transport: the host-key check of a handshake', () => {
  let dir = '';
  let known = '';
  const policy = (over: Partial<HostKeyPolicy> = {}): HostKeyPolicy => ({ name: 'gw1', userFiles: [known], files: [known], acceptNew: false, hashed: false, ...over });
  const check = (p: HostKeyPolicy, key: Buffer) => {
    const notes: string[] = [];
    return { out: verifyHostKey('gw1', p, new KnownHostsStore(), key, (m) => notes.push(m)), notes };
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'natchain-hostkey-'));
    known = path.join(dir, 'known_hosts');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a known key and says nothing', () => {
    writeFileSync(known, `gw1 ssh-ed25519 ${KEY_B64}\n`);
    assert.deepEqual(check(policy(), KEY), { out: { ok: true, fingerprint: KEY_FP }, notes: [] });
  });

  it('refuses an unknown key unless new keys may be recorded; records it in the first user file and says where', () => {
    const refused = check(policy(), KEY).out;
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.error.message, `gw1: unknown host key for gw1: ED25519 ${KEY_FP}`);
    const { out, notes } = check(policy({ acceptNew: true }), KEY);
    assert.deepEqual(out, { ok: true, fingerprint: KEY_FP });
    assert.deepEqual(notes, [`recorded new host key for gw1 (ED25519 ${KEY_FP}) in ${known}:1 (plain entry)`]);
    assert.equal(readFileSync(known, 'utf8'), `gw1 ssh-ed25519 ${KEY_B64}\n`);
    const none = check(policy({ acceptNew: true, userFiles: [], files: ['/etc/ssh/ssh_known_hosts'] }), OTHER).out;
    assert.equal(!none.ok && none.error.message, `gw1: unknown host key ${none.ok ? "" : none.fingerprint} and no UserKnownHostsFile to record it in`);
  });

  it('refuses a changed or revoked key even when new keys may be recorded', () => {
    writeFileSync(known, `gw1 ssh-ed25519 ${KEY_B64}\n`);
    const changed = check(policy({ acceptNew: true }), OTHER).out;
    assert.equal(changed.ok, false);
    assert.match(!changed.ok ? changed.error.message : '', new RegExp(`^gw1: HOST KEY CHANGED for gw1: it now presents ED25519 \\S+, but ${known}:1 has ED25519 ${KEY_FP}$`));
    assert.equal(!changed.ok && changed.error.code, 'HOST_KEY');
    writeFileSync(known, `@revoked * ssh-ed25519 ${KEY_B64}\n`);
    const revoked = check(policy({ acceptNew: true }), KEY).out;
    assert.equal(!revoked.ok && revoked.error.message, `gw1: the host key of gw1 is REVOKED (ED25519 ${KEY_FP})`);
  });

  it('takes its files and accept-new from ssh_config (StrictHostKeyChecking accept-new or no) and the --accept-new option', () => {
    const resolve = (text: string) => resolveSshConfig([parseSshConfig(text, '/x')], 'gw1', { localUser: 'u' });
    const cfg = resolve('Host gw1\n  UserKnownHostsFile ~/kh\n  StrictHostKeyChecking accept-new\n');
    const tokens = { host: 'gw1', alias: 'gw1', port: 22, remoteUser: 'root', localUser: 'u', home: '/home/u' };
    const p = hostKeyPolicy('gw1', cfg, tokens, undefined);
    assert.deepEqual(p.userFiles, ['/home/u/kh']);
    assert.deepEqual(p.files, ['/home/u/kh', '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
    assert.equal(p.acceptNew, true);
    assert.equal(hostKeyPolicy('gw1', resolve(''), tokens, undefined).acceptNew, false);
    assert.equal(hostKeyPolicy('gw1', resolve('Host gw1\n  StrictHostKeyChecking no\n'), tokens, undefined).acceptNew, true);
    assert.equal(hostKeyPolicy('gw1', resolve(''), tokens, true).acceptNew, true);
  });
});
