import type { Backend, Proto } from '../topology/types.js';

/** One route in a lab namespace (`ip route add <to> [via <via>] dev <dev> [onlink]`). */
export interface PlannedRoute {
  /** `default` or a prefix such as 10.0.0.0/24. */
  to: string;
  via?: string;
  dev: string;
  /** The gateway is on the link even though no prefix of the interface covers it. */
  onlink?: boolean;
  metric?: number;
}

/** One interface of a lab node: a veth whose other end is a port of its segment's bridge. */
export interface PlannedInterface {
  /** Final name inside the node's namespace (the topology's name for gateways, eth0 for hosts). */
  name: string;
  /** Unique temporary name it is created with (in the node's namespace), then renamed to `name`; starts with "_", which no topology interface name does. */
  tmpName: string;
  /** The veth end in the switch namespace, enslaved to the segment's bridge. */
  swName: string;
  address: string;
  prefix: number;
  /** Segment (bridge) it is plugged into. */
  segment: string;
}

/** A layer-2 segment: one bridge in the lab's switch namespace per site and per network. */
export interface PlannedSegment {
  /** `site:<name>` or `network:<name>`. */
  id: string;
  kind: 'site' | 'network';
  /** The site's or network's name in the topology. */
  of: string;
  /** Bridge name in the switch namespace. */
  bridge: string;
  public: boolean;
}

/** An echo service on a target host: one listener per port and protocol. */
export interface PlannedService {
  proto: Proto;
  port: number;
  /** Forwards this service answers for ('' for the lab's own control port). */
  forwards: string[];
}

interface PlannedNodeBase {
  /** Name in the lab (`lab exec <lab> <name>`); unique among gateways and hosts. */
  name: string;
  /** Network namespace name, `nc-<lab>.<name>`. */
  netns: string;
  interfaces: PlannedInterface[];
  routes: PlannedRoute[];
}

export interface PlannedGateway extends PlannedNodeBase {
  kind: 'gateway';
  backend: Backend;
  /** The topology's ssh host for it, when not its name: another name of its ssh_config entry. */
  sshAliases: string[];
  /** The gateway's /etc/hosts: its own name, and every other gateway it shares a segment with. */
  etcHosts: Array<{ address: string; names: string[] }>;
}

/** Why a host is in the lab. */
export type HostRole = 'target' | 'client' | 'internet' | 'declared';

export interface PlannedHost extends PlannedNodeBase {
  kind: 'host';
  role: HostRole;
  /** The host's one address (on eth0). */
  address: string;
  prefix: number;
  /** Where it is plugged in. */
  site?: string;
  network?: string;
  /** The gateway its default route points to (site hosts). */
  gateway?: string;
  /** For targets: the forwards it is the target of. For clients: the sources it stands for. */
  forwards: string[];
  /** Echo services (targets only, plus the control port). */
  services: PlannedService[];
}

export type PlannedNode = PlannedGateway | PlannedHost;

/** Everything `lab up` will build for a topology; computed without touching the system. */
export interface LabPlan {
  lab: string;
  /** The topology file the plan was made from (for messages and `lab status`). */
  topologyFile: string;
  /** Namespace holding the bridges (`nc-<lab>._switch`). */
  switchNs: string;
  segments: PlannedSegment[];
  gateways: PlannedGateway[];
  hosts: PlannedHost[];
  /** Things the lab could not build as asked, for the user (never fatal). */
  warnings: string[];
}

/** Lab-side view of a gateway once the lab is up. */
export interface LabGateway {
  name: string;
  netns: string;
  backend: Backend;
  /** Persistent mount namespace file (private /var/lib/natchain, /run/natchain, /etc/hosts, /sys). */
  mountNs: string;
  /** Persistent UTS namespace file (the gateway's host name). */
  utsNs: string;
  /** Unix socket served by `sshd -i` inside the gateway's namespaces. */
  sshSocket: string;
  /** The gateway's host public key line (`ssh-ed25519 AAAA... comment`). */
  hostKey: string;
  /** Private state directories, as seen from the host: /var/lib/natchain and /run/natchain of the gateway. */
  varLib: string;
  run: string;
  interfaces: Array<{ name: string; address: string; prefix: number; segment: string }>;
}

/** Lab-side view of a host once the lab is up. */
export interface LabHostInfo {
  name: string;
  netns: string;
  role: HostRole;
  address: string;
  prefix: number;
  site?: string;
  network?: string;
  gateway?: string;
  forwards: string[];
  services: PlannedService[];
}

/** A lab that is up: what `labUp` returns and `openLab` reads back from `<dir>/lab.json`. */
export interface Lab {
  name: string;
  /** `<base>/<name>`: keys, sockets, ssh_config, logs, namespace files. */
  dir: string;
  topologyFile: string;
  /** `ssh -F <sshConfig> <gateway>` reaches a gateway's sshd. */
  sshConfig: string;
  knownHosts: string;
  /** Private key of the lab's client (authorized on every gateway, as root). */
  identityFile: string;
  switchNs: string;
  /** Every namespace the lab made, switch included. */
  namespaces: string[];
  gateways: LabGateway[];
  hosts: LabHostInfo[];
  /** TCP port every target host also answers on, never forwarded: for direct-routing checks. */
  controlPort: number;
  createdAt: string;
  /** Seconds `lab up` took. */
  upSeconds: number;
}

/** What `lab status` reports for one lab. */
export interface LabStatus {
  name: string;
  /** up: lab.json and every namespace exist; partial: some are missing; orphaned: namespaces without a lab directory. */
  state: 'up' | 'partial' | 'orphaned';
  dir?: string;
  topologyFile?: string;
  sshConfig?: string;
  namespaces: Array<{ name: string; exists: boolean; processes: Array<{ pid: number; command: string }> }>;
}

/** What `lab down` removed. */
export interface LabDownReport {
  lab: string;
  namespaces: string[];
  killed: number;
  unmounted: number;
  removedDir: boolean;
}
