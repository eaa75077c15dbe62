import type { Pos } from '../errors.js';
import type { Attachment, Topology } from '../topology/types.js';
import { describeSource, formatCidr, formatPorts } from '../topology/types.js';
import type { EntityKind, FieldChange, ModelChange } from './types.js';

/** An entity reduced to named, formatted fields: what "changed" means is "a field's text differs". */
interface Flat {
  kind: EntityKind;
  name: string;
  pos: Pos;
  fields: Record<string, string | null>;
}

const KIND_ORDER: EntityKind[] = ['site', 'subnet', 'network', 'gateway', 'interface', 'forward', 'lab-host'];

const attachText = (a: Attachment) => `${a.kind} ${a.name}`;
// Sets in the file (sources, protocols, subnets) are compared sorted: their order means nothing.
const setText = (xs: string[]) => [...xs].sort().join(', ');

/** Every entity of a topology, flattened. Positions are kept for messages but never compared. */
function flatten(t: Topology): Flat[] {
  const out: Flat[] = [];
  for (const s of t.sites) {
    out.push({ kind: 'site', name: s.name, pos: s.pos, fields: { gateway: s.gateway ?? null } });
    for (const c of s.subnets) out.push({ kind: 'subnet', name: formatCidr(c), pos: s.pos, fields: { site: s.name } });
  }
  for (const n of t.networks) {
    const routes = n.routes.length ? setText(n.routes.map(formatCidr)) : null;
    out.push({ kind: 'network', name: n.name, pos: n.pos, fields: { public: String(n.public), subnet: n.subnet ? formatCidr(n.subnet) : null, routes } });
  }
  for (const g of t.gateways) {
    out.push({
      kind: 'gateway',
      name: g.name,
      pos: g.pos,
      fields: {
        backend: g.backend,
        hopPorts: formatPorts(g.hopPorts),
        'ssh.host': g.ssh.host,
        'ssh.port': g.ssh.port === undefined ? null : String(g.ssh.port),
        'ssh.user': g.ssh.user ?? null,
        'ssh.jump': g.ssh.jump ?? null,
      },
    });
    for (const i of g.interfaces) {
      out.push({ kind: 'interface', name: `${g.name}/${i.name}`, pos: i.pos, fields: { address: `${i.address}/${i.prefix}`, attach: attachText(i.attach) } });
    }
  }
  for (const f of t.forwards) {
    out.push({
      kind: 'forward',
      name: f.name,
      pos: f.pos,
      fields: {
        from: setText(f.from.map(describeSource)),
        to: `${f.to.address}:${formatPorts(f.to.ports)}`,
        proto: setText(f.protos),
        expose: f.expose ? (f.expose.ports ? `${f.expose.address}:${formatPorts(f.expose.ports)}` : f.expose.address) : null,
        hairpin: String(f.hairpin),
        ports: Object.keys(f.pins).length ? setText(Object.entries(f.pins).map(([gw, p]) => `${gw}=${p}`)) : null,
        // Order matters in via; snat shown when it is not the default.
        via: f.via.length ? f.via.join(', ') : null,
        snat: f.snat === 'auto' ? null : f.snat,
      },
    });
  }
  for (const h of t.labHosts) {
    out.push({ kind: 'lab-host', name: h.name, pos: h.pos, fields: { address: `${h.address}/${h.prefix}`, attach: attachText(h.attach) } });
  }
  return out;
}

const at = (p: Pos) => `${p.file}:${p.line}:${p.col}`;

/**
 * The entities added, removed or changed between two topologies, with the fields that differ.
 * Compares meaning, not text: key order, comments and list order inside a field are not changes.
 */
export function diffModel(oldT: Topology, newT: Topology): ModelChange[] {
  const key = (e: Flat) => `${e.kind}\0${e.name}`;
  const olds = new Map(flatten(oldT).map((e) => [key(e), e]));
  const news = new Map(flatten(newT).map((e) => [key(e), e]));
  const out: ModelChange[] = [];
  for (const [k, o] of olds) {
    const n = news.get(k);
    if (!n) {
      out.push({ kind: o.kind, name: o.name, change: 'removed', at: at(o.pos), fields: present(o.fields, 'old') });
      continue;
    }
    const fields: FieldChange[] = [];
    for (const f of Object.keys({ ...o.fields, ...n.fields })) {
      const a = o.fields[f] ?? null;
      const b = n.fields[f] ?? null;
      if (a !== b) fields.push({ field: f, old: a, new: b });
    }
    if (fields.length) out.push({ kind: o.kind, name: o.name, change: 'changed', at: at(n.pos), fields });
  }
  for (const [k, n] of news) {
    if (!olds.has(k)) out.push({ kind: n.kind, name: n.name, change: 'added', at: at(n.pos), fields: present(n.fields, 'new') });
  }
  return out.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || cmp(a.name, b.name));
}

/** The fields an added (or removed) entity has, each from (or to) nothing. */
function present(fields: Record<string, string | null>, side: 'old' | 'new'): FieldChange[] {
  return Object.entries(fields)
    .filter(([, v]) => v !== null)
    .map(([field, v]) => (side === 'new' ? { field, old: null, new: v } : { field, old: v, new: null }));
}

/** Plain code-unit order, so output never depends on the locale. */
export const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
