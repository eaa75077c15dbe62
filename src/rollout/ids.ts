import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';

/** A transaction id: UTC time plus randomness, sortable, safe in a shell word and a file name. */
export const TX_PATTERN = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$/;

/** Makes a new transaction id such as `20260101T120000Z-a1b2c3`. */
export function newTxId(now: Date = new Date()): string {
  const iso = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${iso}-${randomBytes(3).toString('hex')}`;
}

/** True when `s` is a well-formed transaction id (the only shape that reaches a remote shell). */
export function isTxId(s: string): boolean {
  return TX_PATTERN.test(s);
}

/** A fresh random marker for framing one remote script's output (unforgeable by rule text). */
export function newNonce(): string {
  return randomBytes(8).toString('hex');
}

/** Who runs this transaction: `user@host pid N`, reduced to characters safe in a lock file. */
export function ownerIdentity(): { user: string; host: string; pid: number; text: string } {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? 'unknown';
  }
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'unknown';
  const u = clean(user);
  const h = clean(hostname());
  return { user: u, host: h, pid: process.pid, text: `${u}@${h}:${process.pid}` };
}

/** The shape of an owner identity after cleaning (checked again before it reaches a shell). */
export const OWNER_PATTERN = /^[A-Za-z0-9._-]{1,64}@[A-Za-z0-9._-]{1,64}:[0-9]{1,10}$/;
