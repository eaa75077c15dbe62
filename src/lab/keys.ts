import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** An Ed25519 key pair in OpenSSH's formats. */
export interface SshKeyPair {
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` text, unencrypted (mode 0600 on disk). */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` (authorized_keys / known_hosts form, without host names). */
  publicKey: string;
}

/**
 * Makes an Ed25519 key pair in OpenSSH's own formats, without running ssh-keygen (a lab of 50
 * gateways needs 51 keys; one process each is most of the time `lab up` would take).
 * Format: PROTOCOL.key in OpenSSH's source.
 */
export function ed25519KeyPair(comment: string): SshKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const pub = Buffer.from(jwk.x!, 'base64url');
  const type = Buffer.from('ssh-ed25519');
  const pubBlob = Buffer.concat([str(type), str(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, str(type), str(pub), str(Buffer.concat([seed, pub])), str(Buffer.from(comment))]);
  const pad: number[] = [];
  for (let i = 1; (secret.length + pad.length) % 8 !== 0; i++) pad.push(i);
  secret = Buffer.concat([secret, Buffer.from(pad)]);
  const none = Buffer.from('none');
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), str(none), str(none), str(Buffer.alloc(0)), u32(1), str(pubBlob), str(secret)]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${pubBlob.toString('base64')}${comment ? ` ${comment}` : ''}`,
  };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function str(b: Buffer): Buffer {
  return Buffer.concat([u32(b.length), b]);
}
