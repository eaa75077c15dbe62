// The iptables backend: `iptables-restore --noflush` input that replaces natchain's own chains,
// and the inverse tools (read `iptables-save`, compare, restore an earlier state).
//
// natchain owns three chains, each entered by one jump at the top of a built-in chain:
//   *filter  FORWARD     -> NATCHAIN-FORWARD       accept exactly the forwarded flows
//   *nat     PREROUTING  -> NATCHAIN-PREROUTING    DNAT
//   *nat     POSTROUTING -> NATCHAIN-POSTROUTING   SNAT, narrowed to one forward's DNATed flows
// Declaring `:NATCHAIN-X - [0:0]` under --noflush creates the chain or flushes it, so a load
// replaces natchain's rules and nothing else. iptables-restore has no "insert if absent", so the
// jumps are written only when the caller says they are missing (see `presentJumps`).
import type { Gateway } from '../topology/types.js';
import type { Intent } from '../solve/types.js';
import { COMMENT_PREFIX, RenderError, checkIntents, iptPorts } from './common.js';
import type { CheckedIntent } from './common.js';

/** The chains natchain owns in iptables. */
export type NatchainChain = 'NATCHAIN-FORWARD' | 'NATCHAIN-PREROUTING' | 'NATCHAIN-POSTROUTING';

/** Where each owned chain lives and which built-in chain jumps to it; in the order they are written. */
export const NATCHAIN_CHAINS: readonly { chain: NatchainChain; table: 'filter' | 'nat'; builtin: string }[] = [
  { chain: 'NATCHAIN-FORWARD', table: 'filter', builtin: 'FORWARD' },
  { chain: 'NATCHAIN-PREROUTING', table: 'nat', builtin: 'PREROUTING' },
  { chain: 'NATCHAIN-POSTROUTING', table: 'nat', builtin: 'POSTROUTING' },
];

const TABLES = ['filter', 'nat'] as const;

/**
 * natchain's part of a gateway's iptables state. Rule texts are what follows `-A <chain> ` in
 * `iptables-save` (or in natchain's own rendering, which uses the same spelling).
 */
export interface IptablesState {
  /** Rules of each owned chain that exists, in order; a missing key means the chain does not exist. */
  chains: Partial<Record<NatchainChain, string[]>>;
  /** Every rule of the matching built-in chain that jumps to the owned chain, in order (normally exactly one, or none). */
  jumps: Record<NatchainChain, string[]>;
}

/** Options of `renderIptables`. */
export interface IptablesOptions {
  /**
   * The jumps already in the built-in chains, so a load adds each missing one exactly once:
   * `true` (one natchain jump present) or the jump rules as `parseIptablesSave(...).jumps` lists them.
   * Default: none (a gateway natchain never touched).
   */
  presentJumps?: Partial<Record<NatchainChain, boolean | readonly string[]>>;
  /**
   * Also set these bits of the packet mark on accepted flows, so a DROP in another table's or
   * nft chain's forward hook can let them through (`-m mark --mark M/M -j ACCEPT`); see docs.
   */
  acceptMark?: number;
}

/** The rule (after `-A <builtin> `) by which a built-in chain enters an owned chain. */
export function jumpSpec(chain: NatchainChain): string {
  return `-m comment --comment ${COMMENT_PREFIX} -j ${chain}`;
}

/** The state of a gateway natchain has never touched (or has been removed from): no chains, no jumps. */
export function emptyIptablesState(): IptablesState {
  return { chains: {}, jumps: { 'NATCHAIN-FORWARD': [], 'NATCHAIN-PREROUTING': [], 'NATCHAIN-POSTROUTING': [] } };
}

/** The owned state that loading `renderIptables(gateway, intents)` produces: every chain with its rules, one jump each. */
export function iptablesDesiredState(gateway: Gateway, intents: readonly Intent[], opts: { acceptMark?: number } = {}): IptablesState {
  const checked = checkIntents(gateway, intents);
  const mark = opts.acceptMark === undefined ? undefined : checkMark(opts.acceptMark);
  const chains: Record<NatchainChain, string[]> = { 'NATCHAIN-FORWARD': [], 'NATCHAIN-PREROUTING': [], 'NATCHAIN-POSTROUTING': [] };
  for (const i of checked) {
    chains['NATCHAIN-PREROUTING'].push(dnatRule(i));
    if (i.snat) chains['NATCHAIN-POSTROUTING'].push(snatRule(i));
    if (mark !== undefined) chains['NATCHAIN-FORWARD'].push(acceptRule(i, `MARK --set-xmark ${hex(mark)}/${hex(mark)}`));
    chains['NATCHAIN-FORWARD'].push(acceptRule(i, 'ACCEPT'));
  }
  for (const c of Object.keys(chains) as NatchainChain[]) chains[c] = dedupe(chains[c]);
  const state = emptyIptablesState();
  state.chains = chains;
  for (const { chain } of NATCHAIN_CHAINS) state.jumps[chain] = [jumpSpec(chain)];
  return state;
}

/**
 * `iptables-restore --noflush` input that makes natchain's chains hold exactly the rules for
 * `intents` (none: empty chains), adds the jumps `presentJumps` says are missing and leaves every
 * other rule alone. Each `*table ... COMMIT` is applied atomically by iptables-restore.
 */
export function renderIptables(gateway: Gateway, intents: readonly Intent[], opts: IptablesOptions = {}): string {
  const desired = iptablesDesiredState(gateway, intents, opts.acceptMark === undefined ? {} : { acceptMark: opts.acceptMark });
  const current = emptyIptablesState();
  for (const { chain } of NATCHAIN_CHAINS) {
    const p = opts.presentJumps?.[chain];
    current.jumps[chain] = p === true ? [jumpSpec(chain)] : p ? [...p] : [];
  }
  return transition(desired, current);
}

/**
 * `iptables-restore --noflush` input that turns the owned state `current` into `target` (an earlier
 * snapshot: rollback and the dead-man timer), removing jumps and chains the target did not have.
 * `current` must be the state at load time: a `-D` of a jump that is not there fails that table
 * (atomically, so nothing of it changes).
 */
export function renderIptablesRestore(target: IptablesState, current: IptablesState): string {
  return transition(target, current);
}

function transition(target: IptablesState, current: IptablesState): string {
  const out: string[] = ['# natchain: replaces the NATCHAIN-* chains only; load with iptables-restore --noflush'];
  for (const table of TABLES) {
    const body: string[] = [];
    const declare: string[] = [];
    const drops: string[] = [];
    const adds: string[] = [];
    const removes: string[] = [];
    for (const { chain, builtin } of NATCHAIN_CHAINS.filter((c) => c.table === table)) {
      const rules = target.chains[chain];
      const exists = current.chains[chain] !== undefined || (current.jumps[chain] ?? []).length > 0;
      if (rules !== undefined || exists) declare.push(`:${chain} - [0:0]`);
      const have = current.jumps[chain] ?? [];
      const want = rules !== undefined && (target.jumps[chain] ?? []).length > 0;
      // Keep the first canonical jump where it is (its position is the admin's business once made);
      // delete every other jump to this chain; insert one at the top if none is left.
      const canonical = normaliseIptablesRule(jumpSpec(chain));
      const keep = want ? have.findIndex((s) => normaliseIptablesRule(s) === canonical) : -1;
      have.forEach((spec, n) => {
        if (n !== keep) drops.push(`-D ${builtin} ${spec}`);
      });
      if (want && keep < 0) adds.push(`-I ${builtin} 1 ${jumpSpec(chain)}`);
      for (const r of rules ?? []) adds.push(`-A ${chain} ${r}`);
      if (rules === undefined && exists) removes.push(`-X ${chain}`);
    }
    body.push(...declare, ...drops, ...adds, ...removes);
    if (body.length === 0) continue; // an untouched table stays untouched (not even created)
    out.push(`*${table}`, ...body, 'COMMIT');
  }
  return out.join('\n') + '\n';
}

// ---- rules ---------------------------------------------------------------------------------
// Written exactly as iptables-save 1.8.9 prints them, so "rendered" and "loaded" compare equal
// even without normalising (normaliseIptablesRule makes the comparison robust anyway).

function protoNumber(p: string): string {
  return p === 'tcp' ? '6' : p === 'udp' ? '17' : p;
}

function dnatRule(i: CheckedIntent): string {
  const to = i.dnat.port === undefined ? i.dnat.address : `${i.dnat.address}:${i.dnat.port}`;
  return [
    ...(i.src ? [`-s ${i.src.text}`] : []),
    `-d ${i.dst.address}/32 -i ${i.inIface} -p ${i.proto} -m ${i.proto} --dport ${iptPorts(i.dst.from, i.dst.to)}`,
    `-m comment --comment ${saveString(i.comment)}`,
    `-j DNAT --to-destination ${to}`,
  ].join(' ');
}

function dnatPorts(i: CheckedIntent): string {
  return i.dnat.port === undefined ? iptPorts(i.dst.from, i.dst.to) : String(i.dnat.port);
}

function snatRule(i: CheckedIntent): string {
  // Only this forward's DNATed flows: the post-DNAT destination, plus the original destination
  // from conntrack. Never a broad "everything leaving eth0" SNAT like the seed's.
  return [
    ...(i.src ? [`-s ${i.src.text}`] : []),
    `-d ${i.dnat.address}/32 -o ${i.outIface} -p ${i.proto} -m ${i.proto} --dport ${dnatPorts(i)}`,
    `-m conntrack --ctstate DNAT --ctorigdst ${i.dst.address} --ctorigdstport ${iptPorts(i.dst.from, i.dst.to)}`,
    `-m comment --comment ${saveString(i.comment)}`,
    `-j SNAT --to-source ${i.snat!.address}`,
  ].join(' ');
}

function acceptRule(i: CheckedIntent, target: string): string {
  // The conntrack entry identifies the flow in both directions (and its RELATED ICMP errors):
  // DNATed by this forward (original destination) to this forward's target (reply source).
  return [
    `-m conntrack --ctstate DNAT --ctproto ${protoNumber(i.proto)}`,
    ...(i.src ? [`--ctorigsrc ${i.src.text}`] : []),
    `--ctorigdst ${i.dst.address} --ctreplsrc ${i.dnat.address}`,
    `--ctorigdstport ${iptPorts(i.dst.from, i.dst.to)} --ctreplsrcport ${dnatPorts(i)}`,
    `-m comment --comment ${saveString(i.comment)}`,
    `-j ${target}`,
  ].join(' ');
}

function dedupe(rules: string[]): string[] {
  return [...new Set(rules)];
}

function checkMark(mark: number): number {
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff) throw new RenderError(`acceptMark must be a 32-bit mask, not ${mark}`);
  return mark;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Quotes a value the way iptables-save does (xtables_save_string): bare when plain, else in double quotes with `"\'` escaped. */
export function saveString(value: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(value)) return value;
  return `"${value.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}

// ---- reading iptables-save -----------------------------------------------------------------

/** Splits a rule into arguments the way iptables-restore does (double quotes, backslash escapes inside them). */
export function tokenizeIptablesRule(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quoted = false;
  for (let n = 0; n < text.length; n++) {
    const c = text[n]!;
    if (quoted) {
      if (c === '\\' && n + 1 < text.length) cur += text[++n];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      has = true;
    } else if (c === ' ' || c === '\t') {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

function targetOf(tokens: string[]): string | undefined {
  for (let n = 0; n + 1 < tokens.length; n++) {
    if (['-j', '--jump', '-g', '--goto'].includes(tokens[n]!)) return tokens[n + 1];
  }
  return undefined;
}

/** Reads natchain's owned state out of `iptables-save` output (all tables or just nat and filter; `-c` counters are ignored). */
export function parseIptablesSave(text: string): IptablesState {
  const state = emptyIptablesState();
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/^\[\d+:\d+\]\s+/, '');
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      continue;
    }
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0]!;
      const own = NATCHAIN_CHAINS.find((c) => c.chain === name && c.table === table);
      if (own) state.chains[own.chain] ??= [];
      continue;
    }
    const m = /^-A\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    const chain = m[1]!;
    const spec = (m[2] ?? '').trim();
    const own = NATCHAIN_CHAINS.find((c) => c.chain === chain && c.table === table);
    if (own) {
      (state.chains[own.chain] ??= []).push(spec);
      continue;
    }
    const target = targetOf(tokenizeIptablesRule(spec));
    const entered = NATCHAIN_CHAINS.find((c) => c.builtin === chain && c.table === table && c.chain === target);
    if (entered) state.jumps[entered.chain].push(spec);
  }
  return state;
}

/**
 * `iptables-save` output without natchain's part (its chains, their rules, the jumps) and without
 * the timestamped comment lines: what must stay byte-identical across every natchain operation.
 */
export function iptablesForeign(text: string): string {
  const out: string[] = [];
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    if (line.startsWith('*')) table = line.slice(1).trim();
    const bare = line.replace(/^\[\d+:\d+\]\s+/, '');
    if (bare.startsWith(':') && NATCHAIN_CHAINS.some((c) => c.table === table && c.chain === bare.slice(1).split(/\s+/)[0])) continue;
    const m = /^-A\s+(\S+)(?:\s+(.*))?$/.exec(bare);
    if (m) {
      if (NATCHAIN_CHAINS.some((c) => c.table === table && c.chain === m[1])) continue;
      const target = targetOf(tokenizeIptablesRule(m[2] ?? ''));
      if (NATCHAIN_CHAINS.some((c) => c.table === table && c.builtin === m[1] && c.chain === target)) continue;
    }
    out.push(raw);
  }
  return out.join('\n');
}

/**
 * A canonical text of the owned state: equal for the state natchain rendered and for what
 * `iptables-save` shows after loading it, whatever spelling differences iptables introduces.
 */
export function canonicalIptables(state: IptablesState): string {
  const out: string[] = [];
  for (const table of TABLES) {
    out.push(`*${table}`);
    for (const { chain, builtin } of NATCHAIN_CHAINS.filter((c) => c.table === table)) {
      const rules = state.chains[chain];
      if (rules === undefined) out.push(`:${chain} absent`);
      else {
        out.push(`:${chain}`);
        for (const r of rules) out.push(`-A ${chain} ${normaliseIptablesRule(r)}`);
      }
      for (const j of state.jumps[chain] ?? []) out.push(`jump ${builtin} ${normaliseIptablesRule(j)}`);
    }
  }
  return out.join('\n') + '\n';
}

// ---- normalising one rule ------------------------------------------------------------------

interface Opt {
  neg: boolean;
  name: string;
  values: string[];
}

const GENERIC: Record<string, string> = {
  '-s': '-s', '--source': '-s', '--src': '-s',
  '-d': '-d', '--destination': '-d', '--dst': '-d',
  '-i': '-i', '--in-interface': '-i',
  '-o': '-o', '--out-interface': '-o',
  '-p': '-p', '--protocol': '-p',
  '-f': '-f', '--fragment': '-f',
};
const GENERIC_ORDER = ['-s', '-d', '-i', '-o', '-p', '-f'];
const PROTO_NUMBERS: Record<string, string> = { all: '0', icmp: '1', tcp: '6', udp: '17', gre: '47', esp: '50', ah: '51', sctp: '132', udplite: '136' };

function protoCanon(p: string): string {
  const l = p.toLowerCase();
  return PROTO_NUMBERS[l] ?? l;
}

function cidrCanon(v: string): string {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}|\d{1,3}(?:\.\d{1,3}){3}))?$/.exec(v);
  if (!m) return v;
  const addr = m[1]!.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  let prefix = 32;
  if (m[2] !== undefined) {
    if (m[2].includes('.')) {
      const mask = m[2].split('.').reduce((n, o) => n * 256 + Number(o), 0);
      const bits = mask.toString(2).padStart(32, '0');
      if (!/^1*0*$/.test(bits)) return v;
      prefix = bits.indexOf('0') < 0 ? 32 : bits.indexOf('0');
    } else prefix = Number(m[2]);
  }
  const size = 2 ** (32 - prefix);
  const net = Math.floor(addr / size) * size;
  return `${[24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.')}/${prefix}`;
}

function portsCanon(v: string): string {
  return v
    .split(',')
    .map((p) => {
      const m = /^(\d+)[:-](\d+)$/.exec(p);
      return m && m[1] === m[2] ? m[1]! : m ? `${Number(m[1])}:${Number(m[2])}` : p;
    })
    .join(',');
}

function markCanon(v: string): string {
  const [a, b] = v.split('/');
  const h = (x: string) => `0x${Number(x).toString(16)}`;
  return b === undefined ? `${h(a!)}/0xffffffff` : `${h(a!)}/${h(b)}`;
}

// Canonical text quotes only what would otherwise split or merge tokens.
function canonQuote(v: string): string {
  return v !== '' && /^[^\s"'\\]+$/.test(v) ? v : JSON.stringify(v);
}

function valueCanon(opt: string, v: string): string {
  if (/^--ct(orig|repl)(src|dst)$/.test(opt)) return cidrCanon(v);
  if (opt === '--ctproto') return protoCanon(v);
  if (['--ctstate', '--state', '--ctstatus'].includes(opt)) return v.toUpperCase().split(',').sort().join(',');
  if (/port(s)?$/.test(opt)) return portsCanon(v);
  if (opt === '--set-xmark' || opt === '--mark') return markCanon(v);
  return v;
}

/**
 * One rule (the part after `-A <chain> `) in a canonical spelling: /32 added, netmasks as prefix
 * lengths, protocols as numbers, implicit `-m tcp` made explicit, options and matches sorted,
 * values quoted one way. Two spellings of the same rule give the same text.
 */
export function normaliseIptablesRule(spec: string): string {
  const tokens = tokenizeIptablesRule(spec);
  const generic: Opt[] = [];
  const modules: { name: string; opts: Opt[] }[] = [];
  let target: { name: string; opts: Opt[] } | undefined;
  let cur: { name: string; opts: Opt[] } | undefined;
  let neg = false;
  let last: Opt | undefined;
  const protoOf = () => generic.find((g) => g.name === '-p')?.values[0] ?? '';
  for (let n = 0; n < tokens.length; n++) {
    const t = tokens[n]!;
    if (t === '!') {
      neg = true;
      continue;
    }
    if (t === '-m' || t === '--match') {
      cur = { name: tokens[++n] ?? '', opts: [] };
      modules.push(cur);
      neg = false;
      continue;
    }
    if (t === '-j' || t === '--jump' || t === '-g' || t === '--goto') {
      target = { name: `${t.startsWith('-g') || t === '--goto' ? 'goto ' : ''}${tokens[++n] ?? ''}`, opts: [] };
      cur = target;
      neg = false;
      continue;
    }
    const g = GENERIC[t];
    if (g && (target === undefined || cur !== target)) {
      last = { neg, name: g, values: g === '-f' ? [] : [tokens[++n] ?? ''] };
      generic.push(last);
      neg = false;
      continue;
    }
    if (t.startsWith('-') && !/^-\d/.test(t)) {
      if (!cur) {
        // `-p tcp --dport 81` without `-m tcp`: iptables loads the protocol's match implicitly.
        cur = { name: protoCanon(protoOf()) === '6' ? 'tcp' : protoCanon(protoOf()) === '17' ? 'udp' : protoOf(), opts: [] };
        modules.push(cur);
      }
      last = { neg, name: t, values: [] };
      while (n + 1 < tokens.length && tokens[n + 1] !== '!' && !(tokens[n + 1]!.startsWith('-') && !/^-\d/.test(tokens[n + 1]!))) {
        last.values.push(tokens[++n]!);
      }
      cur.opts.push(last);
      neg = false;
      continue;
    }
    if (last) last.values.push(t); // a stray value: keep it with the option before it
  }
  const show = (o: Opt) => [...(o.neg ? ['!'] : []), o.name, ...o.values.map((v) => canonQuote(valueCanon(o.name, v)))].join(' ');
  const parts: string[] = [];
  for (const name of GENERIC_ORDER) {
    for (const o of generic.filter((x) => x.name === name)) {
      const v = o.values[0] ?? '';
      const val = name === '-s' || name === '-d' ? cidrCanon(v) : name === '-p' ? protoCanon(v) : v;
      parts.push([...(o.neg ? ['!'] : []), name, ...(name === '-f' ? [] : [canonQuote(val)])].join(' '));
    }
  }
  // Same-named matches are merged (an implicit `tcp` and an explicit `-m tcp` are one match).
  const merged = new Map<string, Opt[]>();
  for (const m of modules) merged.set(m.name, [...(merged.get(m.name) ?? []), ...m.opts]);
  for (const name of [...merged.keys()].sort()) {
    const opts = merged.get(name)!.map((o) => show(o)).sort();
    parts.push(['-m', name, ...opts].join(' '));
  }
  if (target) {
    let opts = target.opts;
    if (target.name === 'MARK') {
      opts = opts.map((o) => (o.name === '--or-mark' ? { neg: false, name: '--set-xmark', values: [`${o.values[0]}/${o.values[0]}`] } : o));
    }
    parts.push(['-j', target.name, ...opts.map((o) => show(o)).sort()].join(' '));
  }
  return parts.join(' ');
}
