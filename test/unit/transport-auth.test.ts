import { expect } from 'chai';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { signingOnce } from '../../src/transport/auth.js';

const { utils } = ssh2;

/** A fresh private key of a type, parsed the way loadIdentity parses it. */
function parsed(type: 'ed25519' | 'rsa' | 'ecdsa', bits?: number): ParsedKey {
  const pair = utils.generateKeyPairSync(type as never, (bits ? { bits } : {}) as never) as { private: string };
  const k = utils.parseKey(pair.private);
  if (k instanceof Error) throw k;
  return (Array.isArray(k) ? k[0] : k) as ParsedKey;
}

describe('transport: a key decoded once signs what ssh2 would sign', () => {
  const data = Buffer.from('session id and userauth request: the bytes a login signs');

  it('ed25519 and RSA (deterministic signatures): the very same bytes, for every hash ssh2 asks for', () => {
    const ed = parsed('ed25519');
    const want = ed.sign(data);
    expect(signingOnce(parsed('ed25519')).sign(data)).to.not.deep.equal(want); // another key, another signature
    const edFast = signingOnce(Object.assign(Object.create(Object.getPrototypeOf(ed)), ed) as ParsedKey);
    expect(edFast.sign(data)).to.deep.equal(want);
    const rsa = parsed('rsa', 2048);
    const rsaWant = [undefined, 'sha256', 'sha512'].map((a) => rsa.sign(data, a));
    const rsaFast = signingOnce(Object.assign(Object.create(Object.getPrototypeOf(rsa)), rsa) as ParsedKey);
    expect([undefined, 'sha256', 'sha512'].map((a) => rsaFast.sign(data, a))).to.deep.equal(rsaWant);
  });

  it('ECDSA (randomised signatures): ssh2 itself verifies the signature', () => {
    const ec = signingOnce(parsed('ecdsa', 256));
    const sig = ec.sign(data);
    expect(Buffer.isBuffer(sig)).to.equal(true);
    expect(ec.verify(data, sig)).to.equal(true);
    expect(ec.verify(Buffer.from('other bytes'), sig)).to.equal(false);
  });
});
