import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { NatchainError } from '../errors.js';
import { sbinPath } from './sys.js';

/** Programs the lab runs, and the Debian package each comes from. */
export const LAB_PROGRAMS: Record<string, string> = {
  ip: 'iproute2',
  ss: 'iproute2',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  setsid: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  sshd: 'openssh-server',
  ssh: 'openssh-client',
  socat: 'socat',
  iptables: 'iptables',
  'iptables-restore': 'iptables',
  nft: 'nftables',
  conntrack: 'conntrack',
  awk: 'mawk',
};

/** Finds a program on the (admin-extended) PATH; undefined when missing. */
export async function which(program: string): Promise<string | undefined> {
  for (const dir of sbinPath().split(':')) {
    const p = join(dir, program);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** How preflight looks at the machine (tests pass their own). */
export interface PreflightProbe {
  uid?: number;
  which?: (program: string) => Promise<string | undefined>;
}

/** Refuses clearly unless the lab can run here: root, and every program it needs, naming the packages to install. */
export async function preflight(opts: { needRoot?: boolean } & PreflightProbe = {}): Promise<void> {
  const uid = opts.uid ?? process.getuid?.();
  if (opts.needRoot !== false && uid !== 0) {
    throw new NatchainError('ENVIRONMENT', 'the lab needs root (it creates network namespaces)', ['run it as root, e.g. sudo natchain lab ...']);
  }
  const find = opts.which ?? which;
  const missing = (await Promise.all(Object.keys(LAB_PROGRAMS).map(async (p) => ((await find(p)) ? undefined : p)))).filter((p): p is string => !!p);
  if (missing.length) {
    const pkgs = [...new Set(missing.map((p) => LAB_PROGRAMS[p]!))].sort();
    throw new NatchainError('ENVIRONMENT', `the lab needs programs that are missing: ${missing.join(', ')} (Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(', ')})`, [
      `install them: apt-get install ${pkgs.join(' ')}   (or: bash scripts/install-deps.sh)`,
    ]);
  }
}
