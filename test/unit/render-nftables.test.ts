import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { RenderError, canonicalNftables, nftablesForeign, renderNftables, renderNftablesRestore, renderRuleset } from '../../src/render/index.js';
import { normaliseNftWords } from '../../src/render/nftables.js';
import { expectGolden } from '../golden/golden.js';
import { gateway, intent, many, mixed, overlap, seed000, seed001a, seed001b } from '../golden/fixtures.js';

const captured = (name: string) => readFileSync(new URL(`../golden/captured/${name}`, import.meta.url), 'utf8');
const lines = (text: string) => text.split('\n').map((l) => l.trim());

/** The rules of one chain of a rendered file (between `chain NAME {` and its `}`). */
function chainRules(text: string, name: string): string[] {
  const all = text.split('\n');
  const start = all.findIndex((l) => l.trim() === `chain ${name} {`);
  if (start < 0) return [];
  const out: string[] = [];
  for (let n = start + 1; all[n]!.trim() !== '}'; n++) out.push(all[n]!.trim());
  return out.filter((l) => !l.startsWith('type '));
}

describe('render/nftables', () => {
  describe('golden files', () => {
    const cases = { 'seed000-gw': seed000, 'seed001-gw-a': seed001a, 'seed001-gw-b': seed001b, mixed } as const;
    for (const [name, make] of Object.entries(cases)) {
      it(`renders ${name} as in test/golden/nftables/${name}.nft`, () => {
        const { gw, intents } = make('nftables');
        expectGolden(`nftables/${name}.nft`, renderNftables(gw, intents));
      });
    }
    it('renders an empty intent list (table present, maps empty)', () => {
      expectGolden('nftables/empty.nft', renderNftables(seed000('nftables').gw, []));
    });
    it('renders the accept mark variant', () => {
      const { gw, intents } = seed000('nftables');
      expectGolden('nftables/seed000-gw.mark.nft', renderNftables(gw, intents, { acceptMark: 0x800000 }));
    });
    it('renders overlapping port ranges as disjoint map segments', () => {
      expectGolden('nftables/overlap.nft', renderNftables(overlap('nftables').gw, overlap('nftables').intents));
    });
  });

  describe('replacing the table atomically', () => {
    const { gw, intents } = seed000('nftables');
    const text = renderNftables(gw, intents);
    it('creates, deletes, then declares table ip natchain, so it works whether or not the table exists', () => {
      const code = lines(text).filter((l) => l && !l.startsWith('#'));
      expect(code.slice(0, 3)).to.deep.equal(['table ip natchain {}', 'delete table ip natchain', 'table ip natchain {']);
      expect(text.match(/^table /gm)).to.have.length(2);
      expect(text).not.to.match(/^(flush|delete) (ruleset|table (?!ip natchain))/m);
    });
    it('hooks prerouting, postrouting and forward with one dispatch rule each', () => {
      expect(chainRules(text, 'prerouting')).to.deep.equal(['meta l4proto . ip daddr . th dport vmap @dnat_dispatch comment "natchain"']);
      expect(chainRules(text, 'postrouting')).to.deep.equal([
        'ct status dnat ct protocol { tcp, udp } ct protocol . ct original ip daddr . ct original proto-dst vmap @snat_dispatch comment "natchain"',
      ]);
      expect(chainRules(text, 'forward')).to.deep.equal([
        'ct status dnat ct protocol { tcp, udp } ct protocol . ct original ip daddr . ct original proto-dst vmap @accept_dispatch comment "natchain"',
      ]);
      expect(text).to.include('type nat hook prerouting priority dstnat - 10; policy accept;');
      expect(text).to.include('type nat hook postrouting priority srcnat - 10; policy accept;');
      expect(text).to.include('type filter hook forward priority filter - 10; policy accept;');
    });
  });

  describe('seed 000 (gw, forward web)', () => {
    const { gw, intents } = seed000('nftables');
    const text = renderNftables(gw, intents);
    it('DNATs 1.2.3.4:81 from eth0, and from the LAN on eth1 (hairpin)', () => {
      expect(lines(text)).to.include('tcp . 1.2.3.4 . 81 comment "natchain:web" : jump dnat_tcp_1_2_3_4_81');
      expect(chainRules(text, 'dnat_tcp_1_2_3_4_81')).to.deep.equal([
        'iifname "eth0" ip daddr 1.2.3.4 tcp dport 81 counter dnat to 192.168.0.2:8180 comment "natchain:web"',
        'iifname "eth1" ip saddr 192.168.0.0/24 ip daddr 1.2.3.4 tcp dport 81 counter dnat to 192.168.0.2:8180 comment "natchain:web"',
      ]);
    });
    it('SNATs only the hairpin flows', () => {
      expect(chainRules(text, 'snat_tcp_1_2_3_4_81')).to.deep.equal([
        'oifname "eth1" ip saddr 192.168.0.0/24 ip daddr 192.168.0.2 tcp dport 8180 ct original ip daddr 1.2.3.4 ct original proto-dst 81 snat to 192.168.0.1 comment "natchain:web"',
      ]);
    });
    it('accepts the DNATed flows in forward, by conntrack tuple', () => {
      expect(chainRules(text, 'accept_tcp_1_2_3_4_81')).to.deep.equal([
        'ct protocol tcp ct original ip daddr 1.2.3.4 ct original proto-dst 81 ct reply ip saddr 192.168.0.2 ct reply proto-src 8180 accept comment "natchain:web"',
        'ct protocol tcp ct original ip saddr 192.168.0.0/24 ct original ip daddr 1.2.3.4 ct original proto-dst 81 ct reply ip saddr 192.168.0.2 ct reply proto-src 8180 accept comment "natchain:web"',
      ]);
    });
  });

  describe('seed 001', () => {
    it('gw-b: DNAT to A\'s public port, narrow SNAT to B\'s public address', () => {
      const { gw, intents } = seed001b('nftables');
      const text = renderNftables(gw, intents);
      expect(chainRules(text, 'dnat_tcp_10_0_0_12_22')).to.deep.equal(['iifname "eth1" ip daddr 10.0.0.12 tcp dport 22 counter dnat to 143.89.197.180:22012 comment "natchain:ssh"']);
      expect(chainRules(text, 'snat_tcp_10_0_0_12_22')).to.deep.equal([
        'oifname "eth0" ip daddr 143.89.197.180 tcp dport 22012 ct original ip daddr 10.0.0.12 ct original proto-dst 22 snat to 143.89.135.171 comment "natchain:ssh"',
      ]);
    });
    it('gw-a: DNAT its public port 22012 to the server; no SNAT', () => {
      const { gw, intents } = seed001a('nftables');
      const text = renderNftables(gw, intents);
      expect(chainRules(text, 'dnat_tcp_143_89_197_180_22012')).to.deep.equal([
        'iifname "eth0" ip daddr 143.89.197.180 tcp dport 22012 counter dnat to 10.0.0.12:22 comment "natchain:ssh"',
      ]);
      expect(text).not.to.match(/^\s*chain snat_/m);
    });
  });

  describe('protocols, ranges, sources', () => {
    const { gw, intents } = mixed('nftables');
    const text = renderNftables(gw, intents);
    it('keys udp and tcp apart', () => {
      expect(chainRules(text, 'dnat_udp_203_0_113_1_53')).to.deep.equal(['iifname "wan0" ip daddr 203.0.113.1 udp dport 53 counter dnat to 10.10.0.53:5353 comment "natchain:dns"']);
      expect(chainRules(text, 'accept_udp_203_0_113_1_53')[0]).to.match(/^ct protocol udp /);
    });
    it('forwards a range unchanged (address-only DNAT) under an interval key', () => {
      expect(lines(text)).to.include('udp . 203.0.113.1 . 10000-10099 comment "natchain:rtp" : jump dnat_udp_203_0_113_1_10000_10099');
      expect(chainRules(text, 'dnat_udp_203_0_113_1_10000_10099')).to.deep.equal([
        'iifname "wan0" ip daddr 203.0.113.1 udp dport 10000-10099 counter dnat to 10.10.0.7 comment "natchain:rtp"',
      ]);
    });
    it('restricts by source', () => {
      expect(chainRules(text, 'dnat_tcp_203_0_113_1_2222')[0]).to.include('ip saddr 198.51.100.0/24');
      expect(chainRules(text, 'accept_tcp_203_0_113_1_2222')[0]).to.include('ct original ip saddr 198.51.100.0/24');
    });
    it('cuts overlapping ranges into disjoint segments, each with every intent covering it', () => {
      const t = renderNftables(overlap('nftables').gw, overlap('nftables').intents);
      const elements = lines(t).filter((l) => l.startsWith('tcp . 1.2.3.4') && l.includes('jump dnat_'));
      expect(elements.map((e) => e.split(' comment')[0])).to.deep.equal(['tcp . 1.2.3.4 . 8000-8004', 'tcp . 1.2.3.4 . 8005', 'tcp . 1.2.3.4 . 8006-8010']);
      expect(chainRules(t, 'dnat_tcp_1_2_3_4_8005')).to.have.length(2);
      expect(lines(t)).to.include('tcp . 1.2.3.4 . 8005 comment "natchain:range,single" : jump dnat_tcp_1_2_3_4_8005,');
    });
    it('refuses conflicting DNATs for the same packets', () => {
      const gw2 = gateway('gw', 'nftables', { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
      expect(() =>
        renderNftables(gw2, [intent('a', 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth1', '10.0.0.2:80'), intent('b', 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth1', '10.0.0.3:80')]),
      ).to.throw(RenderError);
    });
  });

  describe('empty', () => {
    it('leaves the table present with its hooks and empty maps', () => {
      const text = renderNftables(seed000('nftables').gw, []);
      expect(text).not.to.include('elements');
      for (const c of ['prerouting', 'postrouting', 'forward']) expect(chainRules(text, c)).to.have.length(1);
      expect(canonicalNftables(text)).to.include('map dnat_dispatch');
    });
  });

  describe('comments', () => {
    it('escapes forward names so they can never close the quotes', () => {
      const gw = gateway('gw', 'nftables', { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
      const text = renderNftables(gw, [intent('a"b }\n', 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth1', '10.0.0.2:80')]);
      expect(text).to.include('comment "natchain:a%22b%20%7D%0A"');
      for (const l of text.split('\n')) expect((l.match(/"/g) ?? []).length % 2, l).to.equal(0);
    });
    it('shortens an element comment that would name too many forwards', () => {
      const gw = gateway('gw', 'nftables', { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
      const ins = [...Array(12).keys()].map((k) => intent(`forward-with-a-long-name-${k}`, 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth1', '10.0.0.2:80', { src: `10.${k}.0.0/16` }));
      const text = renderNftables(gw, ins);
      const c = /tcp \. 1\.2\.3\.4 \. 80 comment "([^"]*)"/.exec(text)![1]!;
      expect(c.length).to.be.at.most(128);
      expect(c).to.match(/^natchain:forward-with-a-long-name-0,.*,\+\d+$/);
    });
  });

  describe('order', () => {
    it('is deterministic whatever the order of the intents', () => {
      const { gw, intents } = mixed('nftables');
      expect(renderNftables(gw, [...intents].reverse())).to.equal(renderNftables(gw, intents));
    });
  });

  describe('canonical text', () => {
    const { gw, intents } = seed000('nftables');
    const rendered = renderNftables(gw, intents);
    const listing = captured('seed000-gw.nft-ruleset');
    it('is the same for the rendered file and for the kernel\'s listing of it', () => {
      // The captured listing is `nft list ruleset`: take our table out of it first.
      const ours = listing.slice(listing.indexOf('table ip natchain {'));
      expect(canonicalNftables(ours)).to.equal(canonicalNftables(rendered));
    });
    it('differs when a rule differs', () => {
      expect(canonicalNftables(rendered.replace('8180 comment', '8181 comment'))).not.to.equal(canonicalNftables(rendered));
    });
    it('smooths over nft\'s respellings and element order', () => {
      const a = 'table ip natchain {\n set s {\n type ipv4_addr\n flags interval\n elements = { 10.0.0.1/32, 10.0.0.2 }\n }\n chain c {\n dnat ip to 1.2.3.4 ; ct original protocol tcp\n }\n}\n';
      const b = 'table ip natchain {\n chain c {\n  dnat to 1.2.3.4\n  ct protocol tcp\n }\n set s { type ipv4_addr; flags interval; elements = { 10.0.0.2,\n 10.0.0.1 } }\n}\n';
      expect(canonicalNftables(a)).to.equal(canonicalNftables(b));
    });
    it('ignores what the DNAT counters have counted (state, not configuration)', () => {
      const rendered = 'table ip natchain {\n chain c {\n  tcp dport 81 counter dnat to 1.2.3.4\n }\n}\n';
      const listed = 'table ip natchain {\n chain c {\n  tcp dport 81 counter packets 17 bytes 1020 dnat to 1.2.3.4\n }\n}\n';
      expect(canonicalNftables(listed)).to.equal(canonicalNftables(rendered));
      expect(canonicalNftables(listed)).not.to.equal(canonicalNftables(rendered.replace('counter ', '')));
    });
    it('spells words exactly as the six rewrites applied in turn would (each skipped when its text is absent)', () => {
      const reference = (w: string[]) =>
        w
          .join(' ')
          .replace(/\bcounter packets \d+ bytes \d+/g, 'counter')
          .replace(/\b(dnat|snat) ip to\b/g, '$1 to')
          .replace(/\bct original protocol\b/g, 'ct protocol')
          .replace(/\b(\d{1,3}(?:\.\d{1,3}){3})\/32\b/g, '$1')
          .replace(/(^|[\s.:])(\d+)-(\d+)(?=$|[\s,.:])/g, (m, pre: string, a: string, b: string) => (a === b ? `${pre}${a}` : m))
          .replace(/\b0x0*([0-9a-fA-F]+)\b/g, (_m, h: string) => `0x${h.toLowerCase()}`);
      const corpus = [
        ...readdirSync(new URL('../golden/nftables/', import.meta.url)).flatMap((f) => readFileSync(new URL(`../golden/nftables/${f}`, import.meta.url), 'utf8').split('\n')),
        ...captured('seed000-gw.nft-ruleset').split('\n'),
        'tcp dport 81 counter packets 17 bytes 1020 dnat ip to 1.2.3.4:80-80',
        'ct original protocol tcp ct original ip daddr 10.0.0.1/32 ct original proto-dst 8000-8000 snat ip to 10.9.9.9',
        'meta mark set mark or 0x000000FF ip saddr 10.0.0.0/32 tcp dport { 22-22, 80-90, 0x0 }',
        'udp dport 5-5,6-7 counter packets 0 bytes 0 counter packets 1 bytes 2 accept',
        'priority dstnat - 10 ; proto-dst 1-1 a-1 1-b 9.9.9.9/320 0x 0x0 0X1F',
      ];
      for (const line of corpus) {
        const w = line.trim().split(/\s+/);
        expect(normaliseNftWords(w), line).to.equal(reference(w));
      }
    });
    it('is empty for no table (a restore-to-nothing file, or an empty listing)', () => {
      expect(canonicalNftables('')).to.equal('');
      expect(canonicalNftables(renderNftablesRestore(null))).to.equal('');
    });
    it('refuses text about other tables', () => {
      expect(() => canonicalNftables('table inet filter {\n}\n')).to.throw(RenderError);
      expect(() => canonicalNftables('flush ruleset\n')).to.throw(RenderError);
    });
  });

  describe('restoring an earlier state', () => {
    it('deletes the table when there was none', () => {
      const text = renderNftablesRestore(null);
      expect(lines(text).filter((l) => l && !l.startsWith('#'))).to.deep.equal(['table ip natchain {}', 'delete table ip natchain']);
      expect(renderNftablesRestore('')).to.equal(text);
    });
    it('replaces the table with the earlier listing, verbatim', () => {
      const listing = captured('seed000-gw.nft-ruleset');
      const ours = listing.slice(listing.indexOf('table ip natchain {'));
      const text = renderNftablesRestore(ours);
      expect(text).to.equal(['# natchain: replaces table ip natchain only; load with nft -f', 'table ip natchain {}', 'delete table ip natchain', ours.trimEnd(), ''].join('\n'));
      expect(canonicalNftables(text)).to.equal(canonicalNftables(ours));
    });
    it('accepts a file natchain rendered as the earlier state', () => {
      const { gw, intents } = seed001a('nftables');
      const rendered = renderNftables(gw, intents);
      expect(canonicalNftables(renderNftablesRestore(rendered))).to.equal(canonicalNftables(rendered));
    });
    it('never restores another table', () => {
      expect(() => renderNftablesRestore(captured('seed000-gw.nft-ruleset'))).to.throw(RenderError);
    });
  });

  describe('foreign tables', () => {
    it('takes only table ip natchain out of a ruleset listing', () => {
      const listing = captured('seed000-gw.nft-ruleset');
      const foreign = nftablesForeign(listing);
      expect(foreign).to.equal(listing.slice(0, listing.indexOf('table ip natchain {')));
      expect(foreign).to.include('table inet admin {');
      expect(foreign).to.include('comment "admin # not a comment"');
    });
  });

  describe('many forwards', () => {
    it('keeps one rule per hook and one map element per destination for 500 forwards, quickly', () => {
      const { gw, intents } = many('nftables', 500);
      renderNftables(gw, intents);
      const t = process.hrtime.bigint();
      const text = renderNftables(gw, intents);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      expect(ms, `took ${ms} ms`).to.be.below(400);
      for (const c of ['prerouting', 'postrouting', 'forward']) expect(chainRules(text, c)).to.have.length(1);
      expect(lines(text).filter((l) => l.includes(': jump dnat_'))).to.have.length(500);
      // No chain holds more than the two intents (public + hairpin) of its destination.
      const sizes = text.split(/\n\tchain /).slice(1).map((c) => c.split('\n').filter((l) => l.startsWith('\t\t') && !l.includes('hook')).length);
      expect(Math.max(...sizes)).to.equal(2);
    });
    it('dispatches through renderRuleset with the mark option', () => {
      const { gw, intents } = seed000('nftables');
      expect(renderRuleset(gw, intents, { acceptMark: 0x10 })).to.include('meta mark set meta mark | 0x00000010 accept');
    });
  });
});

