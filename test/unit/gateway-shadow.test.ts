import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { findShadows, formatShadow, jumpMoves, onlyJumpsMoved } from '../../src/gateway/shadow.js';
import { solve } from '../../src/solve/index.js';
import { example } from '../support/topo.js';

const t = example('seed-vpn');
const intents = solve(t).intents;
const gwA = t.gateways.find((g) => g.name === 'gw-a')!;
const gwB = t.gateways.find((g) => g.name === 'gw-b')!;
const dump = readFileSync('test/fixtures/gateway/iptables-docker.save', 'utf8');
const ruleset = readFileSync('test/fixtures/gateway/nft-ruleset.json', 'utf8');
const JUMP = '-A PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING';
/** The fixture with `rule` put just before natchain's PREROUTING jump. */
const ahead = (rule: string, text = dump) => text.replace(JUMP, `${rule}\n${JUMP}`);

describe('gateway shadowing: iptables', () => {
  it("foreign rules that cannot catch the forward are not shadowing (Docker's chain, conntrack ESTABLISHED, another interface)", () => {
    expect(findShadows(gwA, intents['gw-a']!, dump)).to.deep.equal([]);
    expect(findShadows(gwA, intents['gw-a']!, ahead('-A PREROUTING ! -i eth0 -j DROP'))).to.deep.equal([]);
    expect(findShadows(gwA, intents['gw-a']!, ahead('-A PREROUTING -p udp -j DROP'))).to.deep.equal([]);
    expect(findShadows(gwA, intents['gw-a']!, ahead('-A PREROUTING -d 10.0.0.0/8 -j DROP'))).to.deep.equal([]);
  });

  it('a rule ahead of the jump that can match is named, with the forwards it catches', () => {
    const hits = findShadows(gwA, intents['gw-a']!, ahead('-A PREROUTING -i eth0 -p tcp -m tcp --dport 22000:23000 -j DROP'));
    expect(hits).to.have.length(1);
    expect(hits[0]).to.include({ where: 'nat PREROUTING', rule: '-A PREROUTING -i eth0 -p tcp -m tcp --dport 22000:23000 -j DROP' });
    expect(hits[0]!.forwards).to.deep.equal(['ssh-12']);
    expect(formatShadow(hits[0]!)).to.equal("gw-a: nat PREROUTING: -A PREROUTING -i eth0 -p tcp -m tcp --dport 22000:23000 -j DROP (ahead of natchain's jump) can catch ssh-12");
  });

  it('a jump to a user chain shadows through the rule in there that can catch it', () => {
    const d = dump.replace('--dport 8080 -j DNAT', '--dport 22012 -j DNAT');
    const hits = findShadows(gwA, intents['gw-a']!, d);
    expect(hits).to.have.length(1);
    expect(hits[0]!.rule).to.equal('-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER');
    expect(hits[0]!.reason).to.contain('-A DOCKER -i eth0 -p tcp -m tcp --dport 22012 -j DNAT');
  });

  it('a match natchain cannot read counts as one that may match; a rule after the jump never shadows', () => {
    expect(findShadows(gwA, intents['gw-a']!, ahead('-A PREROUTING -m set --match-set blocked src -j DROP'))).to.have.length(1);
    const after = dump.replace(JUMP, `${JUMP}\n-A PREROUTING -j DROP`);
    expect(findShadows(gwA, intents['gw-a']!, after)).to.deep.equal([]);
  });

  it('FORWARD and POSTROUTING: an ACCEPT of new flows ahead, a MASQUERADE on the way out of an SNAT hop', () => {
    const fwd = dump.replace('-A FORWARD -m comment', '-A FORWARD -i eth0 -j ACCEPT\n-A FORWARD -m comment');
    expect(findShadows(gwA, intents['gw-a']!, fwd).map((h) => h.where)).to.deep.equal(['filter FORWARD']);
    // gw-b SNATs (first hop): a MASQUERADE out of its internet interface ahead of natchain's jump catches it.
    const b = dump.replace('-A POSTROUTING -o eth9 -j MASQUERADE', '-A POSTROUTING -o eth0 -j MASQUERADE');
    expect(findShadows(gwB, intents['gw-b']!, b).map((h) => h.where)).to.include('nat POSTROUTING');
  });
});

describe('gateway shadowing: nftables', () => {
  const nftA = { ...gwA, backend: 'nftables' as const };
  it('an earlier base chain that drops the forward, and a forward-hook policy drop, are named; accepts and other ports are not', () => {
    const hits = findShadows(nftA, intents['gw-a']!, '', ruleset);
    expect(hits.map((h) => [h.where, h.rule])).to.deep.equal([
      ["table inet fw chain pre (hook prerouting priority -200, natchain's: -110)", 'chain pre handle 3: meta iifname "eth0" tcp dport 22012 drop'],
      ["table inet fw chain fw_forward (hook forward priority -50, natchain's: -10)", 'chain fw_forward policy drop'],
    ]);
    expect(hits.every((h) => h.forwards.join() === 'ssh-12')).to.equal(true);
  });

  it('a chain that runs after natchain, or a table natchain cannot read, is handled', () => {
    const later = ruleset.replace('"prio": -200', '"prio": 0').replace('"prio": -50', '"prio": 10').replace('"prio":-200', '"prio":0').replace('"prio":-50', '"prio":10');
    expect(findShadows(nftA, intents['gw-a']!, '', later)).to.deep.equal([]);
    expect(findShadows(nftA, intents['gw-a']!, '', '{oops')[0]!.reason).to.contain('cannot tell');
  });
});

describe('gateway shadowing: jumps moved back', () => {
  const before = '*nat\n# jump PREROUTING -> NATCHAIN-PREROUTING is not first: 1 rule ahead\n-A NATCHAIN-PREROUTING x\n';
  const after = '*nat\n-A NATCHAIN-PREROUTING x\n';
  it('apply names each jump it moved to the top', () => {
    expect(jumpMoves(before, after)).to.deep.equal(["moved natchain's jump back to the top of PREROUTING (1 rule was ahead of it)"]);
    expect(jumpMoves(after, after)).to.deep.equal([]);
  });
  it('a difference only in jump position is told from a change of natchain rules', () => {
    expect(onlyJumpsMoved(after, before)).to.equal(true);
    expect(onlyJumpsMoved(after, before.replace('x', 'y'))).to.equal(false);
    expect(onlyJumpsMoved(after, after)).to.equal(false);
  });
});

describe('gateway shadowing: nftables verdict maps', () => {
  it('a verdict map in an earlier chain that can match counts as shadowing; one keyed on another interface does not', () => {
    const nftA = { ...gwA, backend: 'nftables' as const };
    const doc = (iif: string) =>
      JSON.stringify({
        nftables: [
          { chain: { family: 'ip', table: 'natchain', name: 'prerouting', type: 'nat', hook: 'prerouting', prio: -110, policy: 'accept' } },
          { chain: { family: 'inet', table: 'fw', name: 'pre', type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' } },
          { rule: { family: 'inet', table: 'fw', chain: 'pre', handle: 5, expr: [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: iif } }, { vmap: { key: { payload: { protocol: 'ip', field: 'saddr' } }, data: { set: [] } } }] } },
        ],
      });
    expect(findShadows(nftA, intents['gw-a']!, '', doc('eth0')).map((h) => h.rule)).to.deep.equal(['chain pre handle 5: meta iifname "eth0" vmap {"key":{"payload":{"protocol":"ip","field":"saddr"}},"data":{"set":[]}}']);
    expect(findShadows(nftA, intents['gw-a']!, '', doc('wg0'))).to.deep.equal([]);
  });
});

describe('gateway shadowing: iptables tables that run first (raw, mangle)', () => {
  const withTables = (raw: string[], mangle: string[]) =>
    `*raw\n:PREROUTING ACCEPT [0:0]\n${raw.join('\n')}\nCOMMIT\n*mangle\n:PREROUTING ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n${mangle.join('\n')}\nCOMMIT\n` + dump;
  it('untracking or dropping the forward there is shadowing; marking, accepting or another port is not', () => {
    const hits = findShadows(gwA, intents['gw-a']!, withTables(['-A PREROUTING -p tcp -m tcp --dport 22012 -j CT --notrack'], []));
    expect(hits.map((h) => [h.where, h.rule, h.reason])).to.deep.equal([['raw PREROUTING', '-A PREROUTING -p tcp -m tcp --dport 22012 -j CT --notrack', "the raw table runs before natchain's"]]);
    expect(findShadows(gwA, intents['gw-a']!, withTables([], ['-A FORWARD -o eth1 -j DROP'])).map((h) => h.where)).to.deep.equal(['mangle FORWARD']);
    const harmless = withTables(['-A PREROUTING -p tcp -m tcp --dport 80 -j CT --notrack'], ['-A PREROUTING -p tcp -j MARK --set-xmark 0x1/0xffffffff', '-A PREROUTING -i eth0 -j ACCEPT', '-A PREROUTING -j DROP', '-A FORWARD -o wg0 -j DROP']);
    expect(findShadows(gwA, intents['gw-a']!, harmless)).to.deep.equal([]);
  });
});
