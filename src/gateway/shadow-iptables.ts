// Shadowing on an iptables gateway: a foreign rule before natchain's jump in a built-in chain
// (PREROUTING and POSTROUTING of nat, FORWARD of filter) that can catch a forward's packets first.
// A jump to a user chain is followed (Docker's `-j DOCKER`): it shadows only if a rule in there can.
import { NATCHAIN_CHAINS, tokenizeIptablesRule, type NatchainChain } from '../render/index.js';
import { and, any, cidrRange, matchDst, matchIface, matchPorts, matchProto, matchSrc, not, type Flow, type Hook, type Tri } from './flows.js';
import { addHit, type ShadowHit } from './shadow-hit.js';

/** Targets that let the packet go on to the next rule. */
const PASS_ON = new Set(['LOG', 'NFLOG', 'ULOG', 'MARK', 'CONNMARK', 'TRACE', 'CT', 'CLASSIFY', 'DSCP', 'TOS', 'TTL', 'HL', 'TCPMSS', 'AUDIT', 'NOTRACK', 'SECMARK', 'CONNSECMARK']);

/** Every chain of an `iptables-save` dump: table -> chain -> rule specs (after `-A CHAIN `), in order. */
export function chainsOf(dump: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let table: Map<string, string[]> | undefined;
  for (const raw of dump.split('\n')) {
    const line = raw.trim().replace(/^\[\d+:\d+\]\s+/, '');
    if (line.startsWith('*')) {
      table = out.get(line.slice(1)) ?? new Map();
      out.set(line.slice(1), table);
    } else if (table && line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0]!;
      if (!table.has(name)) table.set(name, []);
    } else if (table && line.startsWith('-A ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const list = table.get(chain) ?? [];
      list.push(sp < 0 ? '' : rest.slice(sp + 1));
      table.set(chain, list);
    }
  }
  return out;
}

const HOOK_OF: Record<NatchainChain, Hook> = { 'NATCHAIN-PREROUTING': 'prerouting', 'NATCHAIN-FORWARD': 'forward', 'NATCHAIN-POSTROUTING': 'postrouting' };

/** The chains of tables that run before natchain's on the same hook (raw -300, mangle -150). */
const EARLIER: Record<Hook, Array<{ table: string; builtin: string }>> = {
  prerouting: [{ table: 'raw', builtin: 'PREROUTING' }, { table: 'mangle', builtin: 'PREROUTING' }],
  forward: [{ table: 'mangle', builtin: 'FORWARD' }],
  postrouting: [{ table: 'mangle', builtin: 'POSTROUTING' }],
};

/**
 * Where a rule is: `ahead` of natchain's jump in the same built-in chain (any verdict keeps the
 * packet from natchain's rules), or in an `earlier` table on the hook (only what kills the packet or
 * its connection tracking does: an ACCEPT there just ends that table).
 */
type Mode = 'ahead' | 'earlier';

/** Foreign rules that can catch a forward's packets before natchain's rules: ahead of its jumps, or in raw/mangle. */
export function iptablesShadows(gateway: string, dump: string, flows: readonly Flow[]): ShadowHit[] {
  const tables = chainsOf(dump);
  const hits: ShadowHit[] = [];
  const scan = (table: string, builtin: string, rules: string[], mode: Mode, flow: Flow) => {
    for (const spec of rules) {
      const verdict = evaluate(spec, flow, tables.get(table)!, mode, 0);
      if (!verdict) continue;
      if (verdict.catches) {
        const via = verdict.via ? ` (through ${verdict.via})` : '';
        const reason = mode === 'ahead' ? `ahead of natchain's jump${via}` : `the ${table} table runs before natchain's${via}`;
        addHit(hits, { gateway, backend: 'iptables', where: `${table} ${builtin}`, rule: `-A ${builtin} ${spec}`, reason, repairable: mode === 'ahead', forwards: [flow.forward] });
      }
      return;
    }
  };
  for (const { chain, table, builtin } of NATCHAIN_CHAINS) {
    const rules = tables.get(table)?.get(builtin) ?? [];
    const at = rules.findIndex((r) => targetOf(tokenizeIptablesRule(r)).target === chain);
    if (at < 0) continue; // natchain is not applied there
    const mine = flows.filter((f) => f.hook === HOOK_OF[chain]);
    for (const e of EARLIER[HOOK_OF[chain]]) {
      const early = tables.get(e.table)?.get(e.builtin) ?? [];
      for (const flow of early.length ? mine : []) scan(e.table, e.builtin, early, 'earlier', flow);
    }
    if (at > 0) for (const flow of mine) scan(table, builtin, rules.slice(0, at), 'ahead', flow);
  }
  return hits;
}

/** What a target does to a packet it matches: let it go on, catch it, or end the table's walk harmlessly. */
function effectOf(target: string, tokens: string[], mode: Mode): 'pass' | 'catch' | 'end' {
  const untracks = target === 'NOTRACK' || (target === 'CT' && tokens.includes('--notrack'));
  if (mode === 'earlier') return untracks || target === 'DROP' || target === 'REJECT' ? 'catch' : PASS_ON.has(target) ? 'pass' : 'end';
  return PASS_ON.has(target) ? 'pass' : 'catch'; // ACCEPT, DROP, RETURN (policy), DNAT, SNAT, MASQUERADE, REDIRECT...
}

/**
 * What a rule does to the flow: undefined when it lets it go on (no match, or a non-terminating
 * target); `catches` when it can take it before natchain's rules; `{ catches: false }` when it surely
 * ends the table's walk harmlessly (an ACCEPT in an earlier table).
 */
function evaluate(spec: string, flow: Flow, table: Map<string, string[]>, mode: Mode, depth: number): { catches: boolean; via?: string } | undefined {
  const tokens = tokenizeIptablesRule(spec);
  const { target, matchEnd } = targetOf(tokens);
  const m = matchRule(tokens.slice(0, matchEnd), flow);
  if (m === 'no' || target === undefined) return undefined;
  const sub = table.get(target);
  if (sub === undefined) {
    const effect = effectOf(target, tokens.slice(matchEnd), mode);
    if (effect === 'pass') return undefined;
    if (effect === 'catch') return { catches: true };
    return m === 'yes' ? { catches: false } : undefined;
  }
  if (depth >= 8) return { catches: true, via: target };
  for (const r of sub) {
    const tokens2 = tokenizeIptablesRule(r);
    if (targetOf(tokens2).target === 'RETURN') {
      if (matchRule(tokens2, flow) === 'yes') return undefined; // back to the built-in chain
      continue;
    }
    const v = evaluate(r, flow, table, mode, depth + 1);
    if (v?.catches) return { catches: true, via: `-A ${target} ${r}` };
    if (v) return v;
  }
  return undefined;
}

/** The rule's target and where its match part ends. */
function targetOf(tokens: string[]): { target?: string; matchEnd: number } {
  for (let n = 0; n + 1 < tokens.length; n++) {
    if (['-j', '--jump', '-g', '--goto'].includes(tokens[n]!)) return { target: tokens[n + 1]!, matchEnd: n };
  }
  return { matchEnd: tokens.length };
}

/** Whether a rule's matches can hold for the flow. */
export function matchRule(tokens: string[], flow: Flow): Tri {
  let result: Tri = 'yes';
  let neg = false;
  for (let n = 0; n < tokens.length; n++) {
    const t = tokens[n]!;
    if (t === '!') {
      neg = true;
      continue;
    }
    const v = tokens[n + 1];
    let m: Tri | undefined;
    let takes = true;
    switch (t) {
      case '-i': case '--in-interface': m = matchIface(v ?? '', flow.iif); break;
      case '-o': case '--out-interface': m = matchIface(v ?? '', flow.oif); break;
      case '-s': case '--source': m = matchSrc(cidrRange(v ?? ''), flow.src); break;
      case '-d': case '--destination': m = matchDst(cidrRange(v ?? ''), flow.dst); break;
      case '-p': case '--protocol': m = matchProto(v ?? '', flow.proto); break;
      case '--dport': case '--destination-port': m = portsOf(v ?? '', flow); break;
      case '--dports': case '--destination-ports': m = any((v ?? '').split(',').map((x) => portsOf(x, flow))); break;
      case '--ctstate': case '--state': m = states(v ?? '', flow); break;
      case '--dst-type': m = addrType(v ?? '', flow); break;
      case '-m': case '--match': case '--comment': m = 'yes'; break;
      default:
        // An option natchain does not read (and its values): it may match.
        m = t.startsWith('-') ? 'maybe' : 'yes';
        takes = false;
    }
    if (takes) n++;
    result = and(result, neg ? not(m) : m);
    neg = false;
    if (result === 'no') return 'no';
  }
  return result;
}

function portsOf(v: string, flow: Flow): Tri {
  const [a, b] = v.split(':');
  return matchPorts(Number(a || 0), Number(b === undefined ? a : b || 65535), flow.dport);
}

function states(v: string, flow: Flow): Tri {
  const have = flow.dnatted ? ['NEW', 'DNAT'] : ['NEW'];
  return v.split(',').some((s) => have.includes(s.toUpperCase())) ? 'yes' : 'no';
}

function addrType(v: string, flow: Flow): Tri {
  const types = v.split(',').map((s) => s.toUpperCase());
  if (types.includes('UNICAST')) return 'yes';
  if (types.includes('LOCAL')) return flow.local ? 'yes' : 'no';
  return 'maybe';
}
