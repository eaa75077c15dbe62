// A saved plan (`plan --out`, `apply --plan`): the desired rulesets (as intents per gateway, so
// `apply` renders exactly what was reviewed) and a hash of each gateway's live natchain state at
// plan time, so a plan made stale by a change since is refused. Pure: values in, values/text out.
import { createHash } from 'node:crypto';
import { NatchainError } from '../errors.js';
import type { Chain, Intent, PortLock } from '../solve/types.js';
import type { Backend } from '../topology/types.js';

/** One gateway in a saved plan. */
export interface SavedGateway {
  gateway: string;
  backend: Backend;
  intents: Intent[];
  /** Canonical owned state the plan leads to. */
  desired: string;
  /** The canonical owned state read at plan time (natchain's own rules only); null when the gateway could not be read. */
  live: string | null;
  /** sha256 of `live` (what apply compares the gateway's state with). */
  liveHash: string | null;
  /** Whether the plan changes this gateway. */
  changed: boolean;
}

/** The file `plan --out` writes. */
export interface SavedPlan {
  format: 'natchain-plan';
  version: 1;
  created: string;
  topology: {
    /** Absolute path when the plan was made (for people; the text below is what is applied). */
    path: string;
    sha256: string;
    text: string;
  };
  /** The port lock the plan was solved with and the one a commit writes. */
  lockFile: string;
  lock: PortLock;
  lockChanged: boolean;
  /** The chains of the plan's forwards (the scope of the change is worked out from them). */
  chains: Chain[];
  gateways: SavedGateway[];
}

/** sha256 (hex) of a text. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Serializes a saved plan (stable, readable JSON). */
export function serializePlan(p: SavedPlan): string {
  return JSON.stringify(p, null, 2) + '\n';
}

/** Parses and checks a saved plan file. */
export function parseSavedPlan(text: string, file: string): SavedPlan {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new NatchainError('USAGE', `${file} is not a natchain plan (not JSON: ${(e as Error).message})`);
  }
  const p = v as Partial<SavedPlan> | null;
  if (!p || typeof p !== 'object' || p.format !== 'natchain-plan') throw new NatchainError('USAGE', `${file} is not a natchain plan (made by natchain plan --out)`);
  if (p.version !== 1) throw new NatchainError('USAGE', `${file}: plan format version ${String(p.version)} is not supported (this natchain reads version 1)`);
  const t = p.topology;
  if (!t || typeof t.text !== 'string' || typeof t.path !== 'string' || t.sha256 !== sha256(t.text)) {
    throw new NatchainError('USAGE', `${file}: the topology inside the plan is missing or does not match its hash (edited by hand?)`);
  }
  if (!Array.isArray(p.chains) || !Array.isArray(p.gateways) || p.gateways.some((g) => !g || typeof g.gateway !== 'string' || !Array.isArray(g.intents) || typeof g.desired !== 'string')) {
    throw new NatchainError('USAGE', `${file}: the plan's gateways are malformed`);
  }
  const edited = p.gateways.find((g) => g.liveHash !== (g.live === null ? null : sha256(g.live)));
  if (edited) throw new NatchainError('USAGE', `${file}: the state recorded for ${edited.gateway} does not match its hash (edited by hand?)`);
  if (!p.lock || typeof p.lockFile !== 'string') throw new NatchainError('USAGE', `${file}: the plan has no port lock`);
  return p as SavedPlan;
}

/** A gateway whose live state no longer matches the saved plan. */
export interface StalePlanGateway {
  gateway: string;
  reason: string;
}

/** Compares the canonical states read now with those of the plan (by hash); unreachable gateways are left to the scope. */
export function staleGateways(saved: Map<string, string | null>, live: Map<string, string | Error>): StalePlanGateway[] {
  const out: StalePlanGateway[] = [];
  for (const [gateway, then] of saved) {
    const now = live.get(gateway);
    if (now === undefined || now instanceof Error) continue;
    if (then === null) out.push({ gateway, reason: 'could not be read when the plan was made, so the plan does not know its state' });
    else if (sha256(now) !== sha256(then)) out.push({ gateway, reason: "natchain's state changed since the plan was made" });
  }
  return out;
}
