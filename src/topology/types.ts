import type { Pos } from '../errors.js';

/** Layer-4 protocol of a forwarded flow. */
export type Proto = 'tcp' | 'udp';

/** Which netfilter front end a gateway is driven with. */
export type Backend = 'iptables' | 'nftables';

/** An inclusive port range; a single port has `from === to`. */
export interface PortRange {
  from: number;
  to: number;
}

/** An IPv4 prefix such as 10.0.0.0/24 (address is the network address). */
export interface Cidr {
  address: string;
  prefix: number;
}

/** A site: a LAN (one or more subnets) behind one or more gateways. */
export interface Site {
  name: string;
  subnets: Cidr[];
  /** The gateway the site's hosts use as their default route (explicit, or the only one attached). */
  gateway?: string;
  /** Free text from the file, for people. */
  description?: string;
  pos: Pos;
}

/** A network between gateways: the internet, a VPN or a transit link. */
export interface Network {
  name: string;
  /** Public networks carry public addresses (the internet); clients on them can be a forward's `from`. */
  public: boolean;
  /** Optional address range every interface on the network must fall in. */
  subnet?: Cidr;
  /**
   * Site subnets the gateways on this network route across it, each to the site's gateway on the
   * network (`routes:` lists sites or prefixes; a prefix stands for the site subnets inside it).
   * Where a chain crosses the network from that gateway, replies to the site's addresses come back
   * without SNAT, so `snat: auto` keeps the client's address.
   */
  routes: Cidr[];
  /** Free text from the file, for people. */
  description?: string;
  pos: Pos;
}

/** Where an interface is plugged in. */
export type Attachment = { kind: 'site'; name: string } | { kind: 'network'; name: string };

/** One network interface of a gateway. */
export interface Interface {
  /** Kernel interface name, e.g. eth0. */
  name: string;
  gateway: string;
  address: string;
  prefix: number;
  attach: Attachment;
  pos: Pos;
}

/** How natchain reaches a gateway over SSH. */
export interface SshAccess {
  /** Host name or address handed to SSH (an ssh_config `Host` alias works). Default: the gateway's name. */
  host: string;
  /** Port; undefined means "whatever ssh_config says, else 22". */
  port?: number;
  /** Login user; undefined means "whatever ssh_config says, else root". */
  user?: string;
  /** Name of another gateway to jump through. */
  jump?: string;
}

/** A Linux gateway natchain manages. */
export interface Gateway {
  name: string;
  backend: Backend;
  ssh: SshAccess;
  interfaces: Interface[];
  /** Range that hop ports on this gateway are allocated from. */
  hopPorts: PortRange;
  /**
   * Packet-mark bit natchain's filter accepts also set, so the admin's own forward policy (another
   * nftables table, or iptables next to an nft drop) can accept exactly natchain's flows.
   */
  acceptMark?: number;
  /** Free text from the file, for people. */
  description?: string;
  pos: Pos;
}

/** Who may connect through a forward. */
export type Source =
  | { kind: 'site'; site: string }
  | { kind: 'subnet'; cidr: Cidr; site: string }
  | { kind: 'network'; network: string; allow?: Cidr[] };

/** Whose address the server sees: SNAT where replies need it (auto), at every hop (always), or nowhere (never). */
export type SnatMode = 'auto' | 'always' | 'never';

/** A forward: who connects (from) to what (to). */
export interface Forward {
  name: string;
  from: Source[];
  /** The target host and port(s). */
  to: { address: string; ports: PortRange };
  protos: Proto[];
  /** Public exposure where a network source enters; port undefined means "allocate one". */
  expose?: { address: string; ports?: PortRange };
  /** Let clients in the target's own site use the exposed address (NAT reflection). */
  hairpin: boolean;
  /** Pinned hop ports per gateway name (a null-prototype object: any name is just a key). */
  pins: Record<string, number>;
  /** Networks and gateways the chain must cross, in order (empty: any shortest path). */
  via: string[];
  /** Where `via` is written (errors about it point there). */
  viaPos?: Pos;
  snat: SnatMode;
  /** Where the forward's `snat` (or else `defaults.snat`) is written, when it is. */
  snatPos?: Pos;
  /** Free text from the file, for people. */
  description?: string;
  /** Position of the forward's key. */
  pos: Pos;
  /** Position of one of its fields (`['to']`, `['from', 1]`, `['ports', 'gw-a']`), for errors about that field; absent on hand-built models. */
  posOf?: (field: ReadonlyArray<string | number>) => Pos;
}

/** A host the lab builds in addition to the ones the forwards imply (e.g. a client at the seed's address). */
export interface LabHost {
  name: string;
  address: string;
  prefix: number;
  attach: Attachment;
  pos: Pos;
}

/** A validated topology: every reference resolves, every name is unique. */
export interface Topology {
  /** The file it was read from (for messages). */
  file: string;
  sites: Site[];
  networks: Network[];
  gateways: Gateway[];
  forwards: Forward[];
  /** Hosts declared for the lab only (`lab.hosts`). */
  labHosts: LabHost[];
}

/** Formats a port range as `80` or `8000-8010`. */
export function formatPorts(r: PortRange): string {
  return r.from === r.to ? String(r.from) : `${r.from}-${r.to}`;
}

/** Formats a CIDR as `10.0.0.0/24`. */
export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

/** Formats a source as the user wrote it (`site-b`, `10.0.1.0/25`, `internet`). */
export function formatSource(s: Source): string {
  switch (s.kind) {
    case 'site':
      return s.site;
    case 'subnet':
      return formatCidr(s.cidr);
    case 'network':
      return s.network;
  }
}

/** A source with its allow-list, as the user wrote it: `internet` or `internet [203.0.113.0/24, 198.51.100.7/32]`. */
export function describeSource(s: Source): string {
  return s.kind === 'network' && s.allow ? `${s.network} [${s.allow.map(formatCidr).join(', ')}]` : formatSource(s);
}
