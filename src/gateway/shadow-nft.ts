// Shadowing on an nftables gateway: a base chain of another table on a hook natchain uses, at a
// priority that runs before natchain's own chain (or at the same one: order undefined), with a rule
// (or policy) that can drop, reject or NAT a forward's packets first. An `accept` there does not
// shadow: in nftables the packet still reaches natchain's chain. Read from `nft -j list ruleset`.
import { and, any, cidrRange, matchDst, matchIface, matchPorts, matchProto, matchSrc, not, type Flow, type Hook, type Tri } from './flows.js';
import { addHit, type ShadowHit } from './shadow-hit.js';

type Json = Record<string, unknown>;

interface NftChain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  prio?: number;
  type?: string;
  policy?: string;
  rules: Array<{ expr: Json[]; handle?: number }>;
}

/** Reads the chains (with their rules) out of `nft -j list ruleset`; throws on text that is not its JSON. */
export function nftChains(json: string): NftChain[] {
  const doc = JSON.parse(json) as { nftables?: Json[] };
  const items = Array.isArray(doc.nftables) ? doc.nftables : [];
  const chains = new Map<string, NftChain>();
  const key = (f: unknown, t: unknown, c: unknown) => `${String(f)}\u0000${String(t)}\u0000${String(c)}`;
  for (const it of items) {
    const c = it.chain as Json | undefined;
    if (c) {
      const ch: NftChain = { family: String(c.family), table: String(c.table), name: String(c.name), rules: [] };
      if (typeof c.hook === 'string') ch.hook = c.hook;
      if (typeof c.prio === 'number') ch.prio = c.prio;
      if (typeof c.type === 'string') ch.type = c.type;
      if (typeof c.policy === 'string') ch.policy = c.policy;
      chains.set(key(c.family, c.table, c.name), ch);
    }
    const r = it.rule as Json | undefined;
    if (r && Array.isArray(r.expr)) {
      const ch = chains.get(key(r.family, r.table, r.chain));
      if (ch) ch.rules.push({ expr: r.expr as Json[], ...(typeof r.handle === 'number' ? { handle: r.handle } : {}) });
    }
  }
  return [...chains.values()];
}

// `vmap`: a verdict map natchain does not evaluate; it may drop, so it counts as one that can.
const SHADOWING = ['drop', 'reject', 'dnat', 'snat', 'masquerade', 'redirect', 'queue', 'vmap'];

/** Foreign base chains that run before natchain's and can drop, reject or NAT a forward's packets. */
export function nftShadows(gateway: string, rulesetJson: string, flows: readonly Flow[]): ShadowHit[] {
  const chains = nftChains(rulesetJson);
  const ours = (h: string) => chains.find((c) => c.family === 'ip' && c.table === 'natchain' && c.hook === h);
  const hits: ShadowHit[] = [];
  for (const hook of ['prerouting', 'forward', 'postrouting'] as Hook[]) {
    const mine = ours(hook);
    if (!mine || mine.prio === undefined) continue; // natchain is not applied there
    const first = chains.filter((c) => c.hook === hook && (c.family === 'ip' || c.family === 'inet') && !(c.family === 'ip' && c.table === 'natchain') && (c.prio ?? 0) <= mine.prio!);
    for (const ch of first) {
      const where = `table ${ch.family} ${ch.table} chain ${ch.name} (hook ${hook} priority ${ch.prio ?? 0}, natchain's: ${mine.prio})`;
      for (const flow of flows.filter((f) => f.hook === hook)) {
        const hit = walk(ch, flow, chains, 0);
        if (hit) addHit(hits, { gateway, backend: 'nftables', where, rule: hit, reason: 'runs before natchain', repairable: false, forwards: [flow.forward] });
      }
    }
  }
  return hits;
}

/** The rule (as text) by which a chain can take the flow, or undefined when it lets it through. */
function walk(ch: NftChain, flow: Flow, all: NftChain[], depth: number): string | undefined {
  for (const r of ch.rules) {
    let m: Tri = 'yes';
    for (const e of r.expr) {
      if ('match' in e) m = and(m, matchExpr(e.match as Json, flow));
      if (m === 'no') break;
      const verb = Object.keys(e)[0]!;
      if (SHADOWING.includes(verb)) return describe(ch, r);
      if (verb === 'accept' || verb === 'return') {
        if (m === 'yes') return undefined;
        break;
      }
      if (verb === 'jump' || verb === 'goto') {
        const target = String((e[verb] as Json | undefined)?.target ?? '');
        const sub = all.find((c) => c.family === ch.family && c.table === ch.table && c.name === target);
        if (!sub || depth >= 8) return describe(ch, r);
        const inner = walk(sub, flow, all, depth + 1);
        if (inner) return `${describe(ch, r)} -> ${inner}`;
        break;
      }
    }
  }
  if (ch.hook !== undefined && ch.policy === 'drop') return `chain ${ch.name} policy drop`;
  return undefined;
}

function describe(ch: NftChain, r: { expr: Json[]; handle?: number }): string {
  return `chain ${ch.name}${r.handle === undefined ? '' : ` handle ${r.handle}`}: ${r.expr.map(exprText).join(' ')}`;
}

/** A short nft-like spelling of one JSON expression (for messages; JSON where it has no short form). */
function exprText(e: Json): string {
  const [verb, arg] = Object.entries(e)[0] ?? ['?', null];
  if (verb === 'match') {
    const m = arg as Json;
    const op = m.op === '==' || m.op === 'in' ? '' : ` ${String(m.op)}`;
    return `${operand(m.left)}${op} ${operand(m.right)}`;
  }
  if (arg === null) return verb;
  if (verb === 'jump' || verb === 'goto') return `${verb} ${String((arg as Json).target)}`;
  return `${verb} ${JSON.stringify(arg)}`;
}

function operand(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number') return JSON.stringify(v);
  if (Array.isArray(v)) return `{ ${v.map(operand).join(', ')} }`;
  const o = (v ?? {}) as Json;
  if (o.meta) return `meta ${String((o.meta as Json).key)}`;
  if (o.payload) return `${String((o.payload as Json).protocol)} ${String((o.payload as Json).field)}`;
  if (o.ct) return `ct ${String((o.ct as Json).key)}`;
  if (o.set) return operand(o.set);
  if (o.prefix) return `${String((o.prefix as Json).addr)}/${String((o.prefix as Json).len)}`;
  if (o.range) return (o.range as unknown[]).map(operand).join('-');
  return JSON.stringify(v);
}

/** One `match` expression against the flow. */
export function matchExpr(m: Json, flow: Flow): Tri {
  const op = String(m.op ?? '==');
  if (op !== '==' && op !== '!=' && op !== 'in') return 'maybe';
  const cmp = compareTo(m.left as Json, flow);
  if (!cmp) return 'maybe';
  const values = valuesOf(m.right);
  if (!values) return 'maybe';
  const t = any(values.map(cmp));
  return op === '!=' ? not(t) : t;
}

/** The right side as a list of values (a set, an anonymous list, or one value); undefined for a named set. */
function valuesOf(right: unknown): unknown[] | undefined {
  if (typeof right === 'string' && right.startsWith('@')) return undefined;
  if (Array.isArray(right)) return right;
  if (right && typeof right === 'object' && 'set' in right) return valuesOf((right as Json).set);
  return [right];
}

/** How to compare one value with the flow, for the expressions natchain reads; undefined: any other. */
function compareTo(left: Json | undefined, flow: Flow): ((v: unknown) => Tri) | undefined {
  if (!left) return undefined;
  const meta = left.meta as Json | undefined;
  const payload = left.payload as Json | undefined;
  const ct = left.ct as Json | undefined;
  const fib = left.fib as Json | undefined;
  if (meta?.key === 'iifname' || meta?.key === 'iif') return (v) => (typeof v === 'string' ? matchIface(v, flow.iif) : 'maybe');
  if (meta?.key === 'oifname' || meta?.key === 'oif') return (v) => (typeof v === 'string' ? matchIface(v, flow.oif) : 'maybe');
  if (meta?.key === 'l4proto') return (v) => (typeof v === 'string' || typeof v === 'number' ? matchProto(v, flow.proto) : 'maybe');
  if (payload && payload.protocol === 'ip' && payload.field === 'protocol') return (v) => (typeof v === 'string' || typeof v === 'number' ? matchProto(v, flow.proto) : 'maybe');
  if (payload && payload.protocol === 'ip' && payload.field === 'daddr') return (v) => matchDst(addrRange(v), flow.dst);
  if (payload && payload.protocol === 'ip' && payload.field === 'saddr') return (v) => matchSrc(addrRange(v), flow.src);
  if (payload && payload.field === 'dport' && ['tcp', 'udp', 'th'].includes(String(payload.protocol))) {
    const proto: Tri = payload.protocol === 'th' ? 'yes' : payload.protocol === flow.proto ? 'yes' : 'no';
    return (v) => and(proto, portRange(v, flow));
  }
  if (ct?.key === 'state' && ct.dir === undefined) return (v) => (typeof v === 'string' ? (v === 'new' ? 'yes' : 'no') : 'maybe');
  if (ct?.key === 'status' && ct.dir === undefined) return (v) => (v === 'dnat' ? (flow.dnatted ? 'yes' : 'no') : 'maybe');
  if (fib && fib.result === 'type' && Array.isArray(fib.flags) && fib.flags.includes('daddr')) return (v) => (v === 'local' ? (flow.local ? 'yes' : 'no') : v === 'unicast' ? 'yes' : 'maybe');
  return undefined;
}

function addrRange(v: unknown): { lo: number; hi: number } | undefined {
  if (typeof v === 'string') return cidrRange(v);
  const o = v as Json | null;
  const p = o?.prefix as Json | undefined;
  if (p && typeof p.addr === 'string' && typeof p.len === 'number') return cidrRange(`${p.addr}/${p.len}`);
  const r = o?.range as unknown[] | undefined;
  if (Array.isArray(r) && typeof r[0] === 'string' && typeof r[1] === 'string') {
    const a = cidrRange(r[0]);
    const b = cidrRange(r[1]);
    return a && b ? { lo: a.lo, hi: b.hi } : undefined;
  }
  return undefined;
}

function portRange(v: unknown, flow: Flow): Tri {
  if (typeof v === 'number') return matchPorts(v, v, flow.dport);
  const r = (v as Json | null)?.range as unknown[] | undefined;
  if (Array.isArray(r) && typeof r[0] === 'number' && typeof r[1] === 'number') return matchPorts(r[0], r[1], flow.dport);
  return 'maybe';
}
