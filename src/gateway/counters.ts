// Per-forward traffic counters: the packets and bytes each forward's DNAT rules matched on a
// gateway (a DNAT rule sees the first packet of each connection, so packets = connections begun
// there). iptables counts every rule (`iptables-save -c`); natchain's nft DNAT rules carry `counter`.
import { forwardFromComment, tokenizeIptablesRule } from '../render/index.js';
import type { Backend } from '../topology/types.js';

/** The inspect script's section with the iptables counters (nftables: the dump of table natchain has them). */
export const COUNTERS_SECTION = 'counters';

/** A sh function `counters`: natchain's DNAT rules with their counters (iptables only). */
export const COUNTERS_SHELL = String.raw`
counters() { if [ "$B" = iptables ]; then iptables-save -c -t nat 2>/dev/null | grep -F -- '-A NATCHAIN-PREROUTING ' || :; fi; }
`;

/** What one forward's DNAT rules on one gateway matched. */
export interface Count {
  packets: number;
  bytes: number;
}

/** Packets and bytes per forward, summed over its DNAT rules on the gateway. */
export function parseCounters(backend: Backend, countersSection: string, nftDump: string): Map<string, Count> {
  const out = new Map<string, Count>();
  const add = (comment: string | undefined, packets: number, bytes: number) => {
    const f = comment === undefined ? undefined : forwardFromComment(comment);
    if (f === undefined) return;
    const c = out.get(f) ?? { packets: 0, bytes: 0 };
    c.packets += packets;
    c.bytes += bytes;
    out.set(f, c);
  };
  if (backend === 'iptables') {
    for (const line of countersSection.split('\n')) {
      const m = /^\[(\d+):(\d+)\]\s+-A NATCHAIN-PREROUTING (.*)$/.exec(line.trim());
      if (!m || !/ -j DNAT\b/.test(` ${m[3]!}`)) continue;
      const tokens = tokenizeIptablesRule(m[3]!);
      const at = tokens.indexOf('--comment');
      add(at < 0 ? undefined : tokens[at + 1], Number(m[1]), Number(m[2]));
    }
    return out;
  }
  for (const line of nftDump.split('\n')) {
    if (!/\bdnat (ip )?to\b/.test(line)) continue;
    const c = /\bcounter packets (\d+) bytes (\d+)/.exec(line);
    const comment = /\bcomment "([^"]*)"/.exec(line);
    if (c) add(comment?.[1], Number(c[1]), Number(c[2]));
  }
  return out;
}
