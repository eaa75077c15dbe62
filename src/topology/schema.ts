import { z } from 'zod';
// Names reach shell commands, rule comments and file names on gateways: keep them boring.
import { IFNAME_RE, isSafeHost, NAME_RE, USER_RE } from './names.js';

const name = z.string().regex(NAME_RE, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
const ifname = z
  .string()
  .regex(IFNAME_RE, 'must be a Linux interface name: 1-15 letters, digits, ".", "_" or "-", starting with a letter');
const ports = z.union([z.number().int(), z.string()]);
// A 32-bit packet-mark mask, as a number or a hex string like "0x100000".
const mark = z.union([z.number().int(), z.string().regex(/^0x[0-9a-fA-F]{1,8}$/, 'must be a number or a hex mask like 0x100000')]);
const description = z.string().max(500).optional();

export const RawSite = z.strictObject({
  subnets: z.union([z.string(), z.array(z.string()).min(1)]),
  gateway: name.optional(),
  description,
});

export const RawNetwork = z.strictObject({
  public: z.boolean().optional(),
  subnet: z.string().optional(),
  /** Site names or prefixes the gateways on this network route across it (replies can come back without SNAT). */
  routes: z.array(z.string()).optional(),
  description,
});

export const RawInterface = z.strictObject({
  address: z.string(),
  site: name.optional(),
  network: name.optional(),
});

export const RawGateway = z.strictObject({
  backend: z.enum(['iptables', 'nftables']).optional(),
  ssh: z
    .strictObject({
      host: z.string().refine(isSafeHost, 'must be a host name or an IP address (letters, digits, "_", "." and "-", not starting with "-")').optional(),
      port: z.number().int().min(1).max(65535).optional(),
      user: z.string().regex(USER_RE, 'must be a Unix user name').optional(),
      jump: name.optional(),
    })
    .optional(),
  hopPorts: ports.optional(),
  acceptMark: mark.optional(),
  interfaces: z.record(ifname, RawInterface),
  description,
});

const snat = z.enum(['auto', 'always', 'never']);

// A `from` entry: a site, subnet or network name, or `{ <network>: [allowed client prefixes] }`.
const source = z.union([z.string(), z.record(z.string(), z.array(z.string()).min(1))]);

export const RawForward = z.strictObject({
  from: z.union([z.string(), z.array(source).min(1)]),
  to: z.string(),
  proto: z.enum(['tcp', 'udp', 'both']).optional(),
  expose: z.string().optional(),
  hairpin: z.boolean().optional(),
  ports: z.record(name, z.number().int()).optional(),
  /** Networks and/or gateways the chain must cross, in this order. */
  via: z.array(name).min(1).optional(),
  snat: snat.optional(),
  description,
});

export const RawLabHost = z.strictObject({
  address: z.string(),
  site: name.optional(),
  network: name.optional(),
});

/** The shape of a topology file, before any cross-reference is checked. */
export const RawTopology = z.strictObject({
  version: z.literal(1).optional(),
  defaults: z
    .strictObject({
      backend: z.enum(['iptables', 'nftables']).optional(),
      hopPorts: ports.optional(),
      acceptMark: mark.optional(),
      snat: snat.optional(),
    })
    .optional(),
  sites: z.record(name, RawSite),
  networks: z.record(name, RawNetwork).optional(),
  gateways: z.record(name, RawGateway),
  forwards: z.record(name, RawForward).nullish(),
  /** Extra hosts for `natchain lab` (clients at chosen addresses); ignored by everything else. */
  lab: z.strictObject({ hosts: z.record(name, RawLabHost).optional() }).optional(),
});

export type RawTopology = z.infer<typeof RawTopology>;

/** JSON Schema of the topology format, for editors (yaml-language-server) and other tools. */
export function topologyJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'natchain topology',
    ...(z.toJSONSchema(RawTopology, { target: 'draft-2020-12' }) as Record<string, unknown>),
  };
}
