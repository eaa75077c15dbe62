// Whose address the server sees: which hops of a chain SNAT (docs/topology.md, "snat").
import { quote } from '../escape.js';
import { contains } from '../topology/addr.js';
import type { Cidr, Gateway, Network, Site, SnatMode, Topology } from '../topology/types.js';
import { formatCidr } from '../topology/types.js';
import type { PathStep } from './graph.js';

/** What the SNAT decisions need to know about the topology, looked up once per solve. */
export class ReplyRoutes {
  private readonly networks: Map<string, Network>;
  private readonly sites: Site[];
  /** `site\0network` -> the gateway that network sends the site's replies to (absent: none, or ambiguous). */
  private readonly owners = new Map<string, string>();

  constructor(topology: Topology) {
    this.networks = new Map(topology.networks.map((n) => [n.name, n]));
    this.sites = topology.sites;
    const on = new Map<string, string[]>();
    for (const g of topology.gateways) {
      const sites = new Set(g.interfaces.filter((i) => i.attach.kind === 'site').map((i) => i.attach.name));
      const nets = new Set(g.interfaces.filter((i) => i.attach.kind === 'network').map((i) => i.attach.name));
      for (const s of sites) for (const n of nets) on.set(`${s}\0${n}`, [...(on.get(`${s}\0${n}`) ?? []), g.name]);
    }
    for (const s of topology.sites) {
      for (const n of topology.networks) {
        const gws = on.get(`${s.name}\0${n.name}`) ?? [];
        // The site's own default gateway when it is on the network, else the only one that is.
        const owner = s.gateway !== undefined && gws.includes(s.gateway) ? s.gateway : gws.length === 1 ? gws[0] : undefined;
        if (owner !== undefined) this.owners.set(`${s.name}\0${n.name}`, owner);
      }
    }
  }

  /** What a network's `routes` mean for its gateways: each routed prefix with the gateway it goes to. */
  routed(network: string): { prefix: Cidr; gateway: string }[] {
    const out: { prefix: Cidr; gateway: string }[] = [];
    for (const prefix of this.networks.get(network)?.routes ?? []) {
      const site = this.sites.find((s) => s.subnets.some((c) => c.prefix <= prefix.prefix && contains(c, prefix.address)));
      const gateway = site && this.owners.get(`${site.name}\0${network}`);
      if (gateway !== undefined) out.push({ prefix, gateway });
    }
    return out;
  }

  /** Whether the gateways on `network` send replies to every address of `prefix` back across it to `gateway`. */
  routesBack(network: string, prefix: Cidr, gateway: Gateway): boolean {
    const n = this.networks.get(network);
    if (!n || !n.routes.some((r) => r.prefix <= prefix.prefix && contains(r, prefix.address))) return false;
    const site = this.sites.find((s) => s.subnets.some((c) => c.prefix <= prefix.prefix && contains(c, prefix.address)));
    return site !== undefined && this.owners.get(`${site.name}\0${network}`) === gateway.name;
  }
}

/** Per hop of a chain (steps + 1), whether it SNATs; or why `never` cannot be honoured. */
export type SnatPlan = { snat: boolean[] } | { refused: string };

/**
 * Decides which hops SNAT. `clients`: the prefixes the client's address is in (undefined: any
 * address, e.g. the internet). `lastNeeds`: why the last hop must SNAT for replies to come back
 * (hairpin, the target's site routing through another gateway), if it must.
 *
 * auto: a hop leaving over a network SNATs unless that network routes replies to the packet's
 * source back to it (declared with `routes:`); the last hop SNATs only when `lastNeeds`.
 * always: every hop SNATs. never: none does, refused where auto would need one.
 */
export function planSnat(mode: SnatMode, clients: Cidr[] | undefined, steps: PathStep[], lastNeeds: string | undefined, replies: ReplyRoutes): SnatPlan {
  const snat: boolean[] = [];
  let sources = clients;
  for (const step of steps) {
    const network = step.out.attach.name;
    const back = sources !== undefined && sources.every((c) => replies.routesBack(network, c, step.from));
    if (mode === 'always' || (mode === 'auto' && !back)) {
      snat.push(true);
      sources = [{ address: step.out.address, prefix: 32 }];
    } else if (!back) {
      const who = sources === undefined ? 'any client address' : sources.map(formatCidr).join(', ');
      return {
        refused:
          `replies to ${who} would not come back from ${step.to.name} to ${step.from.name}: ` +
          (sources === undefined ? `natchain only knows how networks route site subnets` : `network ${quote(network)} does not route ${who} to ${step.from.name} (list it in networks.${network}.routes)`),
      };
    } else snat.push(false);
  }
  if (mode === 'always' || (mode === 'auto' && lastNeeds !== undefined)) snat.push(true);
  else if (lastNeeds !== undefined) return { refused: lastNeeds };
  else snat.push(false);
  return { snat };
}
