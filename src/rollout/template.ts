// The text a gateway loads, written before natchain has seen the gateway's state, so that stage
// and check travel with the first exec. nftables replaces its table whole: the rendered text is
// the template as is. iptables-restore has no "insert if absent", so the iptables template says
// what it wants of the jumps and chains, and the gateway works out the lines from its own dump
// (RESOLVE_AWK in remote-scripts.ts) exactly as renderIptablesRestore would from that dump:
//
//   @declare CHAIN W           `:CHAIN - [0:0]` when W=1 or the chain exists
//   @drop BUILTIN CHAIN W SPEC `-D BUILTIN <jump>` for every jump to CHAIN, except (W=1) the first
//                              when it is exactly SPEC and BUILTIN's first rule (nothing ahead)
//   @insert BUILTIN CHAIN SPEC `-I BUILTIN 1 SPEC` when no jump was kept
//   @remove CHAIN              `-X CHAIN` when the chain exists
//
// A table whose lines all resolve to nothing is left out, as the renderer does.
import { jumpSpec, NATCHAIN_CHAINS, type IptablesState } from '../render/index.js';

const TABLES = ['filter', 'nat'] as const;

/** The iptables template that turns any owned state into `target`. */
export function iptablesTemplate(target: IptablesState): string {
  const out: string[] = ['# natchain: replaces the NATCHAIN-* chains only; load with iptables-restore --noflush'];
  for (const table of TABLES) {
    const chains = NATCHAIN_CHAINS.filter((c) => c.table === table);
    const wants = (chain: (typeof chains)[number]) => target.chains[chain.chain] !== undefined && (target.jumps[chain.chain] ?? []).length > 0;
    out.push(`*${table}`);
    for (const c of chains) out.push(`@declare ${c.chain} ${target.chains[c.chain] !== undefined ? 1 : 0}`);
    for (const c of chains) out.push(`@drop ${c.builtin} ${c.chain} ${wants(c) ? 1 : 0} ${jumpSpec(c.chain)}`);
    for (const c of chains) {
      if (wants(c)) out.push(`@insert ${c.builtin} ${c.chain} ${jumpSpec(c.chain)}`);
      const rules = target.chains[c.chain];
      if (rules) for (const r of rules) out.push(`-A ${c.chain} ${r}`);
    }
    for (const c of chains) if (target.chains[c.chain] === undefined) out.push(`@remove ${c.chain}`);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}
