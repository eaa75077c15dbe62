// The nftables backend: one `nft -f` file that replaces `table ip natchain` atomically, and the
// inverse tools (canonical text of a listing, restore an earlier state).
//
// Layout. Every decision is one verdict-map lookup keyed on (protocol, address, port range) that
// jumps to a small chain holding the rules of the forwards for that destination, written out in
// full and commented with the forward's name:
//
//   prerouting  (nat, dstnat - 10)   meta l4proto . ip daddr . th dport          vmap @dnat_dispatch
//   postrouting (nat, srcnat - 10)   ct status dnat, ct protocol . ct original ip daddr . proto-dst  vmap @snat_dispatch
//   forward     (filter, filter - 10) same key as postrouting                    vmap @accept_dispatch
//
// So the per-packet cost is one map lookup plus the rules of one destination, whatever the number
// of forwards. Why verdict maps and not `dnat ip to <concatenation> map @m` with the whole match in
// the key: nft 1.0.6 mislists (and so cannot restore) concatenations of more than 5 fields, and the
// narrow SNAT and accept keys need 6-7; interval maps also refuse overlapping keys, which a source
// prefix (hairpin LAN inside "any source") always produces. Short rule lists after a lookup have
// neither problem and keep first-match order, like iptables.
import type { Gateway } from '../topology/types.js';
import type { Intent } from '../solve/types.js';
import { COMMENT_PREFIX, Lines, MAX_COMMENT_LENGTH, RenderError, checkIntents, nftPorts, segments } from './common.js';
import type { CheckedIntent, Segment } from './common.js';

/** The table natchain owns: family ip, name natchain. */
export const NFT_TABLE = 'ip natchain';

/** Options of `renderNftables`. */
export interface NftablesOptions {
  /**
   * Also set these bits of the packet mark on accepted flows. An accept in table natchain does not
   * stop another table's forward chain from dropping the packet; with a mark the admin's policy
   * can accept natchain's flows in one rule (`meta mark & M == M accept`). See docs/architecture.md.
   */
  acceptMark?: number;
}

const HOOKS = {
  prerouting: 'type nat hook prerouting priority dstnat - 10; policy accept;',
  postrouting: 'type nat hook postrouting priority srcnat - 10; policy accept;',
  forward: 'type filter hook forward priority filter - 10; policy accept;',
} as const;

const DISPATCH_TYPE = 'inet_proto . ipv4_addr . inet_service : verdict';
const PREAMBLE = ['table ip natchain {}', 'delete table ip natchain'];
const HEADER = '# natchain: replaces table ip natchain only; load with nft -f';

/**
 * One `nft -f` file that replaces table ip natchain with the rules for `intents` (none: the table
 * with its chains and empty maps), whether or not the table exists; other tables are untouched.
 */
export function renderNftables(gateway: Gateway, intents: readonly Intent[], opts: NftablesOptions = {}): string {
  const checked = checkIntents(gateway, intents);
  const wanted = opts.acceptMark ?? gateway.acceptMark;
  const mark = wanted === undefined ? undefined : checkMark(wanted);
  const markStmt = mark === undefined ? '' : ` meta mark set meta mark | 0x${mark.toString(16).padStart(8, '0')}`;
  // DNAT and accept dispatch on the same keys (every intent); SNAT on the hairpin/hop subset.
  const all = segments(checked);
  const snatted = segments(checked.filter((i) => i.snatAddress !== undefined));
  const kinds: Kind[] = [
    { kind: 'dnat', map: 'dnat_dispatch', segs: all, rule: dnatRule },
    { kind: 'snat', map: 'snat_dispatch', segs: snatted, rule: snatRule },
    { kind: 'accept', map: 'accept_dispatch', segs: all, rule: (i) => acceptRule(i, markStmt) },
  ];
  // Texts are made as they are written, never kept for later: at scale, holding every rule or name
  // until the end costs more in garbage collection than making it twice.
  const names = new ChainNames();
  const out = new Lines();
  for (const line of [HEADER, ...PREAMBLE, 'table ip natchain {']) out.push(line);
  for (const k of kinds) {
    out.push(`\tmap ${k.map} {`);
    out.push(`\t\ttype ${DISPATCH_TYPE}`);
    out.push('\t\tflags interval');
    if (k.segs.length > 0) {
      out.push('\t\telements = {');
      const last = k.segs.length - 1;
      for (let n = 0; n <= last; n++) {
        const s = k.segs[n]!;
        out.push(`\t\t\t${s.proto} . ${s.address} . ${nftPorts(s.from, s.to)} comment "${elementComment(s)}" : jump ${names.of(k.kind, s)}${n < last ? ',' : ''}`);
      }
      out.push('\t\t}');
    }
    out.push('\t}');
    out.push('');
  }
  for (const line of [
    '\tchain prerouting {',
    `\t\t${HOOKS.prerouting}`,
    `\t\tmeta l4proto . ip daddr . th dport vmap @dnat_dispatch comment "${COMMENT_PREFIX}"`,
    '\t}',
    '',
    '\tchain postrouting {',
    `\t\t${HOOKS.postrouting}`,
    `\t\tct status dnat ct protocol { tcp, udp } ct protocol . ct original ip daddr . ct original proto-dst vmap @snat_dispatch comment "${COMMENT_PREFIX}"`,
    '\t}',
    '',
    '\tchain forward {',
    `\t\t${HOOKS.forward}`,
    `\t\tct status dnat ct protocol { tcp, udp } ct protocol . ct original ip daddr . ct original proto-dst vmap @accept_dispatch comment "${COMMENT_PREFIX}"`,
    '\t}',
  ]) {
    out.push(line);
  }
  for (const k of kinds) {
    for (const s of k.segs) {
      const covering = s.intents;
      let body: string;
      if (covering.length === 1) body = `\t\t${k.rule(covering[0]!)}`;
      else {
        const seen = new Set<string>();
        body = '';
        for (const i of covering) {
          const r = k.rule(i);
          if (seen.has(r)) continue;
          seen.add(r);
          body += body === '' ? `\t\t${r}` : `\n\t\t${r}`;
        }
      }
      // One block per chain (with the blank line before it), not one entry per line.
      out.push(`\n\tchain ${names.of(k.kind, s)} {\n${body}\n\t}`);
    }
  }
  out.push('}');
  return out.text();
}

interface Kind {
  kind: string;
  map: string;
  segs: Segment[];
  rule: (i: CheckedIntent) => string;
}

/** Names a segment's chain for one kind: `dnat_tcp_1_2_3_4_80_90`. */
class ChainNames {
  // The few addresses of a gateway, spelt with underscores once each.
  private readonly underscored = new Map<string, string>();

  of(kind: string, s: Segment): string {
    let a = this.underscored.get(s.address);
    if (a === undefined) this.underscored.set(s.address, (a = s.address.replace(/\./g, '_')));
    return s.to === s.from ? `${kind}_${s.proto}_${a}_${s.from}` : `${kind}_${s.proto}_${a}_${s.from}_${s.to}`;
  }
}

// Names every forward the element's chain serves, within nft's comment limit: as many names as
// fit, then `+N` for the rest (or just `natchain` when not even one name fits).
function elementComment(s: Segment): string {
  const covering = s.intents;
  // One forward (the usual case): its comment is `natchain:<name>`, already checked to fit.
  if (covering.length === 1 || covering.every((i) => i.forward === covering[0]!.forward)) return covering[0]!.comment;
  const names = [...new Set(covering.map((i) => i.comment.slice(COMMENT_PREFIX.length + 1)))];
  const full = `${COMMENT_PREFIX}:${names.join(',')}`;
  if (full.length <= MAX_COMMENT_LENGTH) return full;
  // `natchain:<first n names>,+<rest>` grows with n (each name adds at least a comma, the count
  // loses at most one digit), so the longest that fits is found by counting up, not by rejoining.
  const head = COMMENT_PREFIX.length + 1;
  let n = 0;
  let width = -1; // length of the first n names joined with commas (n = 0: none)
  while (n + 1 < names.length) {
    const w = width + 1 + names[n]!.length;
    if (head + w + 2 + String(names.length - (n + 1)).length > MAX_COMMENT_LENGTH) break;
    n++;
    width = w;
  }
  if (n === 0) return COMMENT_PREFIX;
  return `${COMMENT_PREFIX}:${names.slice(0, n).join(',')},+${names.length - n}`;
}

// Rules are spelt the way `nft list` prints them (`dnat to`, `ct protocol`), so rendered text and
// listing compare equal even before canonicalNftables smooths over the differences. Each is one
// template: at scale the text is built from hundreds of thousands of these.

function dnatRule(i: CheckedIntent): string {
  const to = i.dnatPort === undefined ? i.dnatAddress : `${i.dnatAddress}:${i.dnatPort}`;
  const src = i.src === undefined ? '' : ` ip saddr ${i.src.text}`;
  // `counter`: per-forward packets and bytes for `status --counters` (iptables counts every rule anyway).
  return `iifname "${i.inIface}"${src} ip daddr ${i.dstAddress} ${i.proto} dport ${nftPorts(i.from, i.to)} counter dnat to ${to} comment "${i.comment}"`;
}

function dnatPorts(i: CheckedIntent): string {
  return i.dnatPort === undefined ? nftPorts(i.from, i.to) : String(i.dnatPort);
}

function snatRule(i: CheckedIntent): string {
  // Exactly this forward's DNATed flows: post-DNAT destination plus the original one from conntrack.
  const src = i.src === undefined ? '' : ` ip saddr ${i.src.text}`;
  return (
    `oifname "${i.outIface}"${src} ip daddr ${i.dnatAddress} ${i.proto} dport ${dnatPorts(i)}` +
    ` ct original ip daddr ${i.dstAddress} ct original proto-dst ${nftPorts(i.from, i.to)}` +
    ` snat to ${i.snatAddress!} comment "${i.comment}"`
  );
}

function acceptRule(i: CheckedIntent, markStmt: string): string {
  // The conntrack entry names the flow in both directions and its RELATED ICMP errors: DNATed
  // (checked in the base chain) from this forward's destination to this forward's target.
  const src = i.src === undefined ? '' : ` ct original ip saddr ${i.src.text}`;
  return (
    `ct protocol ${i.proto}${src} ct original ip daddr ${i.dstAddress} ct original proto-dst ${nftPorts(i.from, i.to)}` +
    ` ct reply ip saddr ${i.dnatAddress} ct reply proto-src ${dnatPorts(i)}${markStmt} accept comment "${i.comment}"`
  );
}

function checkMark(mark: number): number {
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff) throw new RenderError(`acceptMark must be a 32-bit mask, not ${mark}`);
  return mark;
}

// ---- reading nft text ----------------------------------------------------------------------

interface Token {
  text: string;
  start: number;
  end: number;
}

type Item = Token | Block;
interface Block {
  open: Token;
  close: Token;
  stmts: Item[][];
}

function isBlock(i: Item | undefined): i is Block {
  return i !== undefined && 'stmts' in i;
}

// Character codes: a word ends at blanks, newlines, braces, `;`, `,`, a quote or a comment.
const isBlank = (c: number) => c === 32 || c === 9 || c === 13; // space, tab, CR
const isPunct = (c: number) => c === 10 || c === 123 || c === 125 || c === 59 || c === 44; // \n { } ; ,
const endsWord = (c: number) => isBlank(c) || isPunct(c) || c === 34 || c === 35; // " #

// By character code, not by one-character strings: a fleet's plan and status tokenize every
// gateway's listing and rendered text (issue 12: tokenizing was a third of the canonical form's time).
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const len = text.length;
  let n = 0;
  while (n < len) {
    const c = text.charCodeAt(n);
    if (isBlank(c)) n++;
    else if (c === 35) {
      const eol = text.indexOf('\n', n); // a comment runs to the end of its line
      n = eol < 0 ? len : eol;
    } else if (c === 92 && text.charCodeAt(n + 1) === 10) n += 2; // line continuation
    else if (isPunct(c)) out.push({ text: text[n]!, start: n, end: ++n });
    else if (c === 34) {
      const close = text.indexOf('"', n + 1);
      if (close < 0) throw new RenderError('nft text: unterminated string');
      out.push({ text: text.slice(n, close + 1), start: n, end: close + 1 });
      n = close + 1;
    } else {
      const start = n;
      while (n < len && !endsWord(text.charCodeAt(n))) n++;
      out.push({ text: text.slice(start, n), start, end: n });
    }
  }
  return out;
}

// Statements are separated by newlines and `;`; `{...}` nests. A `,` is kept as a token.
function parseBlock(tokens: Token[], pos: { n: number }, open: Token | undefined): Block {
  const stmts: Item[][] = [];
  let cur: Item[] = [];
  while (pos.n < tokens.length) {
    const t = tokens[pos.n++]!;
    if (t.text === '\n' || t.text === ';') {
      if (cur.length) stmts.push(cur);
      cur = [];
    } else if (t.text === '{') cur.push(parseBlock(tokens, pos, t));
    else if (t.text === '}') {
      if (!open) throw new RenderError('nft text: unbalanced "}"');
      if (cur.length) stmts.push(cur);
      return { open, close: t, stmts };
    } else cur.push(t);
  }
  if (open) throw new RenderError('nft text: unbalanced "{"');
  if (cur.length) stmts.push(cur);
  const eof = { text: '', start: 0, end: 0 };
  return { open: eof, close: eof, stmts };
}

function words(stmt: Item[]): string[] {
  return stmt.map((i) => (isBlock(i) ? '{}' : i.text));
}

interface SetDef {
  kind: string;
  props: string[];
  elements: string[];
}
interface TableDef {
  sets: Map<string, SetDef>;
  chains: Map<string, { props: string[]; rules: string[] }>;
  props: string[];
}

/** The top-level statements of an nft text that concern table ip natchain, with where the table blocks are. */
function topLevel(text: string): { table: TableDef | null; blocks: { start: number; end: number }[] } {
  const tokens = tokenize(text);
  const root = parseBlock(tokens, { n: 0 }, undefined);
  let table: TableDef | null = null;
  const blocks: { start: number; end: number }[] = [];
  for (const stmt of root.stmts) {
    const w = words(stmt);
    const s = w[0] === 'add' || w[0] === 'create' ? w.slice(1) : w;
    if (s[0] === 'table' && s[1] === 'ip' && s[2] === 'natchain' && s.length === 4 && isBlock(stmt[stmt.length - 1])) {
      const body = stmt[stmt.length - 1] as Block;
      table ??= { sets: new Map(), chains: new Map(), props: [] };
      readTable(body, table);
      if (body.stmts.length > 0) blocks.push({ start: (stmt[0] as Token).start, end: body.close.end });
    } else if (s[0] === 'table' && s[1] === 'ip' && s[2] === 'natchain' && s.length === 3) {
      table ??= { sets: new Map(), chains: new Map(), props: [] };
    } else if ((s[0] === 'delete' || s[0] === 'destroy') && s[1] === 'table' && s[2] === 'ip' && s[3] === 'natchain' && s.length === 4) {
      table = null;
      blocks.length = 0;
    } else {
      throw new RenderError(`nft text: "${w.join(' ').slice(0, 60)}" is not about table ip natchain`);
    }
  }
  return { table, blocks };
}

function readTable(body: Block, table: TableDef): void {
  for (const stmt of body.stmts) {
    const w = words(stmt);
    const last = stmt[stmt.length - 1];
    if ((w[0] === 'set' || w[0] === 'map') && w.length === 3 && isBlock(last)) {
      const def = table.sets.get(w[1]!) ?? { kind: w[0], props: [], elements: [] };
      table.sets.set(w[1]!, def);
      for (const s of last.stmts) {
        const sw = words(s);
        const sl = s[s.length - 1];
        if (sw[0] === 'elements' && isBlock(sl)) def.elements.push(...elementsOf(sl));
        else def.props.push(normaliseNftWords(sw));
      }
    } else if (w[0] === 'chain' && w.length === 3 && isBlock(last)) {
      const def = table.chains.get(w[1]!) ?? { props: [], rules: [] };
      table.chains.set(w[1]!, def);
      for (const s of last.stmts) {
        const text = normaliseNftWords(flatten(s));
        if (/^(type|policy|comment|devices?) /.test(text)) def.props.push(text);
        else def.rules.push(text);
      }
    } else table.props.push(normaliseNftWords(w));
  }
}

// A rule's words with anonymous sets written out (`{ tcp, udp }`, members sorted).
function flatten(stmt: Item[]): string[] {
  return stmt.map((i) => (isBlock(i) ? `{ ${elementsOf(i).sort().join(', ')} }` : i.text));
}

function elementsOf(b: Block): string[] {
  const all: string[] = [];
  for (const s of b.stmts) {
    all.push(...flatten(s));
    all.push(',');
  }
  const out: string[] = [];
  let cur: string[] = [];
  for (const w of all) {
    if (w === ',') {
      if (cur.length) out.push(normaliseNftWords(cur));
      cur = [];
    } else cur.push(w);
  }
  return out;
}

// Each spelling fix with the text it cannot match without: most words need none of them, and a
// fleet's plan or status normalises thousands (issue 12), so a substring test skips the regex.
const NFT_SPELLINGS: ReadonlyArray<{ needs: string | RegExp; fix: (s: string) => string }> = [
  { needs: 'counter packets ', fix: (s) => s.replace(/\bcounter packets \d+ bytes \d+/g, 'counter') }, // counts are state, not configuration
  { needs: 'nat ip to', fix: (s) => s.replace(/\b(dnat|snat) ip to\b/g, '$1 to') },
  { needs: 'ct original protocol', fix: (s) => s.replace(/\bct original protocol\b/g, 'ct protocol') },
  { needs: '/32', fix: (s) => s.replace(/\b(\d{1,3}(?:\.\d{1,3}){3})\/32\b/g, '$1') },
  { needs: /\d-\d/, fix: (s) => s.replace(/(^|[\s.:])(\d+)-(\d+)(?=$|[\s,.:])/g, (m, pre: string, a: string, b: string) => (a === b ? `${pre}${a}` : m)) },
  { needs: '0x', fix: (s) => s.replace(/\b0x0*([0-9a-fA-F]+)\b/g, (_m, h: string) => `0x${h.toLowerCase()}`) },
];

/** A statement's words as one line in canonical spelling (counts dropped, `ip to`, `/32`, `N-N` and hex spelled one way). */
export function normaliseNftWords(w: string[]): string {
  let s = w.join(' ');
  for (const { needs, fix } of NFT_SPELLINGS) if (typeof needs === 'string' ? s.includes(needs) : needs.test(s)) s = fix(s);
  return s;
}

/**
 * A canonical text of table ip natchain, from a rendered file (its preamble is applied) or from
 * `nft list table ip natchain`: maps, sets and chains sorted by name, elements sorted, rules in
 * order, spelling normalised. '' when the text leaves no table.
 */
export function canonicalNftables(text: string): string {
  const { table } = topLevel(text);
  if (!table) return '';
  const out: string[] = ['table ip natchain'];
  for (const p of table.props) out.push(`  ${p}`);
  for (const name of [...table.sets.keys()].sort()) {
    const s = table.sets.get(name)!;
    out.push(`${s.kind} ${name}`, ...s.props.map((p) => `  ${p}`), ...[...s.elements].sort().map((e) => `  element ${e}`));
  }
  for (const name of [...table.chains.keys()].sort()) {
    const c = table.chains.get(name)!;
    out.push(`chain ${name}`, ...c.props.map((p) => `  ${p}`), ...c.rules.map((r) => `  rule ${r}`));
  }
  return out.join('\n') + '\n';
}

/**
 * `nft -f` text that puts table ip natchain back as `earlier` shows it (`nft list table ip natchain`
 * output, or a file natchain rendered), or deletes the table when `earlier` is null or empty (there
 * was none). It does not depend on the current state, so a dead-man timer can hold it in advance.
 */
export function renderNftablesRestore(earlier: string | null | undefined): string {
  const head = [HEADER, ...PREAMBLE];
  if (earlier === null || earlier === undefined || earlier.trim() === '') return head.join('\n') + '\n';
  const { table, blocks } = topLevel(earlier);
  if (!table) return head.join('\n') + '\n';
  const body = blocks.map((b) => earlier.slice(b.start, b.end));
  if (body.length === 0) body.push('table ip natchain {\n}');
  return [...head, ...body].join('\n') + '\n';
}

/**
 * `nft list ruleset` output without table ip natchain: what must stay byte-identical across every
 * natchain operation (other tables, including iptables-nft's own).
 */
export function nftablesForeign(ruleset: string): string {
  const tokens = tokenize(ruleset);
  const root = parseBlock(tokens, { n: 0 }, undefined);
  let out = '';
  let at = 0;
  for (const stmt of root.stmts) {
    const w = words(stmt);
    const last = stmt[stmt.length - 1];
    if (w[0] === 'table' && w[1] === 'ip' && w[2] === 'natchain' && isBlock(last)) {
      const start = (stmt[0] as Token).start;
      out += ruleset.slice(at, start);
      at = last.close.end;
      if (ruleset[at] === '\n') at++;
    }
  }
  return out + ruleset.slice(at);
}
