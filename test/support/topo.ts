import { readFileSync } from 'node:fs';
import { TopologyError } from '../../src/errors.js';
import { compile } from '../../src/compile.js';
import { parseTopology, type Topology } from '../../src/topology/index.js';

/** Parses, validates and solves a topology from inline YAML (file name `t.yaml`), as `natchain validate` does. */
export function topo(yaml: string): Topology {
  return compile(yaml, 't.yaml').topology;
}

/** Three nftables gateways on one VPN; forward `old` crosses gw-c and gw-a, `new` gw-b and gw-a (scope tests). */
export const THREE_GATEWAYS_YAML = `version: 1
defaults: { backend: nftables }
sites:
  a: { subnets: [10.1.0.0/24] }
  b: { subnets: [10.2.0.0/24] }
  c: { subnets: [10.3.0.0/24] }
networks:
  vpn: { subnet: 10.255.0.0/24 }
gateways:
  gw-a: { interfaces: { wg0: { address: 10.255.0.1/24, network: vpn }, eth1: { address: 10.1.0.1/24, site: a } } }
  gw-b: { interfaces: { wg0: { address: 10.255.0.2/24, network: vpn }, eth1: { address: 10.2.0.1/24, site: b } } }
  gw-c: { interfaces: { wg0: { address: 10.255.0.3/24, network: vpn }, eth1: { address: 10.3.0.1/24, site: c } } }
forwards:
  old: { from: c, to: 10.1.0.9:22, proto: tcp }
  new: { from: b, to: 10.1.0.10:80, proto: tcp }
`;

/** Parses an example topology shipped in topologies/. */
export function example(name: string): Topology {
  const file = `topologies/${name}.yaml`;
  return parseTopology(readFileSync(file, 'utf8'), file);
}

/** The formatted diagnostics a failing call throws (fails the test when it does not throw). */
export function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof TopologyError) return e.details;
    throw e;
  }
  throw new Error('expected a TopologyError, but nothing was thrown');
}

/** A two-site topology skeleton (site-a behind gw-a, site-b behind gw-b, both on the internet) plus extra YAML for forwards. */
export function twoSites(forwards: string): string {
  return `sites:
  site-a: { subnets: [10.0.0.0/24] }
  site-b: { subnets: [10.0.1.0/24] }
networks:
  internet: { public: true }
gateways:
  gw-a:
    interfaces:
      eth0: { address: 198.51.100.1/24, network: internet }
      eth1: { address: 10.0.0.1/24, site: site-a }
  gw-b:
    interfaces:
      eth0: { address: 203.0.113.1/24, network: internet }
      eth1: { address: 10.0.1.1/24, site: site-b }
forwards:
${forwards}`;
}
