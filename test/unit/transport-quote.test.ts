import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  assertSafeAddress,
  assertSafeCidr,
  assertSafeComment,
  assertSafeHost,
  assertSafeUser,
  assertSafeInterface,
  assertSafeName,
  assertSafePath,
  assertSafePort,
  sh,
  shellJoin,
  shellQuote,
} from '../../src/transport/quote.js';
import { NatchainError } from '../../src/errors.js';
import { HOSTILE_STRINGS as HOSTILE } from '../support/sshd.js';


describe('transport: quoting and validation', () => {
  it('shellQuote makes every hostile string one literal word for a real /bin/sh', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'natchain-q-'));
    const canary = path.join(dir, 'pwned');
    try {
      for (const s of [...HOSTILE, `$(touch ${canary})`, `\`touch ${canary}\``]) {
        // printf prints its one argument back: any split, expansion or execution would show.
        const r = spawnSync('/bin/sh', ['-c', `printf '%s|' ${shellQuote(s)}`], { encoding: 'utf8', cwd: dir });
        assert.equal(r.status, 0, `${JSON.stringify(s)}: ${r.stderr}`);
        assert.equal(r.stdout, `${s}|`, JSON.stringify(s));
      }
      assert.ok(!existsSync(canary), 'a command substitution ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shellQuote keeps plain words readable, quotes the rest, refuses NUL', () => {
    assert.equal(shellQuote('NATCHAIN-PRE'), 'NATCHAIN-PRE');
    assert.equal(shellQuote('10.0.0.1/24'), '10.0.0.1/24');
    assert.equal(shellQuote(8080), '8080');
    assert.equal(shellQuote(''), "''");
    assert.equal(shellQuote('a=b'), "'a=b'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.throws(() => shellQuote('a\0b'), NatchainError);
  });

  it('sh`` and shellJoin quote every value and nothing else', () => {
    const name = '$(reboot)';
    assert.equal(sh`iptables -N ${name} && echo ${1}`, "iptables -N '$(reboot)' && echo 1");
    assert.equal(shellJoin(['echo', 'a b', "c'd"]), "echo 'a b' 'c'\\''d'");
    const r = spawnSync('/bin/sh', ['-c', shellJoin(['printf', '%s,', ...HOSTILE.slice(0, 5)])], { encoding: 'utf8' });
    assert.equal(r.stdout, HOSTILE.slice(0, 5).map((s) => s + ',').join(''));
  });

  it('validators refuse every hostile string', () => {
    for (const s of HOSTILE) {
      for (const check of [assertSafeName, assertSafeInterface, assertSafeAddress, assertSafeCidr, assertSafePath, assertSafeHost, assertSafeUser]) {
        assert.throws(() => check(s), (e: unknown) => e instanceof NatchainError && /unsafe/.test(e.message), `${check.name}(${JSON.stringify(s)})`);
      }
    }
    // Comments allow spaces, so only the strings with shell syntax or non-ASCII must fail.
    for (const s of HOSTILE.filter((x) => /[^A-Za-z0-9 _.:,/@=+#-]/.test(x))) {
      assert.throws(() => assertSafeComment(s), NatchainError, JSON.stringify(s));
    }
  });

  it('validators accept ordinary values', () => {
    assert.equal(assertSafeName('gw-1.site_a'), 'gw-1.site_a');
    assert.equal(assertSafeInterface('eth0.100'), 'eth0.100');
    assert.throws(() => assertSafeInterface('averyveryverylongname'));
    assert.equal(assertSafeAddress('192.0.2.10'), '192.0.2.10');
    for (const bad of ['256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4\n', '::1']) assert.throws(() => assertSafeAddress(bad), JSON.stringify(bad));
    assert.equal(assertSafeCidr('10.0.0.0/24'), '10.0.0.0/24');
    assert.throws(() => assertSafeCidr('10.0.0.0/33'));
    assert.equal(assertSafePort(65535), 65535);
    for (const bad of [0, 65536, 1.5, NaN, '22' as unknown as number]) assert.throws(() => assertSafePort(bad));
    assert.equal(assertSafeComment('natchain fwd=ssh-seed hop 2/3'), 'natchain fwd=ssh-seed hop 2/3');
    assert.equal(assertSafePath('/var/lib/natchain/tx-1.rules'), '/var/lib/natchain/tx-1.rules');
    for (const h of ['gw1', 'gw-1.example.org', '192.0.2.1', '2001:db8::1', '::1']) assert.equal(assertSafeHost(h), h);
    for (const bad of ['-oProxyCommand=x', 'gw1.', 'a b', 'gw1;id', '%h']) assert.throws(() => assertSafeHost(bad), JSON.stringify(bad));
    for (const u of ['root', 'natchain-op', '_svc', 'a.b']) assert.equal(assertSafeUser(u), u);
    for (const bad of ['-l', 'a b', 'root;id', 'x'.repeat(33)]) assert.throws(() => assertSafeUser(bad), JSON.stringify(bad));
    assert.throws(() => assertSafePath('/var/lib/../../etc'));
    assert.throws(() => assertSafePath('relative/path'));
  });
});
