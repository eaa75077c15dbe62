import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/transport/connect.js';
import { example } from '../support/topo.js';

describe('transport: connect failures leave nothing running', () => {
  let home = '';
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'natchain-connect-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('an unreadable known_hosts fails before the ProxyCommand is started', async function () {
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    mkdirSync(join(home, 'known_hosts_dir'));
    // Credentials come before host keys: give it a usable (throwaway) key.
    const kg = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(home, '.ssh', 'id_ed25519')]);
    if (kg.status !== 0) this.skip();
    const marker = join(home, 'proxy-started');
    writeFileSync(join(home, '.ssh', 'config'), `Host *\n  ProxyCommand sh -c 'touch ${marker}; exec sleep 30'\n  UserKnownHostsFile ${join(home, 'known_hosts_dir')}\n`);
    const t = example('seed-vpn');
    const err = await connect(t, t.gateways[0]!, { homeDir: home, agentSocket: join(home, 'agent.sock') }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(/known_hosts/);
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(marker)).to.equal(false);
  });
});
