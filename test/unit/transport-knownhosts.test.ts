import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  appendKnownHost,
  checkHostKey,
  entryMatches,
  fingerprint,
  hashHostName,
  knownHostName,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
} from '../../src/transport/knownhosts.js';
import { KnownHostsStore } from '../../src/transport/knownhosts-store.js';

// A real ed25519 key and entries hashed by OpenSSH's `ssh-keygen -H` (vectors made once, kept here).
const KEY_B64 = 'AAAAC3NzaC1lZDI1NTE5AAAAIIpOt3ifR6cqUUhXKKS/zsett8xmWryhHAocYRl+LD9y';
const KEY = Buffer.from(KEY_B64, 'base64');
const KEY_FP = 'SHA256:JF1NjvqlHtVADxazLO/lKiXJ5tOjtCo/v2FiJAKg0tY';
const HASHED_GW1 = '|1|Ik3+mglKfv6O6+WaqMdEsUIqP4A=|1CHbB2pftFBwg4Htc/TokGuFaRU=';
const HASHED_PORT = '|1|6BMDwJ78TI/NXuc0A6BSLt8pAC0=|grjqAkdleYERfQMpxGlnFO1gGac=';
// Another ed25519 key (same type, different bytes): the "changed key".
const OTHER = Buffer.concat([KEY.subarray(0, KEY.length - 1), Buffer.from([KEY[KEY.length - 1]! ^ 1])]);

describe('transport: known_hosts', () => {
  it('computes the same fingerprint as ssh-keygen -l', () => {
    assert.equal(fingerprint(KEY), KEY_FP);
  });

  it('formats names like OpenSSH: bare on port 22, [host]:port otherwise', () => {
    assert.equal(knownHostName('gw1', 22), 'gw1');
    assert.equal(knownHostName('10.0.0.5', 2222), '[10.0.0.5]:2222');
  });

  it('matches entries hashed by ssh-keygen -H, including the [host]:port form', () => {
    assert.ok(entryMatches(HASHED_GW1, 'gw1'));
    assert.ok(!entryMatches(HASHED_GW1, 'gw2'));
    assert.ok(entryMatches(HASHED_PORT, '[10.0.0.5]:2222'));
    assert.ok(!entryMatches(HASHED_PORT, '10.0.0.5'));
  });

  it('hashes names so that they match (round trip with a fixed salt)', () => {
    const salt = Buffer.from(HASHED_GW1.split('|')[2]!, 'base64');
    assert.equal(hashHostName('gw1', salt), HASHED_GW1);
    assert.ok(entryMatches(hashHostName('[h]:2'), '[h]:2'));
  });

  it('matches plain pattern lists with wildcards and negation', () => {
    assert.ok(entryMatches('gw1,gw2', 'gw2'));
    assert.ok(entryMatches('*.example.org', 'a.example.org'));
    assert.ok(!entryMatches('*.example.org,!bad.example.org', 'bad.example.org'));
    assert.ok(entryMatches('GW1', 'gw1'));
    assert.ok(!entryMatches('gw?', 'gw10'));
  });

  it('parses markers, skips comments and malformed or mislabelled lines', () => {
    const text = [
      '# comment',
      '',
      `gw1 ssh-ed25519 ${KEY_B64} comment words`,
      `@revoked * ssh-ed25519 ${KEY_B64}`,
      `@cert-authority *.x ssh-ed25519 ${KEY_B64}`,
      `@weird gw1 ssh-ed25519 ${KEY_B64}`,
      `gw2 ssh-rsa ${KEY_B64}`, // type does not match the blob
      'gw3 ssh-ed25519 !!!notbase64',
      'garbage',
    ].join('\n');
    const e = parseKnownHosts(text, 'kh');
    assert.deepEqual(
      e.map((x) => [x.line, x.marker ?? '', x.hosts]),
      [
        [3, '', 'gw1'],
        [4, 'revoked', '*'],
        [5, 'cert-authority', '*.x'],
      ],
    );
  });

  describe('checkHostKey', () => {
    const entries = parseKnownHosts([`${HASHED_GW1} ssh-ed25519 ${KEY_B64}`, `gw2 ssh-ed25519 ${KEY_B64}`].join('\n'), '/kh');

    it('known: the key is on file for the name (hashed or plain)', () => {
      assert.equal(checkHostKey(entries, 'gw1', KEY).status, 'known');
      assert.equal(checkHostKey(entries, 'gw2', KEY).status, 'known');
    });

    it('changed: another key is on file for the name, with file and line', () => {
      const v = checkHostKey(entries, 'gw2', OTHER);
      assert.equal(v.status, 'changed');
      assert.ok(v.status === 'changed' && v.entries[0]!.file === '/kh' && v.entries[0]!.line === 2);
    });

    it('unknown: nothing on file for the name', () => {
      assert.equal(checkHostKey(entries, 'gw3', KEY).status, 'unknown');
      assert.equal(checkHostKey(entries, '[gw2]:2222', KEY).status, 'unknown');
    });

    it('revoked wins over a matching entry', () => {
      const e2 = [...entries, ...parseKnownHosts(`@revoked * ssh-ed25519 ${KEY_B64}`, '/revoked')];
      const v = checkHostKey(e2, 'gw1', KEY);
      assert.equal(v.status, 'revoked');
    });

    it('cert-authority lines are neither a match nor a "changed" key', () => {
      const e2 = parseKnownHosts(`@cert-authority gw9 ssh-ed25519 ${KEY_B64}`, '/ca');
      assert.equal(checkHostKey(e2, 'gw9', OTHER).status, 'unknown');
    });
  });

  it('prefers host-key algorithms already on file for the host', () => {
    const e = parseKnownHosts(`gw1 ssh-rsa ${rsaBlobB64()}`, 'kh');
    const algos = preferredHostKeyAlgorithms(e, 'gw1');
    assert.deepEqual(algos.slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    assert.equal(algos.length, new Set(algos).size);
    assert.equal(preferredHostKeyAlgorithms(e, 'gw2')[0], 'ssh-ed25519');
  });

  it('appends plain and hashed entries that read back as known, fixing a missing final newline', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'natchain-kh-'));
    try {
      const f = path.join(dir, 'sub', 'known_hosts');
      assert.equal(appendKnownHost(f, 'gw1', KEY, false), 1);
      writeFileSync(f, readFileSync(f, 'utf8') + `# no newline`);
      assert.equal(appendKnownHost(f, '[10.0.0.5]:2222', KEY, true), 3);
      const text = readFileSync(f, 'utf8');
      assert.match(text, /^gw1 ssh-ed25519 \S+\n# no newline\n\|1\|/);
      const e = parseKnownHosts(text, f);
      assert.equal(checkHostKey(e, 'gw1', KEY).status, 'known');
      assert.equal(checkHostKey(e, '[10.0.0.5]:2222', KEY).status, 'known');
      assert.ok(!text.includes('10.0.0.5'), 'hashed entry must not reveal the name');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('KnownHostsStore (parsed once per run, indexed)', () => {
    const lines = [
      `gw2 ssh-ed25519 ${KEY_B64}`,
      `${HASHED_GW1} ssh-ed25519 ${KEY_B64}`,
      `*.example.org,!bad.example.org ssh-ed25519 ${KEY_B64}`,
      `GW3,gw4 ssh-ed25519 ${OTHER.toString('base64')}`,
      `@revoked * ssh-ed25519 ${OTHER.toString('base64')}`,
      `@cert-authority gw9 ssh-ed25519 ${KEY_B64}`,
    ];
    let dir = '';
    beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'natchain-khs-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('gives the same verdict as a scan of every entry, for every kind of host field', () => {
      const f = path.join(dir, 'known_hosts');
      writeFileSync(f, lines.join('\n') + '\n');
      const all = parseKnownHosts(readFileSync(f, 'utf8'), f);
      const store = new KnownHostsStore();
      for (const name of ['gw1', 'gw2', 'GW2', 'gw3', 'gw4', 'a.example.org', 'bad.example.org', 'gw9', '[gw2]:2222', 'nothing']) {
        for (const key of [KEY, OTHER]) {
          assert.deepEqual(checkHostKey(store.lookup([f, path.join(dir, 'missing')], name), name, key), checkHostKey(all, name, key), `${name}`);
        }
        assert.deepEqual(preferredHostKeyAlgorithms(store.lookup([f], name), name), preferredHostKeyAlgorithms(all, name));
      }
    });

    it('reads a file once while it is unchanged, again when it changes, and indexes the keys it records', () => {
      const f = path.join(dir, 'known_hosts');
      writeFileSync(f, lines[0] + '\n');
      const store = new KnownHostsStore();
      assert.equal(checkHostKey(store.lookup([f], 'gw2'), 'gw2', KEY).status, 'known');
      const first = store.lookup([f], 'gw2')[0];
      assert.equal(store.lookup([f], 'gw2')[0], first, 'the parsed entry is reused, not re-read');
      assert.equal(store.record(f, 'gw7', KEY, false), 2);
      assert.equal(store.record(f, '[gw8]:2200', KEY, true), 3);
      assert.equal(store.lookup([f], 'gw2')[0], first, 'recording a key does not re-read the file');
      assert.equal(checkHostKey(store.lookup([f], 'gw7'), 'gw7', KEY).status, 'known');
      assert.equal(checkHostKey(store.lookup([f], '[gw8]:2200'), '[gw8]:2200', KEY).status, 'known');
      // Someone else edits the file: the next lookup sees it.
      writeFileSync(f, `gw2 ssh-ed25519 ${OTHER.toString('base64')}\n`);
      assert.equal(checkHostKey(store.lookup([f], 'gw2'), 'gw2', KEY).status, 'changed');
      assert.equal(checkHostKey(store.lookup([f], 'gw7'), 'gw7', KEY).status, 'unknown');
    });
  });
});

function rsaBlobB64(): string {
  // A syntactically valid ssh-rsa blob (type, e, n): enough for the parser, never used to verify.
  const s = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([s(Buffer.from('ssh-rsa')), s(Buffer.from([1, 0, 1])), s(Buffer.alloc(64, 7))]).toString('base64');
}
