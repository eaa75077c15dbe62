import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { repeatOptions } from '../../src/cli/options.js';
import { buildProgram } from '../../src/cli/program.js';
import { natchain } from '../support/cli.js';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;

// Issue 11, "Consistency": the same conventions in every command (docs/cli.md, first section).
describe('cli: consistency across commands (compiled binary)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'natchain-consistency-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('validate of several files ends with one summary line; --json is an array for one file as for several', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'sites: {}\ngateways: {}\nforwards:\n  f: { from: x, to: "10.0.0.1:22" }\n');
    const many = natchain(['validate', 'topologies/seed-vpn.yaml', 'topologies/three-hop.yaml', bad, join(dir, 'missing.yaml')]);
    expect(many.code).to.equal(1);
    const last = many.stderr.trimEnd().split('\n').pop();
    expect(last).to.equal('4 files: 2 valid, 2 invalid (2 errors)');
    const good = natchain(['validate', 'topologies/seed-vpn.yaml', 'topologies/three-hop.yaml']);
    expect(good.stdout.trimEnd().split('\n').pop()).to.equal('all 2 files valid');
    expect(natchain(['validate', 'topologies/seed-vpn.yaml']).stdout).not.to.contain('files');

    const one = JSON.parse(natchain(['validate', '--json', 'topologies/seed-vpn.yaml']).stdout);
    const two = JSON.parse(natchain(['validate', '--json', 'topologies/seed-vpn.yaml', bad]).stdout);
    expect(one).to.be.an('array').with.length(1);
    expect(two).to.be.an('array').with.length(2);
    expect(Object.keys(one[0])).to.deep.equal(Object.keys(two[0]));
    expect(two[1]).to.include({ file: bad, valid: false });
  });

  it('usage errors exit 64 in every command, diff too', () => {
    for (const args of [
      ['diff', 'topologies/seed-vpn.yaml'],
      ['diff', '--bogus', 'a', 'b'],
      ['diff', '-U', 'x', 'topologies/seed-vpn.yaml', 'topologies/seed-vpn.yaml'],
      ['validate'],
      ['solve', 'topologies/seed-vpn.yaml', '--forward', 'nope'],
      ['render', 'topologies/seed-vpn.yaml', '--backend', 'pf'],
      ['graph', 'topologies/seed-vpn.yaml', '--format', 'png'],
      ['lock', 'topologies/seed-vpn.yaml', '--frobnicate'],
      ['plan', 'topologies/seed-vpn.yaml', '--concurrency', '0'],
      ['apply', 'topologies/seed-vpn.yaml'],
      ['nosuchcommand'],
    ]) {
      const r = natchain(args);
      expect(r.code, `natchain ${args.join(' ')}: ${r.stderr}`).to.equal(64);
    }
  });

  it('unknown names and option values get a "did you mean" in every command', () => {
    const cases: [string[], string][] = [
      [['solve', 'topologies/seed-vpn.yaml', '--forward', 'ssh12'], 'did you mean "ssh-12"?'],
      [['render', 'topologies/seed-vpn.yaml', '--gateway', 'gw-c'], 'did you mean "gw-a"?'],
      [['render', 'topologies/seed-vpn.yaml', '--backend', 'nft'], 'did you mean "nftables"?'],
      [['graph', 'topologies/seed-vpn.yaml', '--format', 'svgg'], 'did you mean "svg"?'],
      [['graph', 'topologies/seed-vpn.yaml', '--forward', 'ssh-13'], 'did you mean "ssh-12"?'],
      [['forward', 'add', 'topologies/seed-vpn.yaml', 'x', '--from', 'site-b', '--to', '10.0.0.12:22', '--proto', 'tpc'], 'did you mean "tcp"?'],
      [['valdate', 'topologies/seed-vpn.yaml'], 'Did you mean validate?'],
      [['solve', 'topologies/seed-vpn.yaml', '--forwrd', 'x'], 'Did you mean --forward?'],
      [['apply', 'topologies/seed-vpn.yaml', '--confirm', 'manaul'], 'did you mean "manual"?'],
      [['rollback', 'topologies/seed-vpn.yaml', '--confirm', 'atuo'], 'did you mean "auto"?'],
      [['lab', 'echo', 'stpo', 'seed-vpn', 'server-ssh-12'], 'did you mean "stop"?'],
      [['forward', 'edit', 'topologies/seed-vpn.yaml', 'ssh-21', '--to', '10.0.0.12:23', '--dry-run'], 'did you mean "ssh-12"?'],
      [['forward', 'rm', 'topologies/seed-vpn.yaml', 'ssh12', '--dry-run'], 'did you mean "ssh-12"?'],
      [['probe', 'topologies/seed-vpn.yaml', '--forward', 'ssh-1'], 'did you mean "ssh-12"?'],
    ];
    for (const [args, hint] of cases) {
      const r = natchain(args);
      expect(r.code, args.join(' ')).to.equal(64);
      expect(r.stderr, args.join(' ')).to.contain(hint);
    }
  });

  it('a reader that closes the pipe early (`| head`) ends the output quietly, not with an EPIPE trace', async () => {
    for (const args of [['solve', 'topologies/seed-vpn.yaml'], ['lab', 'echo', '--help'], ['--help']]) {
      const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      child.stdout.destroy(); // the reader is gone before natchain writes a byte
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr, args.join(' ')).not.to.match(/EPIPE|Unhandled|node:events/);
      expect(code, args.join(' ')).to.equal(0);
    }
  });

  it('a file that cannot be read is said in natchain words, never as a raw Node error', () => {
    const raw = /E[A-Z]{3,}:|, open '|errno/;
    const cases: [string[], string][] = [
      [['validate', '/nonexistent'], 'cannot read /nonexistent: no such file or directory'],
      [['solve', dir], `cannot read ${dir}: it is a directory, not a file`],
      [['plan', 'topologies/seed-vpn.yaml', '-F', '/nonexistent'], 'cannot read ssh config /nonexistent: no such file or directory'],
      [['render', 'topologies/seed-vpn.yaml', '-g', 'gw-a', '--live', '/nonexistent'], 'cannot read /nonexistent: no such file or directory'],
      [['diff', '/nonexistent', 'topologies/seed-vpn.yaml'], 'cannot read /nonexistent'],
    ];
    for (const [args, words] of cases) {
      const r = natchain(args);
      expect(r.code, args.join(' ')).to.be.oneOf([1, 2]);
      expect(r.stderr, args.join(' ')).to.contain(words);
      expect(r.stderr, args.join(' ')).not.to.match(raw);
      expect(r.stderr).not.to.contain('internal error');
    }
  });

  it('a gateway named in a row or a prefix is named once (no "gw-a: gw-a: ...")', () => {
    // No key and no agent: every gateway fails before any connection is made.
    const cfg = join(dir, 'ssh_config');
    writeFileSync(cfg, 'Host *\n  ProxyCommand /bin/false\n  User root\n  IdentityFile /nonexistent-key\n');
    const env = { SSH_AUTH_SOCK: '', HOME: dir, NATCHAIN_STATE_DIR: join(dir, 'state') };
    for (const args of [
      ['plan', 'topologies/seed-vpn.yaml', '-F', cfg],
      ['status', 'topologies/seed-vpn.yaml', '-F', cfg],
      ['apply', 'topologies/seed-vpn.yaml', '-F', cfg, '--yes'],
      ['apply', 'topologies/seed-vpn.yaml', '-F', cfg, '--yes', '--json'],
    ]) {
      const r = natchain(args, { env });
      expect(r.code, args.join(' ') + r.stderr).to.equal(1);
      const out = r.stdout + r.stderr;
      expect(out, args.join(' ')).to.match(/gw-a/);
      expect(out, args.join(' ')).not.to.match(/(gw-[ab]): .*\1: /);
    }
  });

  it('descriptions are shown by solve and forward list, escaped', () => {
    const t = join(dir, 'described.yaml');
    const text = readFileSync('topologies/seed-vpn.yaml', 'utf8')
      .replace('  ssh-12:\n', '  ssh-12:\n    description: "SSH to the build server\\nfor CI \\e[31mred"\n')
      .replace('  gw-a:\n', '  gw-a:\n    description: HQ edge router\n');
    writeFileSync(t, text);
    const solve = natchain(['solve', t]);
    expect(solve.code, solve.stderr).to.equal(0);
    expect(solve.stdout).to.contain('forward ssh-12  tcp  -> 10.0.0.12:22\n  SSH to the build server for CI \\e[31mred\n');
    expect(solve.stdout).to.match(/gw-a \(iptables\) +HQ edge router/);
    const list = natchain(['forward', 'list', t]);
    expect(list.stdout.split('\n')[0]).to.match(/DESCRIPTION$/);
    expect(list.stdout).to.contain('SSH to the build server for CI \\e[31mred');
    expect(list.stdout).not.to.contain('\x1b');
    expect(JSON.parse(natchain(['forward', 'list', t, '--json']).stdout).forwards[0].description).to.equal('SSH to the build server\nfor CI \x1b[31mred');
  });

  it('lock and graph have --json', () => {
    const t = join(dir, 'three-hop.yaml');
    copyFileSync('topologies/three-hop.yaml', t);
    const check = natchain(['lock', t, '--check', '--json']);
    expect(check.code).to.equal(1);
    expect(JSON.parse(check.stdout)).to.include({ topology: t, lockFile: join(dir, 'three-hop.lock'), state: 'missing', written: false });
    const wrote = JSON.parse(natchain(['lock', t, '--json']).stdout);
    expect(wrote).to.include({ state: 'missing', written: true });
    expect(wrote.picked[0]).to.have.keys(['forward', 'gateway', 'address', 'ports']);
    expect(JSON.parse(natchain(['lock', t, '--json']).stdout)).to.include({ state: 'up-to-date', written: false });
    const g = natchain(['graph', 'topologies/seed-vpn.yaml', '--json']);
    expect(g.code).to.equal(0);
    expect(JSON.parse(g.stdout)).to.deep.equal(JSON.parse(natchain(['graph', 'topologies/seed-vpn.yaml', '--format', 'json']).stdout));
  });
});

describe('cli: --json on every reporting command', () => {
  it('every command that reports has --json (not the wizard, lab exec, completion: they report nothing)', () => {
    const missing: string[] = [];
    const walk = (cmd: Command, path: string[]) => {
      for (const sub of cmd.commands) {
        const here = [...path, sub.name()];
        if (sub.commands.length) walk(sub, here);
        else if (!sub.options.some((o) => o.long === '--json')) missing.push(here.join(' '));
      }
    };
    walk(buildProgram(), []);
    expect(missing).to.deep.equal(['wizard', 'lab exec', 'completion', '__complete']);
  });
});

describe('cli: hints repeat the options given', () => {
  it("plan's closing hint repeats -F, --accept-new and --concurrency (quoted for the shell), not --json", async () => {
    const program = buildProgram();
    const plan = program.commands.find((c) => c.name() === 'plan')!;
    plan.action(() => undefined);
    await program.parseAsync(['plan', 'x.yaml', '-F', 'lab dir/ssh_config', '--accept-new', '--concurrency', '3', '--json'], { from: 'user' });
    expect(repeatOptions(plan)).to.equal("--ssh-config 'lab dir/ssh_config' --accept-new --concurrency 3");
  });
});
