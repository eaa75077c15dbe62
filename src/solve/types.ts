import type { Diagnostic } from '../errors.js';
import type { Cidr, PortRange, Proto, Source } from '../topology/types.js';

/**
 * One gateway a forward's packets cross, as the packet looks on arrival and on departure.
 * A hop always DNATs (that is how the packet is steered to the next hop or the target).
 */
export interface Hop {
  gateway: string;
  /** Interface the packet arrives on. */
  inIface: string;
  /** Source the packet must come from, when the hop is restricted (a subnet source, the previous hop's address, a hairpin LAN). */
  src?: Cidr;
  /** Destination address and port(s) the packet arrives with (what this hop matches). */
  dst: { address: string; ports: PortRange };
  /** Interface the packet leaves by. */
  outIface: string;
  /** The network it crosses to the next gateway (absent on the last hop, which delivers into the target's site). */
  network?: string;
  /** Destination it leaves with (the next hop's entry, or the target). */
  dnat: { address: string; ports: PortRange };
  /** Source address it leaves with, when this hop must see the replies (see `snat` in docs/topology.md). */
  snat?: { address: string };
}

/** The ordered hops one source of a forward crosses, from the client's side to the target's. */
export interface Chain {
  forward: string;
  source: Source;
  protos: Proto[];
  /** What the client dials. */
  dial: { address: string; ports: PortRange };
  target: { address: string; ports: PortRange };
  hops: Hop[];
}

/** What one gateway must do for one forward and one protocol: one DNAT (+ optional SNAT) and the filter accept. */
export interface Intent {
  forward: string;
  gateway: string;
  proto: Proto;
  inIface: string;
  src?: Cidr;
  dst: { address: string; ports: PortRange };
  outIface: string;
  dnat: { address: string; ports: PortRange };
  snat?: { address: string };
  /** The sources (formatted) whose chains need this intent; for messages only. */
  sources: string[];
}

/** Why a port is what it is. */
export type AllocationOrigin = 'expose' | 'pin' | 'lock' | 'new' | 'target';

/** A port natchain uses on one of a gateway's addresses for one forward. */
export interface Allocation {
  forward: string;
  gateway: string;
  address: string;
  ports: PortRange;
  protos: Proto[];
  origin: AllocationOrigin;
}

/** The port lock: hop ports natchain picked, kept stable across runs. Key: `gateway/address`. */
export interface PortLock {
  version: 1;
  ports: Record<string, Record<string, number>>;
}

/** Everything solved from one topology. */
export interface Solution {
  chains: Chain[];
  /** Intents per gateway name (every gateway of the topology has an entry, possibly empty), in a stable order. */
  intents: Record<string, Intent[]>;
  allocations: Allocation[];
  /** The lock after this solve (equal to the input when nothing was allocated or freed). */
  lock: PortLock;
  /** What is allowed but probably not meant (a site-to-site chain across a public network); `--strict` makes them errors. */
  warnings: Diagnostic[];
}
