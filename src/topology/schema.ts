import * as z from 'zod/mini';
// Names reach shell commands, rule comments and file names on gateways: keep them boring.
import { IFNAME_RE, isSafeHost, NAME_RE, USER_RE } from './names.js';

const name = z.string().check(z.regex(NAME_RE, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit'));
const ifname = z.string().check(z.regex(IFNAME_RE, 'must be a Linux interface name: 1-15 letters, digits, ".", "_" or "-", starting with a letter'));
const ports = z.union([z.int(), z.string()]);
// A 32-bit packet-mark mask, as a number or a hex string like "0x100000".
const mark = z.union([z.int(), z.string().check(z.regex(/^0x[0-9a-fA-F]{1,8}$/, 'must be a number or a hex mask like 0x100000'))]);
const description = z.optional(z.string().check(z.maxLength(500)));

export const RawSite = z.strictObject({
  subnets: z.union([z.string(), z.array(z.string()).check(z.minLength(1))]),
  gateway: z.optional(name),
  description,
});

export const RawNetwork = z.strictObject({
  public: z.optional(z.boolean()),
  subnet: z.optional(z.string()),
  /** Site names or prefixes the gateways on this network route across it (replies can come back without SNAT). */
  routes: z.optional(z.array(z.string())),
  description,
});

export const RawInterface = z.strictObject({
  address: z.string(),
  site: z.optional(name),
  network: z.optional(name),
});

const backend = z.enum(['iptables', 'nftables']);

export const RawGateway = z.strictObject({
  backend: z.optional(backend),
  ssh: z.optional(
    z.strictObject({
      host: z.optional(z.string().check(z.refine(isSafeHost, 'must be a host name or an IP address (letters, digits, "_", "." and "-", not starting with "-")'))),
      port: z.optional(z.int().check(z.gte(1), z.lte(65535))),
      user: z.optional(z.string().check(z.regex(USER_RE, 'must be a Unix user name'))),
      jump: z.optional(name),
    }),
  ),
  hopPorts: z.optional(ports),
  acceptMark: z.optional(mark),
  interfaces: z.record(ifname, RawInterface),
  description,
});

const snat = z.enum(['auto', 'always', 'never']);

// A `from` entry: a site, subnet or network name, or `{ <network>: [allowed client prefixes] }`.
const source = z.union([z.string(), z.record(z.string(), z.array(z.string()).check(z.minLength(1)))]);

export const RawForward = z.strictObject({
  from: z.union([z.string(), z.array(source).check(z.minLength(1))]),
  to: z.string(),
  proto: z.optional(z.enum(['tcp', 'udp', 'both'])),
  expose: z.optional(z.string()),
  hairpin: z.optional(z.boolean()),
  ports: z.optional(z.record(name, z.int())),
  /** Networks and/or gateways the chain must cross, in this order. */
  via: z.optional(z.array(name).check(z.minLength(1))),
  snat: z.optional(snat),
  description,
});

export const RawLabHost = z.strictObject({
  address: z.string(),
  site: z.optional(name),
  network: z.optional(name),
});

/** The shape of a topology file, before any cross-reference is checked. */
export const RawTopology = z.strictObject({
  version: z.optional(z.literal(1)),
  defaults: z.optional(
    z.strictObject({
      backend: z.optional(backend),
      hopPorts: z.optional(ports),
      acceptMark: z.optional(mark),
      snat: z.optional(snat),
    }),
  ),
  sites: z.record(name, RawSite),
  networks: z.optional(z.record(name, RawNetwork)),
  gateways: z.record(name, RawGateway),
  forwards: z.nullish(z.record(name, RawForward)),
  /** Extra hosts for `natchain lab` (clients at chosen addresses); ignored by everything else. */
  lab: z.optional(z.strictObject({ hosts: z.optional(z.record(name, RawLabHost)) })),
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
