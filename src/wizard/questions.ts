// The questions of a forward, each answer checked as it is typed with the rules `validate` uses:
// first the answer alone (author/fields.ts), then the whole forward as it stands, compiled
// (author/author.ts), so a clash or an unreachable target shows under the prompt that causes it.
import { author, AuthorError, checkAllow, checkFrom, checkName, checkSource, checkTo, siteOfHost, type Base, type Compiled, type ForwardSpec, type Lookups, type SpecField } from '../author/index.js';
import { formatCidr } from '../topology/types.js';
import { ask, type Choice, type Verdict } from './prompts.js';

/** What the questions need: the topology as read, solved, and its lookups. */
export interface Context {
  base: Base;
  before: Compiled;
  l: Lookups;
  /** Whether compiling the whole topology is quick enough to do on every keystroke (else: at the review). */
  liveCompile: boolean;
}

/** The answers so far (a spec in the making). */
export type Answers = Partial<ForwardSpec> & { from?: string[] };

const SUBNET = '\0subnet';
const PLACEHOLDER = 'wizard-new-forward';

/** The problems the whole forward would have with these answers (empty when it compiles). */
export function problemsOf(ctx: Context, a: Answers, editing?: string): { field: SpecField | null; message: string }[] {
  const s = spec(a, editing ?? PLACEHOLDER);
  try {
    author(ctx.base, editing ? { kind: 'edit', name: editing, forward: s } : { kind: 'add', forwards: [s] }, ctx.before);
    return [];
  } catch (e) {
    if (e instanceof AuthorError) return e.problems;
    return [{ field: null, message: (e as Error).message }];
  }
}

/** A verdict from the field's own check, then from compiling the forward with the answer in it. */
function verdictOf(ctx: Context, own: string | null, a: Answers, field: SpecField, editing: string | undefined, hint?: string): Verdict {
  if (own) return { error: own };
  if (!ctx.liveCompile) return hint ? { hint } : {};
  const p = problemsOf(ctx, a, editing).find((x) => x.field === field || x.field === null);
  return p ? { error: p.message } : hint ? { hint } : {};
}

/** Who connects: sites (with subnets and gateway), networks, or subnets typed in. */
export async function askFrom(ctx: Context, current: string[] = []): Promise<string[]> {
  const t = ctx.before.topology;
  const choices: Choice<string>[] = [
    ...t.sites.map((s) => ({ name: `${s.name}  ${s.subnets.map(formatCidr).join(', ')}${s.gateway ? ` (gateway ${s.gateway})` : ''}`, value: s.name, short: s.name, checked: current.includes(s.name) })),
    ...t.networks.map((n) => ({ name: `${n.name}  ${n.public ? 'public network: its clients dial an exposed address' : `network${n.subnet ? ' ' + formatCidr(n.subnet) : ''}`}`, value: n.name, short: n.name, checked: current.includes(n.name) })),
  ];
  const typed = current.filter((x) => !choices.some((c) => c.value === x));
  choices.push({ name: 'a subnet inside a site (you type it)', value: SUBNET, short: 'subnets', checked: typed.length > 0 });
  const picked = await ask.checkbox('Who connects? (space selects, enter confirms)', choices);
  const from = picked.filter((x) => x !== SUBNET);
  if (!picked.includes(SUBNET)) return from;
  const cidrs = await ask.text(
    'Subnets (CIDR, space-separated):',
    (v) => {
      const list = v.split(/[\s,]+/).filter(Boolean);
      for (const c of list) {
        const bad = checkSource(ctx.l, c);
        if (bad) return { error: bad };
      }
      const dup = checkFrom(ctx.l, [...from, ...list]);
      return dup ? { error: dup } : { hint: list.map((c) => `${c} in site ${siteOfHost(ctx.l, c.split('/')[0]!)}`).join(', ') };
    },
    typed.join(' ') || undefined,
  );
  return [...from, ...cidrs.split(/[\s,]+/).filter(Boolean)];
}

/** The allow-list of the network sources: which client prefixes may use the forward from there (empty: any). */
export async function askAllow(ctx: Context, a: Answers): Promise<ForwardSpec['allow']> {
  const nets = (a.from ?? []).filter((f) => ctx.before.topology.networks.some((n) => n.name === f));
  const current = a.allow?.find((x) => nets.includes(x.network))?.prefixes.join(' ');
  const text = await ask.text(
    `Only these clients on ${nets.join(', ')} (addresses or prefixes, space-separated):`,
    (v) => {
      const list = v.split(/[\s,]+/).filter(Boolean);
      const bad = checkAllow(ctx.l, { from: a.from ?? [], allow: nets.map((network) => ({ network, prefixes: list })) });
      return bad ? { error: bad } : { hint: `only ${list.join(', ')} may connect` };
    },
    current,
    'empty: any client may connect',
  );
  const prefixes = text.split(/[\s,]+/).filter(Boolean);
  return prefixes.length ? nets.map((network) => ({ network, prefixes })) : undefined;
}

/** To what: host:port or host:from-to, said to be in its site as it is typed. */
export async function askTo(ctx: Context, a: Answers, editing?: string): Promise<string> {
  return ask.text(
    'Target host:port (or host:from-to):',
    (v) => {
      const host = v.split(':')[0]!;
      const site = siteOfHost(ctx.l, host);
      const gw = ctx.before.topology.sites.find((s) => s.name === site)?.gateway;
      return verdictOf(ctx, checkTo(ctx.l, v), { ...a, to: v }, 'to', editing, site ? `${host} is in site ${site}${gw ? ` (gateway ${gw})` : ''}` : undefined);
    },
    a.to,
  );
}

/** tcp, udp or both. */
export async function askProto(a: Answers): Promise<ForwardSpec['proto']> {
  const choices = (['tcp', 'udp', 'both'] as const).map((p) => ({ name: p === 'both' ? 'both (one port for tcp and udp)' : p, value: p, short: p }));
  return ask.select('Protocol:', choices, a.proto ?? 'tcp');
}

/** Where the chain for a network source enters, as natchain would pick it (no `expose`). */
function suggestedExpose(ctx: Context, a: Answers, editing?: string): string | undefined {
  const probe = { ...a, expose: undefined };
  let dial: { address: string; ports: { from: number; to: number } } | undefined;
  try {
    const r = author(ctx.base, editing ? { kind: 'edit', name: editing, forward: spec(probe, editing) } : { kind: 'add', forwards: [spec(probe, PLACEHOLDER)] }, ctx.before);
    dial = r.after.solution.chains.find((c) => c.forward === (editing ? probe.name ?? editing : PLACEHOLDER) && c.source.kind === 'network')?.dial;
  } catch {
    return undefined;
  }
  if (!dial) return undefined;
  const to = a.to!.split(':')[1]!;
  const same = `${dial.address}:${to}`;
  if (!problemsOf(ctx, { ...a, expose: same }, editing).length) return same;
  return `${dial.address}:${dial.ports.from === dial.ports.to ? dial.ports.from : `${dial.ports.from}-${dial.ports.to}`}`;
}

function spec(a: Answers, name: string): ForwardSpec {
  return { name: a.name ?? name, from: a.from ?? [], ...(a.allow ? { allow: a.allow } : {}), to: a.to ?? '', proto: a.proto ?? 'tcp', ...(a.expose ? { expose: a.expose } : {}), ...(a.hairpin ? { hairpin: true } : {}) };
}

/** The public address:port network clients dial, offering the gateway addresses on those networks and a free port. */
export async function askExpose(ctx: Context, a: Answers, editing?: string): Promise<string> {
  const t = ctx.before.topology;
  const nets = new Set((a.from ?? []).filter((f) => t.networks.some((n) => n.name === f)));
  const offers = t.gateways.flatMap((g) => g.interfaces.filter((i) => i.attach.kind === 'network' && nets.has(i.attach.name)).map((i) => `${i.address} (${g.name})`));
  const hint = `addresses there: ${offers.join(', ')}`;
  return ask.text(
    'Address:port clients dial (exposed):',
    (v) => verdictOf(ctx, null, { ...a, expose: v }, 'expose', editing, hint),
    a.expose ?? suggestedExpose(ctx, a, editing),
  );
}

const SERVICES: Record<number, string> = { 21: 'ftp', 22: 'ssh', 25: 'smtp', 53: 'dns', 80: 'web', 110: 'pop3', 143: 'imap', 443: 'https', 3306: 'mysql', 3389: 'rdp', 5432: 'postgres', 5900: 'vnc', 6379: 'redis', 8080: 'http', 8443: 'https' };

/** A name from the service and the host: `ssh-12` for 10.0.0.12:22 (unique: `ssh-12-2`...). */
export function suggestName(l: Lookups, to: string, editing?: string): string {
  const [host, ports] = to.split(':') as [string, string];
  const port = Number(ports.split('-')[0]);
  const base = `${SERVICES[port] ?? `port${port}`}-${host.split('.').pop()}`;
  let name = base;
  for (let n = 2; l.forwards.has(name) && name !== editing; n++) name = `${base}-${n}`;
  return name;
}

/** The forward's name: suggested, unique, checked as typed. */
export async function askName(ctx: Context, a: Answers, editing?: string): Promise<string> {
  return ask.text('Name of the forward:', (v) => (checkName(ctx.l, v, editing) ? { error: checkName(ctx.l, v, editing)! } : {}), a.name ?? suggestName(ctx.l, a.to!, editing));
}

/** Whether hairpin can apply: the exposed address is on a gateway of the target's site. */
export function hairpinPossible(ctx: Context, a: Answers): boolean {
  if (!a.expose || !a.to) return false;
  const t = ctx.before.topology;
  const site = siteOfHost(ctx.l, a.to.split(':')[0]!);
  const g = t.gateways.find((x) => x.interfaces.some((i) => i.address === a.expose!.split(':')[0]));
  return Boolean(site && g?.interfaces.some((i) => i.attach.kind === 'site' && i.attach.name === site));
}

/** Hairpin for clients in the target's own site (default: off, or the forward's current value). */
export async function askHairpin(ctx: Context, a: Answers): Promise<boolean> {
  const site = siteOfHost(ctx.l, a.to!.split(':')[0]!);
  return ask.confirm(`Let clients in ${site} (the target's own site) use ${a.expose} too (hairpin)?`, a.hairpin ?? false);
}

/** Whether the answers have a network source (which needs an exposure). */
export function hasNetworkSource(ctx: Context, a: Answers): boolean {
  return (a.from ?? []).some((f) => ctx.before.topology.networks.some((n) => n.name === f));
}

/** Asks every question in order (the answers given so far are the defaults). */
export async function askAll(ctx: Context, a: Answers = {}, editing?: string): Promise<ForwardSpec> {
  const out: Answers = { ...a };
  out.from = await askFrom(ctx, out.from);
  if (hasNetworkSource(ctx, out)) out.allow = await askAllow(ctx, out);
  else delete out.allow;
  out.to = await askTo(ctx, out, editing);
  out.proto = await askProto(out);
  if (hasNetworkSource(ctx, out)) out.expose = await askExpose(ctx, out, editing);
  else delete out.expose;
  out.name = await askName(ctx, out, editing);
  out.hairpin = hairpinPossible(ctx, out) ? await askHairpin(ctx, out) : false;
  return spec(out, out.name);
}
