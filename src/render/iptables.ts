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
import { intToIp, parseAddressMatch } from '../topology/addr.js';
import { toNameTable } from '../names.js';
import type { Gateway } from '../topology/types.js';
import type { Intent } from '../solve/types.js';
import { COMMENT_PREFIX, Lines, RenderError, checkIntents, iptPorts } from './common.js';
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
  /**
   * The other rules of the built-in chain that come before its first jump to the owned chain (read
   * from `iptables-save`; empty or absent: the jump is the chain's first rule, as natchain puts it).
   * A rule here can catch a forward's packets before natchain sees them: a load moves the jump back
   * to the top, and the shadowing check names these rules.
   */
  ahead?: Partial<Record<NatchainChain, string[]>>;
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
   * Rules of each built-in chain that sit before natchain's jump (as `parseIptablesSave(...).ahead`
   * lists them). Any there and the load deletes the jump and inserts it again at position 1.
   */
  rulesAhead?: Partial<Record<NatchainChain, readonly string[]>>;
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
  const plan = planRules(gateway, intents, opts.acceptMark ?? gateway.acceptMark);
  const state = emptyIptablesState();
  const list = (chain: NatchainChain) => {
    const rules: string[] = [];
    writeChain(plan, chain, (rule) => rules.push(rule));
    return rules;
  };
  state.chains = { 'NATCHAIN-FORWARD': list('NATCHAIN-FORWARD'), 'NATCHAIN-PREROUTING': list('NATCHAIN-PREROUTING'), 'NATCHAIN-POSTROUTING': list('NATCHAIN-POSTROUTING') };
  for (const { chain } of NATCHAIN_CHAINS) state.jumps[chain] = [jumpSpec(chain)];
  return state;
}

/**
 * `iptables-restore --noflush` input that makes natchain's chains hold exactly the rules for
 * `intents` (none: empty chains), adds the jumps `presentJumps` says are missing and leaves every
 * other rule alone. Each `*table ... COMMIT` is applied atomically by iptables-restore.
 */
export function renderIptables(gateway: Gateway, intents: readonly Intent[], opts: IptablesOptions = {}): string {
  const plan = planRules(gateway, intents, opts.acceptMark ?? gateway.acceptMark);
  const current = emptyIptablesState();
  for (const { chain } of NATCHAIN_CHAINS) {
    const p = opts.presentJumps?.[chain];
    current.jumps[chain] = p === true ? [jumpSpec(chain)] : p ? [...p] : [];
    const ahead = opts.rulesAhead?.[chain];
    if (ahead?.length) (current.ahead ??= {})[chain] = [...ahead];
  }
  // What transition(iptablesDesiredState(...), current) gives, with each rule written out as it is
  // made rather than all of them held as strings first.
  const chains: Partial<Record<NatchainChain, RuleSource>> = {};
  for (const { chain } of NATCHAIN_CHAINS) chains[chain] = { some: plan.checked.length > 0, each: (emit) => writeChain(plan, chain, emit) };
  const jumps = emptyIptablesState().jumps;
  for (const { chain } of NATCHAIN_CHAINS) jumps[chain] = [jumpSpec(chain)];
  return transition({ chains, jumps }, current);
}

/**
 * `iptables-restore --noflush` input that turns the owned state `current` into `target` (an earlier
 * snapshot: rollback and the dead-man timer), removing jumps and chains the target did not have.
 * `current` must be the state at load time: a `-D` of a jump that is not there fails that table
 * (atomically, so nothing of it changes).
 */
export function renderIptablesRestore(target: IptablesState, current: IptablesState): string {
  const chains: Partial<Record<NatchainChain, RuleSource>> = {};
  for (const { chain } of NATCHAIN_CHAINS) {
    const rules = target.chains[chain];
    if (rules !== undefined) chains[chain] = { some: rules.length > 0, each: (emit) => rules.forEach((r) => emit(r)) };
  }
  return transition({ chains, jumps: target.jumps }, current);
}

/** The rules of one owned chain, handed out in order. */
interface RuleSource {
  /** Whether there is at least one rule (when unsure: true). */
  some: boolean;
  each(emit: (rule: string) => void): void;
}

// Each chain's jump in canonical spelling, worked out once rather than per render.
const CANONICAL_JUMPS = new Map<NatchainChain, string>();
function canonicalJump(chain: NatchainChain): string {
  let c = CANONICAL_JUMPS.get(chain);
  if (c === undefined) CANONICAL_JUMPS.set(chain, (c = normaliseIptablesRule(jumpSpec(chain))));
  return c;
}

function transition(target: { chains: Partial<Record<NatchainChain, RuleSource>>; jumps: IptablesState['jumps'] }, current: IptablesState): string {
  // Lines are appended one by one (never spread into a call: a chain can hold 100k rules).
  const out = new Lines();
  out.push('# natchain: replaces the NATCHAIN-* chains only; load with iptables-restore --noflush');
  for (const table of TABLES) {
    const declare: string[] = [];
    const drops: string[] = [];
    const adds: (string | { prefix: string; rules: RuleSource })[] = []; // a jump to insert, or a chain's rules
    const removes: string[] = [];
    for (const { chain, table: home, builtin } of NATCHAIN_CHAINS) {
      if (home !== table) continue;
      const rules = target.chains[chain];
      const exists = current.chains[chain] !== undefined || (current.jumps[chain] ?? []).length > 0;
      if (rules !== undefined || exists) declare.push(`:${chain} - [0:0]`);
      const have = current.jumps[chain] ?? [];
      const want = rules !== undefined && (target.jumps[chain] ?? []).length > 0;
      // Keep the canonical jump only when it is the built-in chain's first rule; delete every other
      // jump to this chain (and that one too when a foreign rule got ahead of it: a rule before the
      // jump can catch a forward's packets first); insert one at the top if none is left.
      const canonical = canonicalJump(chain);
      const first = have.length > 0 && normaliseIptablesRule(have[0]!) === canonical && (current.ahead?.[chain] ?? []).length === 0;
      const keep = want && first ? 0 : -1;
      have.forEach((spec, n) => {
        if (n !== keep) drops.push(`-D ${builtin} ${spec}`);
      });
      if (want && keep < 0) adds.push(`-I ${builtin} 1 ${jumpSpec(chain)}`);
      if (rules !== undefined) adds.push({ prefix: `-A ${chain} `, rules });
      if (rules === undefined && exists) removes.push(`-X ${chain}`);
    }
    const adding = adds.some((a) => typeof a === 'string' || a.rules.some);
    if (declare.length + drops.length + removes.length === 0 && !adding) continue; // an untouched table stays untouched (not even created)
    out.push(`*${table}`);
    for (const line of declare) out.push(line);
    for (const line of drops) out.push(line);
    for (const a of adds) {
      if (typeof a === 'string') out.push(a);
      else {
        const prefix = a.prefix;
        a.rules.each((r) => out.push(prefix + r));
      }
    }
    for (const line of removes) out.push(line);
    out.push('COMMIT');
  }
  return out.text();
}

// ---- rules ---------------------------------------------------------------------------------
// Written exactly as iptables-save 1.8.9 prints them, so "rendered" and "loaded" compare equal
// even without normalising (normaliseIptablesRule makes the comparison robust anyway). Each is one
// template: at scale the text is built from hundreds of thousands of these.

interface RulePlan {
  checked: CheckedIntent[];
  markTarget: string | undefined;
  /** Runs can be compared by their key (below); false only for forwards that are not strings (never from the solver). */
  byRun: boolean;
}

function planRules(gateway: Gateway, intents: readonly Intent[], acceptMark: number | undefined): RulePlan {
  const checked = checkIntents(gateway, intents);
  const mark = acceptMark === undefined ? undefined : checkMark(acceptMark);
  return {
    checked,
    markTarget: mark === undefined ? undefined : `MARK --set-xmark ${hex(mark)}/${hex(mark)}`,
    byRun: checked.every((i) => typeof i.forward === 'string'),
  };
}

/**
 * Hands out the rules of one owned chain in order. Two intents can give the same rule (say, the
 * same DNAT with different SNATs): only the first is kept. Every rule names its forward, protocol,
 * destination and ports, and the canonical order sorts by those first, so equal rules come from
 * neighbouring intents: repeats are looked for within a run of such neighbours (usually a run of
 * one, with nothing to look for), never by hashing every rule's text; without runs, every rule is
 * looked for among all the earlier ones.
 */
function writeChain(plan: RulePlan, chain: NatchainChain, emit: (rule: string) => void): void {
  const { checked, markTarget, byRun } = plan;
  const seen = new Set<string>();
  let lastComment = '';
  let quoted = '';
  for (let n = 0; n < checked.length; n++) {
    const i = checked[n]!;
    let repeats: Set<string> | undefined = seen;
    if (byRun) {
      const runStarts = n === 0 || !sameRuleKey(checked[n - 1]!, i);
      if (runStarts && seen.size > 0) seen.clear();
      if (runStarts && (n + 1 === checked.length || !sameRuleKey(i, checked[n + 1]!))) repeats = undefined; // a run of one
    }
    if (chain === 'NATCHAIN-POSTROUTING' && i.snatAddress === undefined) continue;
    // Neighbours in canonical order mostly share a forward, so the quoting is mostly reused.
    if (i.comment !== lastComment) {
      lastComment = i.comment;
      quoted = saveString(i.comment);
    }
    if (chain === 'NATCHAIN-PREROUTING') emitOnce(emit, repeats, dnatRule(i, quoted));
    else if (chain === 'NATCHAIN-POSTROUTING') emitOnce(emit, repeats, snatRule(i, quoted));
    else {
      if (markTarget !== undefined) emitOnce(emit, repeats, acceptRule(i, quoted, markTarget));
      emitOnce(emit, repeats, acceptRule(i, quoted, 'ACCEPT'));
    }
  }
}

// Hands out a rule unless it is in `seen` (when there is one to look in).
function emitOnce(emit: (rule: string) => void, seen: Set<string> | undefined, rule: string): void {
  if (seen !== undefined) {
    if (seen.has(rule)) return;
    seen.add(rule);
  }
  emit(rule);
}

// Intents whose rules can coincide: every rule text spells these out.
function sameRuleKey(a: CheckedIntent, b: CheckedIntent): boolean {
  return a.forward === b.forward && a.proto === b.proto && a.dstAddr === b.dstAddr && a.from === b.from && a.to === b.to;
}

function protoNumber(p: string): string {
  return p === 'tcp' ? '6' : p === 'udp' ? '17' : p;
}

function dnatRule(i: CheckedIntent, comment: string): string {
  const to = i.dnatPort === undefined ? i.dnatAddress : `${i.dnatAddress}:${i.dnatPort}`;
  const src = i.src === undefined ? '' : `-s ${i.src.text} `;
  return `${src}-d ${i.dstAddress}/32 -i ${i.inIface} -p ${i.proto} -m ${i.proto} --dport ${iptPorts(i.from, i.to)} -m comment --comment ${comment} -j DNAT --to-destination ${to}`;
}

function dnatPorts(i: CheckedIntent): string {
  return i.dnatPort === undefined ? iptPorts(i.from, i.to) : String(i.dnatPort);
}

function snatRule(i: CheckedIntent, comment: string): string {
  // Only this forward's DNATed flows: the post-DNAT destination, plus the original destination
  // from conntrack. Never a broad "everything leaving eth0" SNAT like the seed's.
  const src = i.src === undefined ? '' : `-s ${i.src.text} `;
  return (
    `${src}-d ${i.dnatAddress}/32 -o ${i.outIface} -p ${i.proto} -m ${i.proto} --dport ${dnatPorts(i)}` +
    ` -m conntrack --ctstate DNAT --ctorigdst ${i.dstAddress} --ctorigdstport ${iptPorts(i.from, i.to)}` +
    ` -m comment --comment ${comment} -j SNAT --to-source ${i.snatAddress!}`
  );
}

function acceptRule(i: CheckedIntent, comment: string, target: string): string {
  // The conntrack entry identifies the flow in both directions (and its RELATED ICMP errors):
  // DNATed by this forward (original destination) to this forward's target (reply source).
  const src = i.src === undefined ? '' : ` --ctorigsrc ${i.src.text}`;
  return (
    `-m conntrack --ctstate DNAT --ctproto ${protoNumber(i.proto)}${src} --ctorigdst ${i.dstAddress} --ctreplsrc ${i.dnatAddress}` +
    ` --ctorigdstport ${iptPorts(i.from, i.to)} --ctreplsrcport ${dnatPorts(i)} -m comment --comment ${comment} -j ${target}`
  );
}

function checkMark(mark: number): number {
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff) throw new RenderError(`acceptMark must be a 32-bit mask, not ${mark}`);
  return mark;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

const SAVE_PLAIN = /^[A-Za-z0-9_-]+$/;

/** Quotes a value the way iptables-save does (xtables_save_string): bare when plain, else in double quotes with `"\'` escaped. */
export function saveString(value: string): string {
  if (SAVE_PLAIN.test(value)) return value;
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
  const ahead: Partial<Record<NatchainChain, string[]>> = {};
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
    // Without a quote every token is a piece of the text, so a rule not naming NATCHAIN- cannot jump
    // to natchain's chains: most foreign rules are not tokenized at all.
    const target = spec.includes('NATCHAIN-') || spec.includes('"') ? targetOf(tokenizeIptablesRule(spec)) : undefined;
    const entered = target === undefined ? undefined : NATCHAIN_CHAINS.find((c) => c.builtin === chain && c.table === table && c.chain === target);
    if (entered) state.jumps[entered.chain].push(spec);
    else {
      // A foreign rule of a built-in chain natchain jumps from: ahead of the jump until the first jump is read.
      const home = NATCHAIN_CHAINS.find((c) => c.builtin === chain && c.table === table);
      if (home && state.jumps[home.chain].length === 0) (ahead[home.chain] ??= []).push(spec);
    }
  }
  // Rules before a jump only count when there is a jump (a chain without one is simply not entered).
  for (const { chain } of NATCHAIN_CHAINS) {
    const rules = ahead[chain];
    if (rules && state.jumps[chain].length > 0) (state.ahead ??= {})[chain] = rules;
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
      // A jump with foreign rules ahead is not the state natchain loads (the jump first): the line
      // makes such a state differ from the expected one, so a rollout sees a change to load.
      const ahead = state.ahead?.[chain]?.length ?? 0;
      if (ahead > 0) out.push(`# jump ${builtin} -> ${chain} is not first: ${ahead} rule${ahead === 1 ? '' : 's'} ahead`);
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

// Lookup tables indexed by tokens of a gateway's iptables-save: no prototype, so a token `constructor` finds nothing.
const GENERIC: Record<string, string> = toNameTable({
  '-s': '-s', '--source': '-s', '--src': '-s',
  '-d': '-d', '--destination': '-d', '--dst': '-d',
  '-i': '-i', '--in-interface': '-i',
  '-o': '-o', '--out-interface': '-o',
  '-p': '-p', '--protocol': '-p',
  '-f': '-f', '--fragment': '-f',
});
const GENERIC_ORDER = ['-s', '-d', '-i', '-o', '-p', '-f'];
const PROTO_NUMBERS: Record<string, string> = toNameTable({ all: '0', icmp: '1', tcp: '6', udp: '17', gre: '47', esp: '50', ah: '51', sctp: '132', udplite: '136' });

function protoCanon(p: string): string {
  const l = p.toLowerCase();
  return PROTO_NUMBERS[l] ?? l;
}

function cidrCanon(v: string): string {
  const m = parseAddressMatch(v);
  return m ? `${intToIp(m.network)}/${m.prefix}` : v;
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

// A run normalises the same rule text many times: the live dump and the commit record of a gateway
// in sync hold the same rules (the dumps differ only in iptables-save's dated comment lines), and
// every gateway has the same jumps (issue 12: CPU per gateway). Pure, so remembered; bounded.
const NORMALISED_MAX = 8192;
const normalised = new Map<string, string>();

/**
 * One rule (the part after `-A <chain> `) in a canonical spelling: /32 added, netmasks as prefix
 * lengths, protocols as numbers, implicit `-m tcp` made explicit, options and matches sorted,
 * values quoted one way. Two spellings of the same rule give the same text.
 */
export function normaliseIptablesRule(spec: string): string {
  let c = normalised.get(spec);
  if (c === undefined) {
    c = normaliseRule(spec);
    if (normalised.size >= NORMALISED_MAX) normalised.clear();
    normalised.set(spec, c);
  }
  return c;
}

function normaliseRule(spec: string): string {
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
