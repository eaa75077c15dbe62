import type { Diagnostic } from '../errors.js';
import type { Allocation, Chain, PortLock, Solution } from '../solve/types.js';
import type { Backend, PortRange, Topology } from '../topology/types.js';

/** One gateway's ruleset as plain text, for one backend: rendered from a topology, or read from a live gateway. */
export interface RulesetText {
  gateway: string;
  backend: Backend;
  text: string;
}

/** A forward the solver could not build a chain for, with the solver's reasons. */
export interface Unsolved {
  forward: string;
  diagnostics: Diagnostic[];
}

/** One side of a comparison: a topology, its lock, what it solves to and what it renders to. */
export interface State {
  /** Where it came from, for people: a file name or `REV:path`. */
  label: string;
  topology: Topology;
  lock: PortLock;
  /** Where the lock came from (`x.lock`, `REV:x.lock`), or null when there was none. */
  lockLabel: string | null;
  /** The solution of every forward that solves (the others are in `unsolved`). */
  solution: Solution;
  unsolved: Unsolved[];
  /** One ruleset per gateway, in the gateway's own backend. */
  rulesets: RulesetText[];
}

/** What kind of topology entity a model change is about. */
export type EntityKind = 'site' | 'subnet' | 'network' | 'gateway' | 'interface' | 'forward' | 'lab-host';

/** How an entity, chain or ruleset differs between the two states. */
export type ChangeKind = 'added' | 'removed' | 'changed';

/** One field of an entity, formatted as the topology file would say it; `null` when absent. */
export interface FieldChange {
  field: string;
  old: string | null;
  new: string | null;
}

/** A site, subnet, network, gateway, interface, forward or lab host that was added, removed or changed. */
export interface ModelChange {
  kind: EntityKind;
  /** Its name; `gateway/iface` for interfaces, the CIDR for subnets. */
  name: string;
  change: ChangeKind;
  /** `file:line:col` of the entity in the new state (the old one when removed). */
  at: string;
  /** Changed fields (every field, from or to `null`, when added or removed). */
  fields: FieldChange[];
}

/** A chain (one source of one forward) that is new, gone or different. */
export interface ChainChange {
  forward: string;
  /** The source as the topology says it (`site-b`, `internet`, `10.0.1.0/25`). */
  source: string;
  change: ChangeKind;
  /** Whether the forward itself was edited; false means the chain moved because something else changed. */
  forwardChanged: boolean;
  old: Chain | null;
  new: Chain | null;
}

/** What a reviewer must not miss. */
export type FlagKind = 'hop-port-moved' | 'dial-changed' | 'unreachable' | 'backend-changed' | 'public-network';

/** A warning about a change with consequences beyond the diff itself. */
export interface Flag {
  kind: FlagKind;
  /** One sentence for a person. */
  message: string;
  forward?: string;
  gateway?: string;
  /** For hop-port-moved: the allocations before and after. */
  old?: { address: string; ports: PortRange; origin: Allocation['origin'] };
  new?: { address: string; ports: PortRange; origin: Allocation['origin'] };
}

/** The rules one gateway would gain and lose on one backend. */
export interface GatewayImpact {
  gateway: string;
  backend: Backend;
  change: ChangeKind | 'untouched';
  rulesAdded: number;
  rulesRemoved: number;
  /** Unified diff (`---`/`+++` headers and hunks) of the old and new ruleset text; empty when untouched. */
  diff: string;
}

/** The one-line summary, as numbers and as text. */
export interface DiffSummary {
  forwardsChanged: number;
  gatewaysTouched: number;
  rulesAdded: number;
  rulesRemoved: number;
  flags: number;
  text: string;
}

/** Everything that differs between two states. */
export interface Diff {
  old: { label: string; lock: string | null };
  new: { label: string; lock: string | null };
  /** True when nothing at all differs (no model, chain or ruleset change). */
  identical: boolean;
  summary: DiffSummary;
  flags: Flag[];
  model: ModelChange[];
  chains: ChainChange[];
  /** Forwards that do not solve on either side (a new entry here is also an `unreachable` flag). */
  unsolved: { old: Unsolved[]; new: Unsolved[] };
  /** Per gateway and backend, untouched ones included. */
  gateways: GatewayImpact[];
  /** Hop ports the new side picked that its lock does not record yet (they may still move until locked). */
  unlocked: { forward: string; gateway: string; address: string; ports: PortRange }[];
}
