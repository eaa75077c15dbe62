// The renderers against the real kernel: iptables 1.8.9 (nf_tables) and nft 1.0.6, each test in
// a network namespace it creates and deletes. No packet is sent anywhere: these tests only load
// rulesets and read them back.
import { expect } from 'chai';
import {
  canonicalIptables,
  canonicalNftables,
  emptyIptablesState,
  iptablesDesiredState,
  iptablesForeign,
  jumpSpec,
  nftablesForeign,
  normaliseIptablesRule,
  parseIptablesSave,
  renderIptables,
  renderIptablesRestore,
  renderNftables,
  renderNftablesRestore,
} from '../../src/render/index.js';
import type { IptablesState } from '../../src/render/index.js';
import { many, mixed, overlap, seed000, seed001a, seed001b } from '../golden/fixtures.js';
import { Netns, hasCommand, isRoot } from '../support/netns.js';

// Rules natchain must never disturb: a custom chain, MASQUERADE, a Docker-like DNAT chain with its
// PREROUTING jump, a DROP forward policy, and nft tables of other names.
const FOREIGN_IPTABLES = `*filter
:FORWARD DROP [0:0]
:ADMIN-IN - [0:0]
:DOCKER-USER - [0:0]
-A INPUT -j ADMIN-IN
-A ADMIN-IN -p tcp -m tcp --dport 22 -m comment --comment "admin: ssh" -j ACCEPT
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-USER -j RETURN
COMMIT
*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -o eth0 -j MASQUERADE
-A DOCKER -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
`;
const FOREIGN_NFT = `table inet admin {
	set trusted { type ipv4_addr; flags interval; elements = { 192.0.2.0/24 } }
	chain fw_policy {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ip saddr @trusted accept comment "admin"
	}
}
table ip other {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 9999 dnat to 10.9.9.9
	}
}
`;

const stripComments = (save: string) => save.replace(/^#.*\n/gm, '');

describe('render: loading into a real kernel', function () {
  this.timeout(120_000);
  let ns: Netns | undefined;

  before(async function () {
    const missing = ['ip', 'iptables-restore', 'iptables-save', 'nft'].filter((c) => !hasCommand(c));
    if (!isRoot() || missing.length > 0) {
      console.log(`      (skipped: kernel tests need root and ${['ip', 'iptables-restore', 'iptables-save', 'nft'].join(', ')}; ${isRoot() ? `missing ${missing.join(', ')}` : 'not root'})`);
      this.skip();
    }
  });

  // One fresh namespace per test, with the foreign rules loaded: tests do not share netfilter state.
  beforeEach(async function () {
    if (!isRoot()) this.skip();
    ns = await Netns.create();
    await ns.addDummy('eth0', '1.2.3.4/24');
    await ns.addDummy('eth1', '192.168.0.1/24');
    await ns.run('iptables-restore', ['--noflush'], FOREIGN_IPTABLES);
    await ns.run('nft', ['-f', '-'], FOREIGN_NFT);
  });

  afterEach(async () => {
    await ns?.delete();
    ns = undefined;
  });

  const save = async () => stripComments(await ns!.run('iptables-save'));
  const ruleset = async () => ns!.run('nft', ['list', 'ruleset']);
  const restore = async (text: string) => ns!.run('iptables-restore', ['--noflush'], text);
  const listTable = async () => {
    const r = await ns!.exec('nft', ['list', 'table', 'ip', 'natchain']);
    return r.code === 0 ? r.stdout : null;
  };

  describe('iptables', () => {
    it('accepts the rendered text in --test mode, then loads exactly the rendered rules', async () => {
      const { gw, intents } = seed000('iptables');
      const text = renderIptables(gw, intents, { presentJumps: parseIptablesSave(await save()).jumps });
      await ns!.run('iptables-restore', ['--test', '--noflush'], text);
      await restore(text);
      const after = await save();
      const state = parseIptablesSave(after);
      expect(canonicalIptables(state)).to.equal(canonicalIptables(iptablesDesiredState(gw, intents)));
      const lines = after.split('\n');
      for (const l of [
        '-A PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING',
        '-A POSTROUTING -m comment --comment natchain -j NATCHAIN-POSTROUTING',
        '-A FORWARD -m comment --comment natchain -j NATCHAIN-FORWARD',
        '-A NATCHAIN-PREROUTING -d 1.2.3.4/32 -i eth0 -p tcp -m tcp --dport 81 -m comment --comment "natchain:web" -j DNAT --to-destination 192.168.0.2:8180',
        '-A NATCHAIN-PREROUTING -s 192.168.0.0/24 -d 1.2.3.4/32 -i eth1 -p tcp -m tcp --dport 81 -m comment --comment "natchain:web" -j DNAT --to-destination 192.168.0.2:8180',
        '-A NATCHAIN-POSTROUTING -s 192.168.0.0/24 -d 192.168.0.2/32 -o eth1 -p tcp -m tcp --dport 8180 -m conntrack --ctstate DNAT --ctorigdst 1.2.3.4 --ctorigdstport 81 -m comment --comment "natchain:web" -j SNAT --to-source 192.168.0.1',
        '-A NATCHAIN-FORWARD -m conntrack --ctstate DNAT --ctproto 6 --ctorigdst 1.2.3.4 --ctreplsrc 192.168.0.2 --ctorigdstport 81 --ctreplsrcport 8180 -m comment --comment "natchain:web" -j ACCEPT',
      ]) {
        expect(lines).to.include(l);
      }
      // The jumps come first in their built-in chains, before Docker's and the admin's rules.
      expect(lines.find((l) => l.startsWith('-A PREROUTING'))).to.equal('-A PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING');
      expect(lines.find((l) => l.startsWith('-A FORWARD'))).to.equal('-A FORWARD -m comment --comment natchain -j NATCHAIN-FORWARD');
    });

    it('loads every fixture and reads back the same rules, byte for byte', async () => {
      for (const make of [seed000, seed001a, seed001b, mixed, overlap]) {
        for (const acceptMark of [undefined, 0x800000]) {
          const { gw, intents } = make('iptables');
          const opts = acceptMark === undefined ? {} : { acceptMark };
          await restore(renderIptables(gw, intents, { ...opts, presentJumps: parseIptablesSave(await save()).jumps }));
          const state = parseIptablesSave(await save());
          const desired = iptablesDesiredState(gw, intents, opts);
          expect(canonicalIptables(state), `${make.name} mark=${acceptMark}`).to.equal(canonicalIptables(desired));
          for (const c of ['NATCHAIN-FORWARD', 'NATCHAIN-PREROUTING', 'NATCHAIN-POSTROUTING'] as const) expect(state.chains[c]).to.deep.equal(desired.chains[c]);
        }
      }
    });

    it('gives the same state when loaded twice, and keeps every foreign rule byte-identical', async () => {
      const foreign = iptablesForeign(await save());
      const nftTables = async () => (await ns!.run('nft', ['list', 'table', 'inet', 'admin'])) + (await ns!.run('nft', ['list', 'table', 'ip', 'other']));
      const nftBefore = await nftTables();
      const { gw, intents } = seed000('iptables');
      await restore(renderIptables(gw, intents, { presentJumps: parseIptablesSave(await save()).jumps }));
      const once = await save();
      await restore(renderIptables(gw, intents, { presentJumps: parseIptablesSave(once).jumps }));
      const twice = await save();
      expect(twice).to.equal(once);
      expect(parseIptablesSave(twice).jumps['NATCHAIN-PREROUTING']).to.deep.equal([jumpSpec('NATCHAIN-PREROUTING')]);
      expect(iptablesForeign(twice)).to.equal(foreign);
      expect(await nftTables()).to.equal(nftBefore);
      expect(nftBefore).to.include('ip saddr @trusted accept comment "admin"');
    });

    it('an empty ruleset empties natchain\'s chains and leaves foreign rules alone', async () => {
      const foreign = iptablesForeign(await save());
      const { gw, intents } = seed000('iptables');
      await restore(renderIptables(gw, intents));
      await ns!.run('iptables-restore', ['--test', '--noflush'], renderIptables(gw, [], { presentJumps: parseIptablesSave(await save()).jumps }));
      await restore(renderIptables(gw, [], { presentJumps: parseIptablesSave(await save()).jumps }));
      const after = await save();
      const state = parseIptablesSave(after);
      expect(state.chains).to.deep.equal({ 'NATCHAIN-FORWARD': [], 'NATCHAIN-PREROUTING': [], 'NATCHAIN-POSTROUTING': [] });
      expect(Object.values(state.jumps).map((j) => j.length)).to.deep.equal([1, 1, 1]);
      expect(iptablesForeign(after)).to.equal(foreign);
    });

    it('restores the state before natchain byte for byte, and an earlier natchain state exactly', async () => {
      const pristine = await save();
      const s0 = parseIptablesSave(pristine);
      expect(s0).to.deep.equal(emptyIptablesState());
      const a = seed000('iptables');
      await restore(renderIptables(a.gw, a.intents));
      const afterA = await save();
      const s1 = parseIptablesSave(afterA);

      // A later, different apply...
      const b = mixed('iptables');
      await restore(renderIptables(b.gw, b.intents, { presentJumps: s1.jumps }));
      // ...rolled back to s1.
      const back1 = renderIptablesRestore(s1, parseIptablesSave(await save()));
      await ns!.run('iptables-restore', ['--test', '--noflush'], back1);
      await restore(back1);
      expect(await save()).to.equal(afterA);

      // And rolled back to before natchain ever ran: chains and jumps gone, all else identical.
      await restore(renderIptablesRestore(s0, parseIptablesSave(await save())));
      const back0 = await save();
      expect(back0).to.equal(pristine);
      expect(back0).not.to.include('NATCHAIN');
    });

    it('a restore computed for the wrong current state fails and changes nothing in that table', async () => {
      const before = await save();
      // Claims natchain's jumps exist: the -D fails, iptables-restore refuses.
      const wrong: IptablesState = iptablesDesiredState(seed000('iptables').gw, seed000('iptables').intents);
      const r = await ns!.exec('iptables-restore', ['--noflush'], renderIptablesRestore(emptyIptablesState(), wrong));
      expect(r.code).not.to.equal(0);
      expect(await save()).to.equal(before);
    });

    it('heals duplicate and odd jumps down to one', async () => {
      const { gw, intents } = seed000('iptables');
      await restore(renderIptables(gw, intents));
      await ns!.run('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-j', 'NATCHAIN-PREROUTING']);
      await ns!.run('iptables', ['-t', 'nat', '-I', 'PREROUTING', '1', '-m', 'comment', '--comment', 'natchain', '-j', 'NATCHAIN-PREROUTING']);
      await ns!.run('iptables', ['-A', 'FORWARD', '-i', 'eth0', '-j', 'NATCHAIN-FORWARD']);
      expect(parseIptablesSave(await save()).jumps['NATCHAIN-PREROUTING']).to.have.length(3);
      await restore(renderIptables(gw, intents, { presentJumps: parseIptablesSave(await save()).jumps }));
      const state = parseIptablesSave(await save());
      expect(state.jumps).to.deep.equal({
        'NATCHAIN-FORWARD': [jumpSpec('NATCHAIN-FORWARD')],
        'NATCHAIN-PREROUTING': [jumpSpec('NATCHAIN-PREROUTING')],
        'NATCHAIN-POSTROUTING': [jumpSpec('NATCHAIN-POSTROUTING')],
      });
    });

    it('moves a jump that foreign rules were inserted ahead of back to the top, keeping the foreign rules and their order', async () => {
      const { gw, intents } = seed000('iptables');
      await restore(renderIptables(gw, intents));
      // Docker restarting, or an admin's `iptables -I`: rules ahead of natchain's jumps.
      await ns!.run('iptables', ['-t', 'nat', '-I', 'PREROUTING', '1', '-p', 'tcp', '--dport', '81', '-j', 'DNAT', '--to-destination', '10.9.9.9:81']);
      await ns!.run('iptables', ['-I', 'FORWARD', '1', '-j', 'DOCKER-USER']);
      const live = parseIptablesSave(await save());
      expect(Object.keys(live.ahead ?? {}).sort()).to.deep.equal(['NATCHAIN-FORWARD', 'NATCHAIN-PREROUTING']);
      const foreign = iptablesForeign(await save());
      await restore(renderIptables(gw, intents, { presentJumps: live.jumps, ...(live.ahead ? { rulesAhead: live.ahead } : {}) }));
      const after = await save();
      expect(parseIptablesSave(after).ahead).to.equal(undefined);
      expect(after).to.match(/:PREROUTING ACCEPT \[0:0\]\n(?::[^\n]*\n)*-A PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING\n/);
      expect(iptablesForeign(after)).to.equal(foreign);
    });

    it('normalises hand-written rules to the same text as iptables-save\'s spelling of them', async () => {
      const written = [
        ['nat', '-p tcp --dport 81 -d 1.2.3.4 -i eth0 -m comment --comment "x y" -j DNAT --to-destination 10.0.0.1:80'],
        ['nat', '-s 10.1.2.3/255.0.0.0 -o eth1 -p udp --dport 5000:5009 -j SNAT --to-source 10.0.0.1'],
        ['filter', '-m conntrack --ctproto tcp --ctstate DNAT,SNAT --ctorigdst 1.2.3.4/32 --ctorigdstport 81:81 --ctreplsrc 10.0.0.1 -j ACCEPT'],
        ['filter', '! -i eth0 -p udp -m udp ! --dport 5 -j MARK --or-mark 0x10'],
      ] as const;
      for (const [table, spec] of written) {
        await ns!.run('iptables', ['-t', table, '-N', 'SCRATCH']);
        await restore(`*${table}\n-A SCRATCH ${spec}\nCOMMIT\n`);
        const shown = (await save()).split('\n').find((l) => l.startsWith('-A SCRATCH '))!.slice('-A SCRATCH '.length);
        expect(normaliseIptablesRule(shown), `${spec} / ${shown}`).to.equal(normaliseIptablesRule(spec));
        await ns!.run('iptables', ['-t', table, '-F', 'SCRATCH']);
        await ns!.run('iptables', ['-t', table, '-X', 'SCRATCH']);
      }
    });

    it('loads 500 forwards', async () => {
      const { gw, intents } = many('iptables', 500);
      const text = renderIptables(gw, intents);
      await restore(text);
      expect(canonicalIptables(parseIptablesSave(await save()))).to.equal(canonicalIptables(iptablesDesiredState(gw, intents)));
    });
  });

  describe('nftables', () => {
    it('passes nft -c, then loads exactly what was rendered; loading twice gives the same listing', async () => {
      const { gw, intents } = seed000('nftables');
      const text = renderNftables(gw, intents);
      await ns!.run('nft', ['-c', '-f', '-'], text);
      await ns!.run('nft', ['-f', '-'], text);
      const once = (await listTable())!;
      expect(canonicalNftables(once)).to.equal(canonicalNftables(text));
      for (const l of [
        'meta l4proto . ip daddr . th dport vmap @dnat_dispatch comment "natchain"',
        'iifname "eth0" ip daddr 1.2.3.4 tcp dport 81 counter packets 0 bytes 0 dnat to 192.168.0.2:8180 comment "natchain:web"',
        'iifname "eth1" ip saddr 192.168.0.0/24 ip daddr 1.2.3.4 tcp dport 81 counter packets 0 bytes 0 dnat to 192.168.0.2:8180 comment "natchain:web"',
        'oifname "eth1" ip saddr 192.168.0.0/24 ip daddr 192.168.0.2 tcp dport 8180 ct original ip daddr 1.2.3.4 ct original proto-dst 81 snat to 192.168.0.1 comment "natchain:web"',
        'ct protocol tcp ct original ip daddr 1.2.3.4 ct original proto-dst 81 ct reply ip saddr 192.168.0.2 ct reply proto-src 8180 accept comment "natchain:web"',
        'type filter hook forward priority filter - 10; policy accept;',
      ]) {
        expect(once.split('\n').map((x) => x.trim())).to.include(l);
      }
      expect(once).to.match(/elements = \{ tcp \. 1\.2\.3\.4 \. 81 comment "natchain:web" : jump dnat_tcp_1_2_3_4_81 \}/);
      await ns!.run('nft', ['-f', '-'], text);
      expect(await listTable()).to.equal(once);
    });

    it('loads every fixture (udp, ranges, sources, overlaps, mark) and lists the same canonical table', async () => {
      for (const make of [seed000, seed001a, seed001b, mixed, overlap]) {
        for (const acceptMark of [undefined, 0x800000]) {
          const { gw, intents } = make('nftables');
          const text = renderNftables(gw, intents, acceptMark === undefined ? {} : { acceptMark });
          await ns!.run('nft', ['-f', '-'], text);
          expect(canonicalNftables((await listTable())!), `${make.name} mark=${acceptMark}`).to.equal(canonicalNftables(text));
        }
      }
    });

    it('keeps foreign tables (and iptables-nft\'s) byte-identical through loads, an empty load and restores', async () => {
      const foreign = nftablesForeign(await ruleset());
      const ipt = await save();
      const { gw, intents } = mixed('nftables');
      await ns!.run('nft', ['-f', '-'], renderNftables(gw, intents));
      expect(nftablesForeign(await ruleset())).to.equal(foreign);
      const s1 = (await listTable())!;

      // Empty: table present, base chains hooked, maps empty.
      const empty = renderNftables(gw, []);
      await ns!.run('nft', ['-c', '-f', '-'], empty);
      await ns!.run('nft', ['-f', '-'], empty);
      const listedEmpty = (await listTable())!;
      expect(canonicalNftables(listedEmpty)).to.equal(canonicalNftables(empty));
      expect(listedEmpty).not.to.include('elements');
      expect(nftablesForeign(await ruleset())).to.equal(foreign);

      // Back to s1, byte for byte.
      await ns!.run('nft', ['-f', '-'], renderNftablesRestore(s1));
      expect(await listTable()).to.equal(s1);
      expect(nftablesForeign(await ruleset())).to.equal(foreign);

      // Back to no table at all (twice: it does not depend on the current state).
      await ns!.run('nft', ['-f', '-'], renderNftablesRestore(null));
      expect(await listTable()).to.equal(null);
      await ns!.run('nft', ['-f', '-'], renderNftablesRestore(null));
      expect(await listTable()).to.equal(null);
      expect(nftablesForeign(await ruleset())).to.equal(foreign);
      expect(await ruleset()).to.equal(foreign);
      expect(await save()).to.equal(ipt);
    });

    it('loads 500 forwards, and lists them back the same', async () => {
      const { gw, intents } = many('nftables', 500);
      const text = renderNftables(gw, intents);
      await ns!.run('nft', ['-c', '-f', '-'], text);
      const t = Date.now();
      await ns!.run('nft', ['-f', '-'], text);
      const ms = Date.now() - t;
      expect(ms, `nft -f took ${ms} ms`).to.be.below(20_000);
      expect(canonicalNftables((await listTable())!)).to.equal(canonicalNftables(text));
    });
  });
});
