// What one gateway tells `init --discover`: the facts preflight reads (src/gateway/facts.ts:
// interfaces, addresses, tools, ip_forward) plus its IPv4 routes, in one read-only exec.
import { FACTS_SHELL, FactsParseError, parseFacts, type GatewayFacts } from '../gateway/facts.js';

/** One IPv4 route as `ip -j route` prints it (the fields discovery uses). */
export interface LiveRoute {
  /** `default` or a prefix (`10.0.0.0/24`; a host route may be a bare address). */
  dst: string;
  dev?: string;
  /** Next hop, when the route goes through another router. */
  gateway?: string;
}

/** A gateway's report: its facts and routes. */
export interface GatewayReport extends GatewayFacts {
  /** The gateway's name in the proposal (what was asked for on the command line). */
  name: string;
  routes: LiveRoute[];
}

/** The one command discovery runs on a gateway: read-only, nothing in it comes from user input. */
export const DISCOVER_COMMAND = `${FACTS_SHELL}
facts
printf 'route='; ip -j route show 2>/dev/null | tr -d '\\n'; printf '\\n'
`;

/** Parses `ip -j route show`. */
export function parseIpRouteJson(json: string): LiveRoute[] {
  if (json.trim() === '') return [];
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw new FactsParseError(`cannot read \`ip -j route\`: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new FactsParseError('`ip -j route` did not print a list');
  const out: LiveRoute[] = [];
  for (const raw of data) {
    const r = raw as { dst?: unknown; dev?: unknown; gateway?: unknown };
    if (typeof r?.dst !== 'string') continue;
    out.push({ dst: r.dst, ...(typeof r.dev === 'string' ? { dev: r.dev } : {}), ...(typeof r.gateway === 'string' ? { gateway: r.gateway } : {}) });
  }
  return out;
}

/** Parses what DISCOVER_COMMAND printed on gateway `name`. */
export function parseReport(name: string, stdout: string): GatewayReport {
  const facts = parseFacts(stdout);
  const line = stdout.split('\n').find((l) => l.startsWith('route='));
  return { name, ...facts, routes: parseIpRouteJson(line?.slice('route='.length) ?? '') };
}
