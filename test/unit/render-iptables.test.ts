import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  RenderError,
  canonicalIptables,
  emptyIptablesState,
  forwardComment,
  forwardFromComment,
  iptablesDesiredState,
  iptablesForeign,
  jumpSpec,
  normaliseIptablesRule,
  parseIptablesSave,
  renderIptables,
  renderIptablesRestore,
  renderRuleset,
  tokenizeIptablesRule,
} from '../../src/render/index.js';
import type { IptablesState } from '../../src/render/index.js';
import { expectGolden } from '../golden/golden.js';
import { gateway, intent, many, mixed, seed000, seed001a, seed001b } from '../golden/fixtures.js';

const captured = (name: string) => readFileSync(new URL(`../golden/captured/${name}`, import.meta.url), 'utf8');
const ruleLines = (text: string) => text.split('\n').filter((l) => /^-[AIDX] /.test(l));
const allPresent = { 'NATCHAIN-FORWARD': true, 'NATCHAIN-PREROUTING': true, 'NATCHAIN-POSTROUTING': true } as const;

describe('render/iptables', () => {
  describe('golden files', () => {
    const cases = { 'seed000-gw': seed000, 'seed001-gw-a': seed001a, 'seed001-gw-b': seed001b, mixed } as const;
    for (const [name, make] of Object.entries(cases)) {
      it(`renders ${name} as in test/golden/iptables/${name}.rules`, () => {
        const { gw, intents } = make('iptables');
        expectGolden(`iptables/${name}.rules`, renderIptables(gw, intents));
      });
    }
    it('renders an empty intent list (fresh gateway)', () => {
      expectGolden('iptables/empty.rules', renderIptables(seed000('iptables').gw, []));
    });
    it('renders with every jump already present', () => {
      const { gw, intents } = seed000('iptables');
      expectGolden('iptables/seed000-gw.present-jumps.rules', renderIptables(gw, intents, { presentJumps: allPresent }));
    });
    it('renders the accept mark variant', () => {
      const { gw, intents } = seed000('iptables');
      expectGolden('iptables/seed000-gw.mark.rules', renderIptables(gw, intents, { acceptMark: 0x800000 }));
    });
  });

  describe('seed 000 (gw, forward web)', () => {
    const { gw, intents } = seed000('iptables');
    const lines = ruleLines(renderIptables(gw, intents));

    it('DNATs the public port arriving on eth0, and the hairpin LAN on eth1', () => {
      expect(lines).to.include(
        '-A NATCHAIN-PREROUTING -d 1.2.3.4/32 -i eth0 -p tcp -m tcp --dport 81 -m comment --comment "natchain:web" -j DNAT --to-destination 192.168.0.2:8180',
      );
      expect(lines).to.include(
        '-A NATCHAIN-PREROUTING -s 192.168.0.0/24 -d 1.2.3.4/32 -i eth1 -p tcp -m tcp --dport 81 -m comment --comment "natchain:web" -j DNAT --to-destination 192.168.0.2:8180',
      );
    });

    it('SNATs only the hairpin flows of this forward (not the seed\'s broad SNAT)', () => {
      const snat = lines.filter((l) => l.includes('-j SNAT'));
      expect(snat).to.deep.equal([
        '-A NATCHAIN-POSTROUTING -s 192.168.0.0/24 -d 192.168.0.2/32 -o eth1 -p tcp -m tcp --dport 8180 -m conntrack --ctstate DNAT --ctorigdst 1.2.3.4 --ctorigdstport 81 -m comment --comment "natchain:web" -j SNAT --to-source 192.168.0.1',
      ]);
    });

    it('accepts in FORWARD (not INPUT) exactly the DNATed flows, by conntrack', () => {
      const accept = lines.filter((l) => l.startsWith('-A NATCHAIN-FORWARD'));
      expect(accept).to.deep.equal([
        '-A NATCHAIN-FORWARD -m conntrack --ctstate DNAT --ctproto 6 --ctorigdst 1.2.3.4 --ctreplsrc 192.168.0.2 --ctorigdstport 81 --ctreplsrcport 8180 -m comment --comment "natchain:web" -j ACCEPT',
        '-A NATCHAIN-FORWARD -m conntrack --ctstate DNAT --ctproto 6 --ctorigsrc 192.168.0.0/24 --ctorigdst 1.2.3.4 --ctreplsrc 192.168.0.2 --ctorigdstport 81 --ctreplsrcport 8180 -m comment --comment "natchain:web" -j ACCEPT',
      ]);
      expect(lines.some((l) => / (INPUT|OUTPUT) /.test(l))).to.equal(false);
    });

    it('puts a natchain comment on every rule it adds', () => {
      for (const l of lines.filter((x) => x.startsWith('-A ') || x.startsWith('-I '))) expect(l).to.match(/-m comment --comment ("natchain:web"|natchain) /);
    });

    it('inserts each jump at the top of its built-in chain, once', () => {
      expect(lines.filter((l) => l.startsWith('-I '))).to.deep.equal([
        '-I FORWARD 1 -m comment --comment natchain -j NATCHAIN-FORWARD',
        '-I PREROUTING 1 -m comment --comment natchain -j NATCHAIN-PREROUTING',
        '-I POSTROUTING 1 -m comment --comment natchain -j NATCHAIN-POSTROUTING',
      ]);
    });

    it('declares (and so flushes) only natchain\'s chains, in *filter and *nat', () => {
      const text = renderIptables(gw, intents);
      expect(text.split('\n').filter((l) => l.startsWith(':') || l.startsWith('*') || l === 'COMMIT')).to.deep.equal([
        '*filter', ':NATCHAIN-FORWARD - [0:0]', 'COMMIT', '*nat', ':NATCHAIN-PREROUTING - [0:0]', ':NATCHAIN-POSTROUTING - [0:0]', 'COMMIT',
      ]);
      expect(text).not.to.match(/^-F|^-X|^-P|^:(PREROUTING|POSTROUTING|FORWARD|INPUT|OUTPUT) /m);
    });
  });

  describe('seed 001', () => {
    it('gw-b sends the site-B client to A\'s public port and SNATs to its own public address, narrowly', () => {
      const { gw, intents } = seed001b('iptables');
      const lines = ruleLines(renderIptables(gw, intents));
      expect(lines).to.include(
        '-A NATCHAIN-PREROUTING -d 10.0.0.12/32 -i eth1 -p tcp -m tcp --dport 22 -m comment --comment "natchain:ssh" -j DNAT --to-destination 143.89.197.180:22012',
      );
      expect(lines).to.include(
        '-A NATCHAIN-POSTROUTING -d 143.89.197.180/32 -o eth0 -p tcp -m tcp --dport 22012 -m conntrack --ctstate DNAT --ctorigdst 10.0.0.12 --ctorigdstport 22 -m comment --comment "natchain:ssh" -j SNAT --to-source 143.89.135.171',
      );
    });
    it('gw-a DNATs its public port 22012 to the server, without SNAT', () => {
      const { gw, intents } = seed001a('iptables');
      const lines = ruleLines(renderIptables(gw, intents));
      expect(lines).to.include(
        '-A NATCHAIN-PREROUTING -d 143.89.197.180/32 -i eth0 -p tcp -m tcp --dport 22012 -m comment --comment "natchain:ssh" -j DNAT --to-destination 10.0.0.12:22',
      );
      expect(lines.filter((l) => l.includes('SNAT'))).to.deep.equal([]);
    });
  });

  describe('protocols and ports', () => {
    const { gw, intents } = mixed('iptables');
    const lines = ruleLines(renderIptables(gw, intents));
    it('renders udp with -m udp and --ctproto 17', () => {
      expect(lines).to.include('-A NATCHAIN-PREROUTING -d 203.0.113.1/32 -i wan0 -p udp -m udp --dport 53 -m comment --comment "natchain:dns" -j DNAT --to-destination 10.10.0.53:5353');
      expect(lines.some((l) => l.includes('--ctproto 17 --ctorigdst 203.0.113.1 --ctreplsrc 10.10.0.53 --ctorigdstport 53 --ctreplsrcport 5353'))).to.equal(true);
    });
    it('forwards a port range unchanged (DNAT to the address only)', () => {
      expect(lines).to.include(
        '-A NATCHAIN-PREROUTING -d 203.0.113.1/32 -i wan0 -p udp -m udp --dport 10000:10099 -m comment --comment "natchain:rtp" -j DNAT --to-destination 10.10.0.7',
      );
      expect(lines.some((l) => l.includes('--ctorigdstport 10000:10099 --ctreplsrcport 10000:10099'))).to.equal(true);
    });
    it('SNATs a range forward on its unchanged ports', () => {
      const gw2 = gateway('r', 'iptables', { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
      const text = renderIptables(gw2, [intent('r', 'r', 'udp', 'eth1', '1.2.3.4:5000-5009', 'eth1', '10.0.0.9:5000-5009', { src: '10.0.0.0/24', snat: '10.0.0.1' })]);
      expect(text).to.include('-d 10.0.0.9/32 -o eth1 -p udp -m udp --dport 5000:5009 -m conntrack --ctstate DNAT --ctorigdst 1.2.3.4 --ctorigdstport 5000:5009');
    });
    it('restricts by source when the intent has one', () => {
      expect(lines).to.include(
        '-A NATCHAIN-PREROUTING -s 198.51.100.0/24 -d 203.0.113.1/32 -i wan0 -p tcp -m tcp --dport 2222 -m comment --comment "natchain:admin" -j DNAT --to-destination 10.10.0.9:22',
      );
    });
    it('refuses ranges that would be shifted or resized', () => {
      const gw2 = gateway('r', 'iptables', { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
      expect(() => renderIptables(gw2, [intent('r', 'r', 'tcp', 'eth0', '1.2.3.4:5000-5009', 'eth1', '10.0.0.9:6000-6009')])).to.throw(RenderError);
      expect(() => renderIptables(gw2, [intent('r', 'r', 'tcp', 'eth0', '1.2.3.4:5000-5009', 'eth1', '10.0.0.9:5000-5001')])).to.throw(RenderError);
    });
  });

  describe('empty', () => {
    it('declares the chains empty and adds the jumps: valid, leaves natchain present and inert', () => {
      const text = renderIptables(seed000('iptables').gw, []);
      expect(text.split('\n').filter((l) => l.startsWith('-A '))).to.deep.equal([]);
      expect(text).to.include(':NATCHAIN-FORWARD - [0:0]');
      expect(text).to.include(':NATCHAIN-PREROUTING - [0:0]');
      expect(text).to.include(':NATCHAIN-POSTROUTING - [0:0]');
    });
  });

  describe('comments', () => {
    it('escapes any forward name so it cannot break out of the comment', () => {
      const nasty = 'we"b x;$(rm -rf /)\n-A INPUT';
      const c = forwardComment(nasty);
      expect(c).to.equal('natchain:we%22b%20x%3B%24%28rm%20-rf%20%2F%29%0A-A%20INPUT');
      expect(forwardFromComment(c)).to.equal(nasty);
      const gw = gateway('gw', 'iptables', { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
      const text = renderIptables(gw, [intent(nasty, 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth1', '10.0.0.2:80')]);
      const dnat = text.split('\n').find((l) => l.startsWith('-A NATCHAIN-PREROUTING'))!;
      const tokens = tokenizeIptablesRule(dnat);
      expect(tokens[tokens.indexOf('--comment') + 1]).to.equal(c);
      expect(text.split('\n').filter((l) => l.includes('INPUT'))).to.have.length(2); // only inside the two comments
    });
    it('keeps plain names readable and refuses names too long for a comment', () => {
      expect(forwardComment('web-1.a_b')).to.equal('natchain:web-1.a_b');
      expect(forwardFromComment('natchain')).to.equal(undefined);
      expect(forwardFromComment('docker')).to.equal(undefined);
      expect(() => forwardComment('x'.repeat(200))).to.throw(RenderError);
    });
  });

  describe('order and checks', () => {
    it('is deterministic: the order of the intents does not matter, duplicates collapse', () => {
      const { gw, intents } = mixed('iptables');
      const a = renderIptables(gw, intents);
      const b = renderIptables(gw, [...intents].reverse().concat([intents[1]!]));
      expect(b).to.equal(a);
    });
    it('refuses two forwards that catch the same packets but DNAT them differently', () => {
      const gw = gateway('gw', 'iptables', { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
      const err = (() => {
        try {
          renderIptables(gw, [
            intent('a', 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth1', '10.0.0.2:80'),
            intent('b', 'gw', 'tcp', 'eth0', '1.2.3.4:70-90', 'eth1', '10.0.0.3:70-90', { src: '192.0.2.0/24' }),
          ]);
        } catch (e) {
          return e as RenderError;
        }
        return undefined;
      })();
      expect(err).to.be.instanceOf(RenderError);
      expect(err!.code).to.equal('INTERNAL');
      expect(err!.details.join('\n')).to.match(/forwards "(a|b)" and "(a|b)" both catch tcp to 1\.2\.3\.4 on eth0/);
    });
    it('rejects what would not be a safe rule, with every problem at once', () => {
      const gw = gateway('gw', 'iptables', { eth0: '1.2.3.4/24' });
      try {
        renderIptables(gw, [
          intent('a', 'gw', 'tcp', 'eth0 -j ACCEPT', '1.2.3.4:80', 'eth0', '10.0.0.2:80'),
          intent('b', 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth9', '10.0.0.2:80'),
          intent('c', 'other', 'tcp', 'eth0', '1.2.3.4:80', 'eth0', '10.0.0.2:80'),
          { ...intent('d', 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth0', '10.0.0.2:80'), dnat: { address: '10.0.0.2; reboot', ports: { from: 80, to: 80 } } },
          { ...intent('e', 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth0', '10.0.0.2:80'), dst: { address: '1.2.3.4', ports: { from: 0, to: 70000 } } },
        ]);
        expect.fail('should throw');
      } catch (e) {
        expect(e).to.be.instanceOf(RenderError);
        const d = (e as RenderError).details.join('\n');
        expect(d).to.include('"eth0 -j ACCEPT" is not an interface name');
        expect(d).to.include('eth9 is not an interface of gw');
        expect(d).to.include('intent is for gateway "other"');
        expect(d).to.include('dnat.address "10.0.0.2; reboot" is not an IPv4 address');
        expect(d).to.include('dst.ports');
      }
    });
    it('masks a source to its network and treats /0 as no source', () => {
      const gw = gateway('gw', 'iptables', { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
      const text = renderIptables(gw, [
        intent('a', 'gw', 'tcp', 'eth0', '1.2.3.4:80', 'eth1', '10.0.0.2:80', { src: '192.0.2.77/24' }),
        intent('b', 'gw', 'tcp', 'eth0', '1.2.3.4:81', 'eth1', '10.0.0.2:81', { src: '0.0.0.0/0' }),
      ]);
      expect(text).to.include('-s 192.0.2.0/24 -d 1.2.3.4/32');
      expect(text).not.to.include('0.0.0.0');
    });
  });

  describe('jumps', () => {
    const { gw, intents } = seed000('iptables');
    it('writes no jump that is already there (loading twice keeps one)', () => {
      const text = renderIptables(gw, intents, { presentJumps: allPresent });
      expect(text).not.to.match(/^-[ID] /m);
    });
    it('takes the jumps as parseIptablesSave lists them, and deletes extra or odd ones', () => {
      const text = renderIptables(gw, intents, {
        presentJumps: {
          'NATCHAIN-FORWARD': [jumpSpec('NATCHAIN-FORWARD'), '-j NATCHAIN-FORWARD'],
          'NATCHAIN-PREROUTING': ['-i eth0 -j NATCHAIN-PREROUTING'],
          'NATCHAIN-POSTROUTING': ['-m comment --comment "natchain" -j NATCHAIN-POSTROUTING'],
        },
      });
      expect(text.split('\n').filter((l) => /^-[ID] /.test(l))).to.deep.equal([
        '-D FORWARD -j NATCHAIN-FORWARD',
        '-D PREROUTING -i eth0 -j NATCHAIN-PREROUTING',
        '-I PREROUTING 1 -m comment --comment natchain -j NATCHAIN-PREROUTING',
      ]);
    });
    it('moves a jump that a foreign rule got ahead of back to the top (and leaves first jumps alone)', () => {
      const save =
        '*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:NATCHAIN-PREROUTING - [0:0]\n:NATCHAIN-POSTROUTING - [0:0]\n' +
        '[5:300] -A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.9.9.9:81\n' +
        '-A PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING\n' +
        '-A POSTROUTING -m comment --comment natchain -j NATCHAIN-POSTROUTING\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n' +
        '*filter\n:FORWARD DROP [0:0]\n:NATCHAIN-FORWARD - [0:0]\n-A FORWARD -m comment --comment natchain -j NATCHAIN-FORWARD\nCOMMIT\n';
      const live = parseIptablesSave(save);
      expect(live.ahead).to.deep.equal({ 'NATCHAIN-PREROUTING': ['-p tcp -m tcp --dport 81 -j DNAT --to-destination 10.9.9.9:81'] });
      const text = renderIptables(gw, intents, { presentJumps: live.jumps, ...(live.ahead ? { rulesAhead: live.ahead } : {}) });
      expect(text.split('\n').filter((l) => /^-[ID] /.test(l))).to.deep.equal([
        '-D PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING',
        '-I PREROUTING 1 -m comment --comment natchain -j NATCHAIN-PREROUTING',
      ]);
      // So the state differs from the one a load leaves (a rollout sees a change to make).
      expect(canonicalIptables(live)).to.include('# jump PREROUTING -> NATCHAIN-PREROUTING is not first: 1 rule ahead');
      expect(canonicalIptables({ ...live, ahead: {} })).not.to.include('not first');
      // A rule after the jump, or in a chain without one, is not ahead of anything.
      expect(parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DOCKER\nCOMMIT\n').ahead).to.equal(undefined);
    });
  });

  describe('reading iptables-save', () => {
    const save = captured('seed000-gw.iptables-save');
    const state = parseIptablesSave(save);
    const { gw, intents } = seed000('iptables');

    it('finds natchain\'s chains and jumps, and nothing of Docker\'s', () => {
      expect(Object.keys(state.chains).sort()).to.deep.equal(['NATCHAIN-FORWARD', 'NATCHAIN-POSTROUTING', 'NATCHAIN-PREROUTING']);
      expect(state.jumps).to.deep.equal({
        'NATCHAIN-FORWARD': [jumpSpec('NATCHAIN-FORWARD')],
        'NATCHAIN-PREROUTING': [jumpSpec('NATCHAIN-PREROUTING')],
        'NATCHAIN-POSTROUTING': [jumpSpec('NATCHAIN-POSTROUTING')],
      });
      expect(JSON.stringify(state)).not.to.include('DOCKER');
    });
    it('reads back exactly the rules that were rendered (same spelling as iptables-save)', () => {
      const desired = iptablesDesiredState(gw, intents);
      for (const c of ['NATCHAIN-FORWARD', 'NATCHAIN-PREROUTING', 'NATCHAIN-POSTROUTING'] as const) expect(state.chains[c]).to.deep.equal(desired.chains[c]);
      expect(canonicalIptables(state)).to.equal(canonicalIptables(desired));
    });
    it('ignores counters (-c) and reports chains that do not exist as absent', () => {
      const s = parseIptablesSave('*nat\n:PREROUTING ACCEPT [3:180]\n:NATCHAIN-PREROUTING - [0:0]\n[3:180] -A PREROUTING -j NATCHAIN-PREROUTING\nCOMMIT\n');
      expect(s.chains).to.deep.equal({ 'NATCHAIN-PREROUTING': [] });
      expect(s.jumps['NATCHAIN-PREROUTING']).to.deep.equal(['-j NATCHAIN-PREROUTING']);
      expect(canonicalIptables(s)).to.include(':NATCHAIN-FORWARD absent');
      expect(parseIptablesSave('')).to.deep.equal(emptyIptablesState());
    });
    it('reads a jump whose target is quoted, even split by quotes (the text need not say NATCHAIN- in one piece)', () => {
      for (const target of ['"NATCHAIN-PREROUTING"', 'NAT"CHAIN-PREROUTING"', '"NAT\\CHAIN-PREROUTING"']) {
        const s = parseIptablesSave(`*nat\n:PREROUTING ACCEPT [0:0]\n:NATCHAIN-PREROUTING - [0:0]\n-A PREROUTING -m comment --comment natchain -j ${target}\nCOMMIT\n`);
        expect(s.jumps['NATCHAIN-PREROUTING'], target).to.have.length(1);
      }
      // Unquoted and without the name, a rule is foreign (counted as ahead only when a jump follows).
      const s = parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\n:NATCHAIN-PREROUTING - [0:0]\n-A PREROUTING -j NATCHAIN\n-A PREROUTING -j NATCHAIN-PREROUTING\nCOMMIT\n');
      expect(s.jumps['NATCHAIN-PREROUTING']).to.deep.equal(['-j NATCHAIN-PREROUTING']);
      expect(s.ahead).to.deep.equal({ 'NATCHAIN-PREROUTING': ['-j NATCHAIN'] });
    });
    it('does not count a chain of the same name in the wrong table, or jumps from other chains', () => {
      const s = parseIptablesSave('*filter\n:NATCHAIN-PREROUTING - [0:0]\n:X - [0:0]\n-A X -j NATCHAIN-PREROUTING\nCOMMIT\n');
      expect(s).to.deep.equal(emptyIptablesState());
    });
    it('strips exactly natchain\'s lines for the foreign-rules comparison', () => {
      const foreign = iptablesForeign(save);
      expect(foreign).not.to.include('NATCHAIN');
      expect(foreign).to.include('-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER');
      expect(foreign).to.include('-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE');
      // 11 = 3 chain declarations + 3 jumps + 5 rules.
      expect(foreign.split('\n').length).to.equal(save.split('\n').length - 11);
    });
  });

  describe('normalising rules', () => {
    const same = [
      ['-d 1.2.3.4 -p tcp --dport 81 -i eth0 -j DNAT --to-destination 10.0.0.1:80', '-d 1.2.3.4/32 -i eth0 -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.0.0.1:80'],
      ['-s 10.1.2.3/255.0.0.0 -j ACCEPT', '--source 10.0.0.0/8 --jump ACCEPT'],
      ['-m conntrack --ctproto tcp --ctstate SNAT,DNAT --ctorigdst 1.2.3.4/32 --ctorigdstport 81:81 -j ACCEPT', '-m conntrack --ctstate DNAT,SNAT --ctproto 6 --ctorigdstport 81 --ctorigdst 1.2.3.4 -j ACCEPT'],
      ['-m comment --comment "natchain:web" -j ACCEPT', '-m comment --comment natchain:web -j ACCEPT'],
      ['-j MARK --or-mark 0x10', '-j MARK --set-xmark 0x10/0x10'],
      ['! -i eth0 -p udp -m udp ! --dport 5 -j DROP', '-p 17 ! -i eth0 -m udp ! --dport 5 -j DROP'],
    ];
    for (const [a, b] of same) {
      it(`treats "${a}" and "${b}" as one rule`, () => expect(normaliseIptablesRule(a!)).to.equal(normaliseIptablesRule(b!)));
    }
    it('normalises a text the same way every time (it is remembered)', () => {
      const [a, b] = same[0]!;
      const first = normaliseIptablesRule(a!);
      for (let k = 0; k < 3; k++) expect(normaliseIptablesRule(a!)).to.equal(first).and.to.equal(normaliseIptablesRule(b!));
    });
    it('keeps different rules different', () => {
      expect(normaliseIptablesRule('-p tcp --dport 81 -j ACCEPT')).not.to.equal(normaliseIptablesRule('-p tcp --dport 82 -j ACCEPT'));
      expect(normaliseIptablesRule('-i eth0 -j ACCEPT')).not.to.equal(normaliseIptablesRule('! -i eth0 -j ACCEPT'));
      expect(normaliseIptablesRule('-m comment --comment "a b" -j ACCEPT')).not.to.equal(normaliseIptablesRule('-m comment --comment a -j ACCEPT'));
    });
  });

  describe('restoring an earlier state', () => {
    const { gw, intents } = seed000('iptables');
    const desired = iptablesDesiredState(gw, intents);

    it('removes jumps and chains when the earlier state had none', () => {
      const text = renderIptablesRestore(emptyIptablesState(), desired);
      expect(text.split('\n').filter((l) => !l.startsWith('#'))).to.deep.equal([
        '*filter',
        ':NATCHAIN-FORWARD - [0:0]',
        '-D FORWARD -m comment --comment natchain -j NATCHAIN-FORWARD',
        '-X NATCHAIN-FORWARD',
        'COMMIT',
        '*nat',
        ':NATCHAIN-PREROUTING - [0:0]',
        ':NATCHAIN-POSTROUTING - [0:0]',
        '-D PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING',
        '-D POSTROUTING -m comment --comment natchain -j NATCHAIN-POSTROUTING',
        '-X NATCHAIN-PREROUTING',
        '-X NATCHAIN-POSTROUTING',
        'COMMIT',
        '',
      ]);
    });
    it('puts back the earlier rules, keeping the jumps in place', () => {
      const earlier: IptablesState = iptablesDesiredState(seed001a('iptables').gw, seed001a('iptables').intents);
      const current = iptablesDesiredState(gw, intents);
      const text = renderIptablesRestore(earlier, current);
      expect(text).not.to.match(/^-[IDX] /m);
      expect(text).to.include('-A NATCHAIN-PREROUTING -d 143.89.197.180/32 -i eth0 -p tcp -m tcp --dport 22012');
      expect(text).not.to.include('1.2.3.4');
    });
    it('writes nothing at all when there was and is no natchain state', () => {
      expect(renderIptablesRestore(emptyIptablesState(), emptyIptablesState()).split('\n').filter((l) => l && !l.startsWith('#'))).to.deep.equal([]);
    });
  });

  describe('renderRuleset', () => {
    it('dispatches on the gateway backend', () => {
      const a = seed000('iptables');
      const b = seed000('nftables');
      expect(renderRuleset(a.gw, a.intents)).to.equal(renderIptables(a.gw, a.intents));
      expect(renderRuleset(b.gw, b.intents)).to.match(/^table ip natchain \{/m);
    });
  });

  describe('speed', () => {
    it('renders 500 forwards quickly and 10x as many in about 10x the time (no quadratic building)', () => {
      const small = many('iptables', 500);
      const big = many('iptables', 5000);
      renderIptables(small.gw, small.intents); // warm up
      let t = process.hrtime.bigint();
      const text = renderIptables(small.gw, small.intents);
      const tSmall = Number(process.hrtime.bigint() - t) / 1e6;
      t = process.hrtime.bigint();
      renderIptables(big.gw, big.intents);
      const tBig = Number(process.hrtime.bigint() - t) / 1e6;
      expect(text.split('\n').filter((l) => l.startsWith('-A NATCHAIN-PREROUTING'))).to.have.length(small.intents.length);
      expect(tSmall, `500 forwards took ${tSmall} ms`).to.be.below(400);
      expect(tBig, `5000 forwards took ${tBig} ms`).to.be.below(Math.max(40 * tSmall, 2500));
    });
  });
});
