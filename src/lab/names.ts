import { basename, extname, join } from 'node:path';
import { NatchainError } from '../errors.js';
import { quote } from '../escape.js';

/** Every namespace natchain's lab makes starts with this, so `lab status`/`lab down` find them all, also after a crash. */
export const NS_PREFIX = 'nc-';

/**
 * Lab names: short, lower case, no dots and no double hyphen, so that `nc-<lab>.<node>` splits
 * unambiguously at the first dot and one lab's prefix never matches another lab's namespaces.
 */
export const LAB_NAME_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const LAB_NAME_MAX = 20;

/** Name of the switch node (holds the bridges); topology names start with a letter or digit, so it cannot collide. */
export const SWITCH_NODE = '_switch';

/** Throws a USAGE error unless `name` is a valid lab name. */
export function checkLabName(name: string): string {
  if (!LAB_NAME_RE.test(name) || name.length > LAB_NAME_MAX) {
    throw new NatchainError('USAGE', `invalid lab name ${quote(name)}`, [
      `a lab name is 1-${LAB_NAME_MAX} lower-case letters and digits, in words joined by single "-" (e.g. seed-vpn)`,
    ]);
  }
  return name;
}

/** The default lab name for a topology file: its base name, made a valid lab name (`topologies/seed-vpn.yaml` -> `seed-vpn`). */
export function defaultLabName(file: string): string {
  const stem = basename(file, extname(file))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, LAB_NAME_MAX)
    .replace(/^-+|-+$/g, '');
  return stem || 'lab';
}

/** Network namespace of a node of a lab. */
export function netnsName(lab: string, node: string): string {
  return `${NS_PREFIX}${lab}.${node}`;
}

/** The lab a namespace belongs to, or undefined when it is not a lab namespace. */
export function labOfNetns(ns: string): string | undefined {
  if (!ns.startsWith(NS_PREFIX)) return undefined;
  const dot = ns.indexOf('.', NS_PREFIX.length);
  if (dot < 0) return undefined;
  const lab = ns.slice(NS_PREFIX.length, dot);
  return LAB_NAME_RE.test(lab) ? lab : undefined;
}

/** Directory holding every lab: `$NATCHAIN_LAB_DIR`, default `/run/natchain-lab` (gone after a reboot, like the namespaces). */
export function labBaseDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.NATCHAIN_LAB_DIR || '/run/natchain-lab';
}

export function labDirOf(lab: string, base = labBaseDir()): string {
  return join(base, lab);
}
