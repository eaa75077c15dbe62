// Reads every named gateway once, read-only, through natchain's transport (host keys verified as
// apply verifies them). The only effectful part of discovery.
import pLimit from 'p-limit';
import { NatchainError } from '../errors.js';
import { FactsParseError } from '../gateway/facts.js';
import { DEFAULT_HOP_PORTS } from '../topology/build.js';
import { NAME_RE } from '../topology/names.js';
import type { Gateway, Topology } from '../topology/types.js';
import { connect, type ConnectOptions } from '../transport/index.js';
import { DISCOVER_COMMAND, parseReport, type GatewayReport } from './report.js';

/** A gateway to read, reached as an ssh_config Host (or host name) of the same name. */
function stub(name: string): Gateway {
  const pos = { file: '(discover)', line: 0, col: 0 };
  return { name, backend: 'iptables', ssh: { host: name }, interfaces: [], hopPorts: DEFAULT_HOP_PORTS, pos };
}

/** Connects to each gateway, runs the one discovery command, parses it; any failure names its gateway. */
export async function readGateways(names: string[], opts: ConnectOptions, concurrency = 8): Promise<GatewayReport[]> {
  for (const n of names) {
    if (!NAME_RE.test(n)) throw new NatchainError('USAGE', `"${n}" is not a gateway name natchain can use: name gateways as ssh_config Host aliases (letters, digits, ".", "_", "-")`);
  }
  const gateways = names.map(stub);
  const topology: Topology = { file: '(discover)', sites: [], networks: [], gateways, forwards: [], labHosts: [] };
  const limit = pLimit(concurrency);
  const results = await Promise.allSettled(
    gateways.map((g) =>
      limit(async () => {
        const session = await connect(topology, g, opts);
        try {
          const r = await session.exec(DISCOVER_COMMAND);
          if (r.code !== 0) throw new NatchainError('REMOTE', `${g.name}: the discovery command exited ${r.code}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
          return parseReport(g.name, r.stdout);
        } catch (e) {
          if (e instanceof FactsParseError) throw new NatchainError('REMOTE', `${g.name}: ${e.message}`);
          throw e;
        } finally {
          await session.close().catch(() => undefined);
        }
      }),
    ),
  );
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${names[i]}: ${(r.reason as Error).message}`] : []));
  if (failed.length) throw new NatchainError('SSH', `could not read ${failed.length} of ${names.length} gateway(s); nothing was written`, failed);
  return results.map((r) => (r as PromiseFulfilledResult<GatewayReport>).value);
}
