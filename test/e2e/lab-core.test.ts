// The lab itself: the root-namespace safety check, real sshd behind ssh_config with real host-key
// checking, gateways as separate machines (private state directories, detached processes),
// status, down (twice, after a crash), and the CLI.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatchainError } from '../../src/errors.js';
import { diffSnapshots, labDown, labExec, labNamespaces, labProbe, labStatus, labUp, openLab, rootSnapshot, type Lab } from '../../src/lab/index.js';
import { conntrack, labLeftovers, labRun, labUnavailable, loadRules, testLabName, topologyFile, upTestLab, useLab } from '../support/lab.js';

/** Runs a program on the host (ssh, the CLI); never throws on exit codes. */
function sh(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b));
    c.stderr.on('data', (b: Buffer) => (stderr += b));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

const ssh = (lab: Lab, host: string, command: string, extra: string[] = []) => sh('ssh', ['-F', lab.sshConfig, '-o', 'BatchMode=yes', ...extra, host, command]);

describe('lab core: seed-vpn (documentation addresses)', function () {
  this.timeout(60_000);
  const f = useLab(() => topologyFile('test/e2e/fixtures/seed-vpn-doc.yaml'), 'core');
  const rootHadSsh = existsSync('/root/.ssh');

  it('reaches each gateway with `ssh -F <ssh_config> <gateway>`, running in that gateway\'s namespaces', async () => {
    const r = await ssh(f.lab, 'gw-a', 'hostname; ip -o -4 addr show; iptables-save >/dev/null && echo iptables-save-ok; ls /sys/class/net');
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).to.equal('gw-a');
    expect(r.stdout).to.match(/eth0\s+inet 198\.51\.100\.180\/24/);
    expect(r.stdout).to.match(/eth1\s+inet 10\.0\.0\.2\/24/);
    expect(r.stdout).to.include('iptables-save-ok');
    expect(lines.slice(-4, -1).sort()).to.deep.equal(['eth0', 'eth1', 'lo']);
    const b = await ssh(f.lab, 'gw-b', 'hostname');
    expect(b.stdout.trim()).to.equal('gw-b');
  });

  it('checks host keys for real: an unknown or changed key is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'natchain-lab-kh-'));
    try {
      const empty = join(dir, 'empty');
      await writeFile(empty, '');
      const unknown = await ssh(f.lab, 'gw-a', 'true', ['-o', `UserKnownHostsFile=${empty}`]);
      expect(unknown.code).to.equal(255);
      expect(unknown.stderr).to.match(/Host key verification failed|No ED25519 host key is known/);
      // gw-b's key filed under gw-a's name: a changed host key.
      const swapped = join(dir, 'swapped');
      const known = await readFile(f.lab.knownHosts, 'utf8');
      const keyB = known.split('\n').find((l) => l.startsWith('gw-b'))!.split(' ').slice(1).join(' ');
      await writeFile(swapped, `gw-a ${keyB}\n`);
      const changed = await ssh(f.lab, 'gw-a', 'true', ['-o', `UserKnownHostsFile=${swapped}`]);
      expect(changed.code).to.equal(255);
      expect(changed.stderr).to.match(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(existsSync('/root/.ssh'), 'ssh on the host wrote no known_hosts of its own').to.equal(rootHadSsh);
  });

  it('gives every gateway its own /var/lib/natchain, /run/natchain, /tmp and /root', async () => {
    const w = await ssh(f.lab, 'gw-a', 'echo a > /var/lib/natchain/state && echo a > /run/natchain/lock && echo a > /tmp/natchain-lab-probe && ls /var/lib/natchain /run/natchain');
    expect(w.code, w.stderr).to.equal(0);
    const other = await ssh(f.lab, 'gw-b', 'ls -A /var/lib/natchain /run/natchain; ls /tmp/natchain-lab-probe 2>/dev/null || echo no-tmp-file');
    expect(other.stdout).to.equal('/run/natchain:\n\n/var/lib/natchain:\nno-tmp-file\n');
    expect(existsSync('/var/lib/natchain/state'), 'nothing on the host').to.equal(false);
    expect(existsSync('/tmp/natchain-lab-probe'), 'nothing on the host').to.equal(false);
    const gw = f.lab.gateways.find((g) => g.name === 'gw-a')!;
    expect(await readFile(join(gw.varLib, 'state'), 'utf8')).to.equal('a\n');
    // lab exec sees the same private directories as sshd.
    expect(await labRun(f.lab, 'gw-a', ['cat', '/run/natchain/lock'])).to.equal('a\n');
  });

  it('keeps a detached process started over SSH running after the connection closes, inside the gateway', async () => {
    const r = await ssh(f.lab, 'gw-a', 'setsid sh -c "exec sleep 3600" </dev/null >/dev/null 2>&1 & echo started');
    expect(r.stdout.trim()).to.equal('started');
    await new Promise((res) => setTimeout(res, 300));
    const [s] = await labStatus(f.lab.name);
    const gwa = s!.namespaces.find((n) => n.name === 'nc-' + f.lab.name + '.gw-a')!;
    expect(gwa.processes.map((p) => p.command)).to.include('sleep 3600');
    // The lab's own processes: sshd listeners on each gateway, echo services on the target.
    expect(gwa.processes.some((p) => p.command.startsWith('socat UNIX-LISTEN:'))).to.equal(true);
    const srv = s!.namespaces.find((n) => n.name.endsWith('.server-ssh-12'))!;
    expect(srv.processes.map((p) => p.command).join('\n')).to.include('TCP-LISTEN:22,fork');
  });

  it('runs commands in hosts and gateways with lab exec, and names the nodes when one is unknown', async () => {
    const r = await labExec(f.lab, 'client-b', ['ip', '-o', '-4', 'addr', 'show', 'eth0']);
    expect(r.stdout).to.include('10.0.1.13/24');
    const err = await labExec(f.lab, 'nope', ['true']).then(
      () => undefined,
      (e: unknown) => e as NatchainError,
    );
    expect(err?.code).to.equal('USAGE');
    expect(err?.message).to.equal(`no node "nope" in lab ${f.lab.name}`);
    expect(err?.details.join(' ')).to.include('gw-a').and.include('client-b');
    expect((await openLab(f.lab.name)).sshConfig).to.equal(f.lab.sshConfig);
  });

  it('refuses to bring up a lab that already exists', async () => {
    const err = await labUp(f.topology, { name: f.lab.name }).then(
      () => undefined,
      (e: unknown) => e as NatchainError,
    );
    expect(err?.code).to.equal('LAB');
    expect(err?.message).to.match(/already exists/);
  });
});

describe('lab core: safety and teardown', function () {
  this.timeout(60_000);
  before(async function () {
    if (await labUnavailable()) this.skip();
  });

  it("leaves the root namespace's links, addresses and routes exactly as they were (up, then down)", async () => {
    const before = await rootSnapshot();
    const t = await topologyFile('topologies/hub-vpn.yaml');
    const lab = await upTestLab(t, 'safe');
    try {
      expect(diffSnapshots(before, await rootSnapshot()), 'after lab up').to.deep.equal([]);
    } finally {
      await labDown(lab.name);
    }
    expect(diffSnapshots(before, await rootSnapshot()), 'after lab down').to.deep.equal([]);
    expect(await labLeftovers([lab.name])).to.deep.equal([]);
  });

  it('lab down is idempotent', async () => {
    const lab = await upTestLab(await topologyFile('test/e2e/fixtures/seed-portforward-doc.yaml'), 'twice');
    const first = await labDown(lab.name);
    expect(first[0]!.namespaces).to.have.length(lab.namespaces.length);
    expect(first[0]!.killed).to.be.greaterThan(0);
    const second = await labDown(lab.name);
    expect(second).to.deep.equal([{ lab: lab.name, namespaces: [], killed: 0, unmounted: 0, removedDir: true }]);
    expect(await labLeftovers([lab.name])).to.deep.equal([]);
  });

  it('cleans up after a crash: lost lab.json, and namespaces with no lab directory at all', async () => {
    const lab = await upTestLab(await topologyFile('test/e2e/fixtures/seed-portforward-doc.yaml'), 'crash');
    try {
      await rm(join(lab.dir, 'lab.json'));
      const [s] = await labStatus(lab.name);
      expect(s!.state).to.equal('orphaned');
      expect(s!.namespaces.filter((n) => n.exists)).to.have.length(lab.namespaces.length);
    } finally {
      await labDown(lab.name);
    }
    expect(await labLeftovers([lab.name])).to.deep.equal([]);

    // Only namespaces left (the directory is gone), one with a process in it.
    const name = testLabName('orph');
    const ns = `nc-${name}.x`;
    const add = await sh('ip', ['netns', 'add', ns]);
    expect(add.code, add.stderr).to.equal(0);
    try {
      const p = spawn('nsenter', [`--net=/run/netns/${ns}`, 'sleep', '3600'], { stdio: 'ignore', detached: true });
      p.unref();
      await new Promise((res) => setTimeout(res, 200));
      expect((await labStatus(name))[0]!.state).to.equal('orphaned');
      const [r] = await labDown(name);
      expect(r!.namespaces).to.deep.equal([ns]);
      expect(r!.killed).to.equal(1);
    } finally {
      await sh('ip', ['netns', 'del', ns]);
    }
    expect(await labNamespaces(name)).to.deep.equal([]);
  });
});

describe('lab core: a gateway behind another (three-hop), ssh -J as the topology says', function () {
  this.timeout(60_000);
  const f = useLab(() => topologyFile('topologies/three-hop.yaml'), 'jump');

  it('reaches gw-dc through gw-edge over the lab network (sshd on port 22 inside, names in /etc/hosts)', async () => {
    const r = await ssh(f.lab, 'gw-dc', 'hostname; ip -o -4 addr show eth0', ['-J', 'gw-edge']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^gw-dc\n/);
    expect(r.stdout).to.include('10.250.0.2/30');
    // gw-dc saw the connection come from gw-edge's transit address: it really went through the lab.
    const log = await readFile(join(f.lab.dir, 'log', 'gw-dc.log'), 'utf8');
    expect(log).to.match(/Accepted publickey for root from 10\.250\.0\.1/);
  });
});

describe('lab core: the seed itself (topologies/seed-vpn.yaml, its own addresses, inside the lab only)', function () {
  this.timeout(60_000);
  const f = useLab(() => topologyFile('topologies/seed-vpn.yaml'), 'seed');

  it("carries 10.0.1.13 -> 10.0.0.12:22 through both gateways with exactly the seed's conntrack entry on gw-a", async () => {
    await loadRules(f);
    const r = await labProbe(f.lab, 'client-b', { proto: 'tcp', address: '10.0.0.12', port: 22, sourcePort: 2182, timeoutMs: 3000 });
    expect(r.ok && r.fields).to.include({ host: 'server-ssh-12', peer: '143.89.135.171', peerport: '2182' });
    const a = (await conntrack(f.lab, 'gw-a')).find((e) => e.orig.sport === 2182)!;
    // Seed 001: original src=143.89.135.171 dst=143.89.197.180 sport=2182 dport=22012,
    //           reply src=10.0.0.12 dst=143.89.135.171 sport=22 dport=2182.
    expect(a.line).to.include('src=143.89.135.171 dst=143.89.197.180 sport=2182 dport=22012 src=10.0.0.12 dst=143.89.135.171 sport=22 dport=2182');
  });
});

describe('lab core: the CLI', function () {
  this.timeout(90_000);
  const name = testLabName('cli');
  const cli = (...args: string[]) => sh(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], 60_000);
  before(async function () {
    if (await labUnavailable()) this.skip();
  });
  after(async () => {
    await labDown(name).catch(() => undefined);
  });

  it('lab up --json, status, exec (exit code passed through) and down', async () => {
    const up = await cli('lab', 'up', 'test/e2e/fixtures/seed-vpn-doc.yaml', '--name', name, '--json');
    expect(up.code, up.stderr).to.equal(0);
    const lab = JSON.parse(up.stdout) as Lab;
    expect(lab.name).to.equal(name);
    expect(lab.sshConfig).to.equal(`/run/natchain-lab/${name}/ssh_config`);
    const st = await cli('lab', 'status', name, '--json');
    expect(JSON.parse(st.stdout)[0].state).to.equal('up');
    const ex = await cli('lab', 'exec', name, 'gw-b', '--', 'sh', '-c', 'hostname; exit 3');
    expect(ex.code).to.equal(3);
    expect(ex.stdout).to.equal('gw-b\n');
    const down = await cli('lab', 'down', name);
    expect(down.code, down.stderr).to.equal(0);
    expect(down.stdout).to.match(new RegExp(`down lab ${name}: removed 6 namespace`));
    expect(await labLeftovers([name])).to.deep.equal([]);
  });

  it('lab --help shows examples', async () => {
    const h = await cli('lab', '--help');
    expect(h.stdout).to.include('Examples:').and.include('natchain lab up topologies/seed-vpn.yaml');
  });
});

describe('lab core: nothing left behind', () => {
  it('no namespace, process, socket or directory of these labs remains', async () => {
    expect(await labLeftovers()).to.deep.equal([]);
  });
});
