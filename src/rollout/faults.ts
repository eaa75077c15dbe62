// Test-only fault injection (docs/rollout.md): NATCHAIN_TEST_FAULT, a comma-separated list of
//   check:<gateway>       that gateway's staged ruleset gets a line its kernel refuses (check fails)
//   apply:<gateway>       that gateway's load gets a line its kernel refuses (apply fails, self-restores)
//   disconnect:<gateway>  after applying, that gateway's script kills its own sshd: the management connection dies
//                         (natchain reconnects to roll it back)
//   pause:<phase>:<ms>    natchain prints "natchain-test: paused before <phase>" on stderr and waits (phase: prepare, apply, verify, commit)
// Never active unless the variable is set, AND NATCHAIN_TEST_FAULTS_ENABLE=1 is set too: `disconnect` kills
// sshd on the gateway, so a stray NATCHAIN_TEST_FAULT (or --test-fault) alone is refused, never obeyed.
import { UsageError } from '../errors.js';

/** The second, explicit opt-in every fault spec needs. */
export const FAULTS_ENABLE_VAR = 'NATCHAIN_TEST_FAULTS_ENABLE';

/** Parsed fault list. */
export interface Faults {
  /** The remote fault word for one gateway and phase ("-" for none). */
  remote(kind: 'check' | 'apply' | 'disconnect', gateway: string): boolean;
  /** Milliseconds to pause before a phase (0: none). */
  pause(phase: string): number;
  active: boolean;
}

/** Reads NATCHAIN_TEST_FAULT (or the given text); a non-empty spec is refused unless `enabled` (NATCHAIN_TEST_FAULTS_ENABLE=1). */
export function readFaults(
  text: string | undefined = process.env.NATCHAIN_TEST_FAULT,
  enabled: boolean = process.env[FAULTS_ENABLE_VAR] === '1',
): Faults {
  const items = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.split(':'));
  if (items.length > 0 && !enabled) {
    throw new UsageError(`refusing test fault injection "${text}" (NATCHAIN_TEST_FAULT or --test-fault) without ${FAULTS_ENABLE_VAR}=1: it is for natchain's own tests`, [
      'faults break gateways on purpose (disconnect kills the gateway\'s sshd)',
      `to use them anyway, also set ${FAULTS_ENABLE_VAR}=1; otherwise unset NATCHAIN_TEST_FAULT`,
    ]);
  }
  return {
    active: items.length > 0,
    remote: (kind, gateway) => items.some(([k, g]) => k === kind && (g === gateway || g === '*')),
    pause: (phase) => {
      const hit = items.find(([k, p]) => k === 'pause' && p === phase);
      return hit ? Number(hit[2] ?? 0) || 0 : 0;
    },
  };
}
