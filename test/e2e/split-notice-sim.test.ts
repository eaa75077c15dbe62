// The split notice of plan and status through the CLI, on a small simulated fleet (real SSH on
// 127.0.0.1, no namespaces): natchain killed during its commit leaves the transaction committed on
// some gateways and still armed on another; a gateway that then cannot be read is named too, as it
// may hold the transaction as well.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimLab, type SimLab } from '../../scripts/bench/sim/lab.js';
import { cli, sleep } from './rollout-support.js';

describe('split notice and recover through the CLI (6 simulated gateways)', function () {
  this.timeout(120_000);
  let lab: SimLab;
  let env: { NATCHAIN_STATE_DIR: string };
  before(async () => {
    lab = await startSimLab(6, 2);
    env = { NATCHAIN_STATE_DIR: lab.stateDir('split') };
  });
  after(async () => {
    await lab?.close();
  });

  it('names the gateway natchain died before committing (still armed), and one that cannot be read; recover commits it and names the unread one', async () => {
    const gws = lab.fleet.gateways;
    const [armed, unread] = [...gws.keys()];
    const x = gws.get(armed!)!;
    // Its commit is answered late; natchain is SIGKILLed once every other gateway committed, and the late commit
    // then never runs (its connection is cut): it stays armed, as when natchain dies during its commit.
    x.delay.set('commit', 1500);
    const run = cli(['apply', lab.topologyFile, '-F', lab.sshConfig, '--yes', '--confirm-timeout', '600'], env);
    const others = [...gws.values()].filter((g) => g !== x);
    for (let i = 0; i < 200 && !(x.lockHolder && others.every((g) => g.lastCommit === x.lockHolder)); i++) await sleep(20);
    const tx = x.lockHolder;
    expect(tx && others.every((g) => g.lastCommit === tx), 'the other gateways committed, the armed one did not yet').to.equal(true);
    process.kill(run.pid, 'SIGKILL');
    x.cut.add('commit');
    expect((await run).code, 'natchain was SIGKILLed').to.equal(null);
    // The same fleet with one gateway's port closed (nothing listens on port 1 of 127.0.0.1): refused at once.
    const ssh = join(lab.dir, 'ssh_config-down');
    writeFileSync(ssh, readFileSync(lab.sshConfig, 'utf8').replace(new RegExp(`(Host ${unread}\\n  HostName 127\\.0\\.0\\.1\\n  Port )\\d+`), '$11'));
    for (const cmd of ['status', 'plan']) {
      // A fresh state directory: what the gateways say, not this machine's journal.
      const other = { NATCHAIN_STATE_DIR: lab.stateDir(`other-${cmd}`) };
      const s = await cli([cmd, lab.topologyFile, '-F', ssh, '--json'], other);
      expect(s.json.split, `${cmd}: ${s.stderr}`).to.have.length(1);
      expect(s.json.split[0]).to.deep.include({ tx, unread: [unread] });
      expect(s.json.split[0].states[armed!]).to.equal('armed');
      expect(s.stderr).to.match(new RegExp(`${armed} still armed .*; could not read ${unread}: it may hold the transaction too\\. natchain recover`));
    }
    // recover from another machine: it commits the armed gateway, but with one gateway unread it does not call the fleet consistent.
    x.cut.delete('commit');
    const rec = { NATCHAIN_STATE_DIR: lab.stateDir('other-recover') };
    const r = await cli(['recover', lab.topologyFile, '-F', ssh, '--json'], rec);
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.json).to.deep.include({ consistent: false, unread: [unread] });
    expect(r.json.transactions.map((t: { tx: string }) => t.tx)).to.deep.equal([tx]);
    expect(x.lastCommit, 'recover committed the armed gateway').to.equal(tx);
    const human = await cli(['recover', lab.topologyFile, '-F', ssh], rec);
    expect(human.code).to.equal(1);
    expect(human.stdout).to.include(`could not read ${unread}: it may hold a transaction committed on some gateways only`);
    // Once it answers: nothing left to recover, and consistent.
    const ok = await cli(['recover', lab.topologyFile, '-F', lab.sshConfig, '--json'], rec);
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.json).to.deep.include({ consistent: true, unread: [], transactions: [] });
  });
});
