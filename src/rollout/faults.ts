// Test-only fault injection (docs/rollout.md): NATCHAIN_TEST_FAULT, a comma-separated list of
//   check:<gateway>       that gateway's staged ruleset gets a line its kernel refuses (check fails)
//   apply:<gateway>       that gateway's load gets a line its kernel refuses (apply fails, self-restores)
//   disconnect:<gateway>  after applying, that gateway's script kills its own sshd: the management connection dies
//                         (natchain reconnects to roll it back)
//   isolate:<gateway>     as disconnect, and every new connection natchain tries to it fails: its timer must revert it
//   pause:<phase>:<ms>    natchain prints "natchain-test: paused before <phase>" on stderr and waits (phase: stage, apply, verify, commit)
// Never active unless the variable is set.

/** Parsed fault list. */
export interface Faults {
  /** The remote fault word for one gateway and phase ("-" for none). */
  remote(kind: 'check' | 'apply' | 'disconnect' | 'isolate', gateway: string): boolean;
  /** Milliseconds to pause before a phase (0: none). */
  pause(phase: string): number;
  active: boolean;
}

/** Reads NATCHAIN_TEST_FAULT (or the given text). */
export function readFaults(text: string | undefined = process.env.NATCHAIN_TEST_FAULT): Faults {
  const items = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.split(':'));
  return {
    active: items.length > 0,
    remote: (kind, gateway) => items.some(([k, g]) => k === kind && (g === gateway || g === '*')),
    pause: (phase) => {
      const hit = items.find(([k, p]) => k === 'pause' && p === phase);
      return hit ? Number(hit[2] ?? 0) || 0 : 0;
    },
  };
}
