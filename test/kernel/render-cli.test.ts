// `natchain render` against the real kernel: its output loads, and with --live (the gateway's
// iptables-save) loading it again changes nothing, jumps included. Only rules are loaded, in a
// namespace this test creates and deletes; no packet is sent.
import { expect } from 'chai';
import { natchain } from '../support/cli.js';
import { Netns, hasCommand, isRoot } from '../support/netns.js';

describe('render CLI: what it prints loads, and loads idempotently with --live', function () {
  this.timeout(120_000);
  let ns: Netns | undefined;

  before(async function () {
    if (!isRoot() || !hasCommand('iptables-restore') || !hasCommand('nft')) {
      console.log('      (skipped: needs root, iptables-restore and nft)');
      this.skip();
    }
    ns = await Netns.create();
    await ns.addDummy('eth0', '143.89.135.171/24');
    await ns.addDummy('eth1', '10.0.1.2/24');
    // A foreign rule in a built-in chain, so "jump at position 1" and "untouched" both mean something.
    await ns.run('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '9999', '-j', 'REDIRECT', '--to-ports', '22']);
  });
  after(async () => ns?.delete());

  const save = async () => (await ns!.run('iptables-save')).replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]');

  it('iptables: fresh output loads; --live output of the loaded state changes nothing', async () => {
    const fresh = natchain(['render', 'topologies/seed-vpn.yaml', '-g', 'gw-b']);
    expect(fresh.code, fresh.stderr).to.equal(0);
    await ns!.run('iptables-restore', ['--noflush'], fresh.stdout);
    const first = await save();
    expect(first.match(/-j NATCHAIN-PREROUTING/g)).to.have.length(1);
    expect(first).to.contain('--dport 9999 -j REDIRECT');

    const again = natchain(['render', 'topologies/seed-vpn.yaml', '-g', 'gw-b', '--live', '-'], { input: await ns!.run('iptables-save') });
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.not.match(/^-I PREROUTING/m); // the jump is there already
    await ns!.run('iptables-restore', ['--noflush'], again.stdout);
    expect(await save()).to.equal(first);
  });

  it('iptables: loading the fresh output twice would duplicate the jumps (why --live exists)', async () => {
    const fresh = natchain(['render', 'topologies/seed-vpn.yaml', '-g', 'gw-b']);
    await ns!.run('iptables-restore', ['--noflush'], fresh.stdout);
    expect((await save()).match(/-j NATCHAIN-PREROUTING/g)).to.have.length(2);
    // --live repairs it: stray jumps are deleted, one is kept.
    const repair = natchain(['render', 'topologies/seed-vpn.yaml', '-g', 'gw-b', '--live', '-'], { input: await ns!.run('iptables-save') });
    await ns!.run('iptables-restore', ['--noflush'], repair.stdout);
    expect((await save()).match(/-j NATCHAIN-PREROUTING/g)).to.have.length(1);
  });

  it('nftables: the output passes nft -c and loads twice to the same table', async () => {
    const r = natchain(['render', 'topologies/seed-vpn.yaml', '-g', 'gw-b', '-b', 'nftables']);
    expect(r.code, r.stderr).to.equal(0);
    await ns!.run('nft', ['-c', '-f', '-'], r.stdout);
    await ns!.run('nft', ['-f', '-'], r.stdout);
    const first = await ns!.run('nft', ['list', 'table', 'ip', 'natchain']);
    await ns!.run('nft', ['-f', '-'], r.stdout);
    expect(await ns!.run('nft', ['list', 'table', 'ip', 'natchain'])).to.equal(first);
  });

  it('--live without --gateway is a usage error', () => {
    expect(natchain(['render', 'topologies/seed-vpn.yaml', '--live', '-']).code).to.equal(64);
  });
});
