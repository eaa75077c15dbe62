import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { complete, type TopologyNames } from '../../src/cli/complete.js';
import { buildProgram } from '../../src/cli/program.js';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const words = (c: ReturnType<typeof complete>) => c.candidates.map((x) => x.word);

describe('completion: the engine (complete.ts)', () => {
  const program = buildProgram();
  const names: TopologyNames = { gateways: ['gw-a', 'gw-b'], forwards: ['ssh-12', 'web'], sites: ['site-a'], networks: ['internet'] };
  const read = (file: string) => (file === 't.yaml' ? names : undefined);
  const at = (...w: string[]) => complete(program, w, read);

  it('commands (not hidden ones), subcommands, options with their help', () => {
    expect(words(at(''))).to.include.members(['validate', 'solve', 'apply', 'completion', 'lab', 'forward']);
    expect(words(at(''))).not.to.include('__complete');
    expect(words(at('va'))).to.deep.equal(['validate']);
    expect(words(at('lab', ''))).to.deep.equal(['up', 'down', 'status', 'exec', 'test', 'echo']);
    const opts = at('render', 't.yaml', '--');
    expect(words(opts)).to.include.members(['--gateway', '--backend', '--live', '--json', '--help']);
    expect(opts.candidates.find((c) => c.word === '--gateway')!.help).to.contain('gateway');
    expect(words(at('render', '-'))).to.include.members(['-g', '-b', '--gateway']);
  });

  it('fixed option values, and names read from the topology given earlier on the line', () => {
    expect(words(at('render', 't.yaml', '--backend', ''))).to.deep.equal(['iptables', 'nftables']);
    expect(words(at('graph', 't.yaml', '--format', 'm'))).to.deep.equal(['mermaid']);
    expect(words(at('render', 't.yaml', '-g', ''))).to.deep.equal(['gw-a', 'gw-b']);
    expect(words(at('solve', '--forward', 's', 't.yaml'))).to.deep.equal([]); // the topology comes later: nothing to read yet
    expect(words(at('solve', 't.yaml', '--forward', 's'))).to.deep.equal(['ssh-12']);
    expect(words(at('forward', 'edit', 't.yaml', ''))).to.deep.equal(['ssh-12', 'web']);
    expect(words(at('forward', 'add', 't.yaml', ''))).to.deep.equal([]); // a new name is the user's
    expect(words(at('forward', 'add', 't.yaml', 'x', '--from', ''))).to.deep.equal(['site-a', 'internet']);
    expect(words(at('completion', ''))).to.deep.equal(['bash', 'zsh', 'fish']);
  });

  it('file names where a path goes', () => {
    expect(at('validate', '').files).to.equal(true);
    expect(at('validate', 'a.yaml', '').files).to.equal(true); // variadic
    expect(at('plan', 't.yaml', '-F', '').files).to.equal(true);
    expect(at('diff', 'a.yaml', '').files).to.equal(true);
    expect(at('solve', 't.yaml', '').files).to.equal(false); // one topology only
    expect(at('solve', 't.yaml', '--forward', '').files).to.equal(false);
  });
});

// The scripts run in the real shells, against the compiled CLI found on PATH as `natchain`.
describe('completion: in bash, zsh and fish', function () {
  this.timeout(60_000);
  let bin: string;
  let PATH: string;
  before(() => {
    bin = mkdtempSync(join(tmpdir(), 'natchain-completion-'));
    writeFileSync(join(bin, 'natchain'), `#!/bin/sh\nexec '${process.execPath}' '${MAIN}' "$@"\n`);
    chmodSync(join(bin, 'natchain'), 0o755);
    PATH = `${bin}:${process.env.PATH}`;
  });
  after(() => rmSync(bin, { recursive: true, force: true }));

  it('bash: complete -p registers it; the function fills COMPREPLY with commands, names and files', () => {
    const script = `eval "$(natchain completion bash)"
complete -p natchain
reply() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _natchain; echo "$(IFS=,; echo "\${COMPREPLY[*]}")"; }
reply natchain val
reply natchain solve topologies/seed-vpn.yaml --forward ''
reply natchain render topologies/three-hop.yaml --gateway gw-
reply natchain validate topologies/seed-v
reply natchain graph topologies/seed-vpn.yaml --format m`;
    const out = execFileSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH } }).split('\n');
    expect(out[0]).to.equal('complete -F _natchain natchain');
    expect(out.slice(1, 6)).to.deep.equal(['validate', 'ssh-12', 'gw-office,gw-edge,gw-dc', 'topologies/seed-vpn.yaml', 'mermaid']);
  });

  it('fish: complete -C gives commands with their descriptions, names and files', () => {
    const script = `natchain completion fish | source
complete -C 'natchain val'
complete -C 'natchain render topologies/seed-vpn.yaml --gateway '
complete -C 'natchain validate topologies/seed-v'`;
    const out = execFileSync('fish', ['--no-config', '-c', script], { encoding: 'utf8', env: { ...process.env, PATH } }).trimEnd().split('\n');
    expect(out[0]).to.match(/^validate\tcheck topology files/);
    expect(out.slice(1)).to.deep.equal(['gw-a', 'gw-b', 'topologies/seed-vpn.yaml']);
  });

  it('zsh: TAB in a real terminal (tmux) completes a forward name, a command and a file', () => {
    const session = `natchain-completion-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
    const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    /** Types `line`, presses TAB, and returns the line as zsh left it (waiting until it changes). */
    const tab = (line: string): string => {
      tmux('send-keys', '-t', session, 'C-u', line, 'Tab');
      let last = '';
      for (let i = 0; i < 50; i++) {
        sleep(200);
        const rows = tmux('capture-pane', '-p', '-t', session).stdout.split('\n').filter((l) => l.startsWith('% natchain'));
        last = rows[rows.length - 1] ?? '';
        if (last && last.trimEnd() !== `% ${line}`.trimEnd()) break;
      }
      return last.slice(2).trimEnd();
    };
    try {
      const env = `env -i HOME=${bin} TERM=xterm PATH=${PATH} PS1='%% ' zsh -f`;
      expect(tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', '-c', process.cwd(), env).status).to.equal(0);
      tmux('send-keys', '-t', session, 'autoload -U compinit && compinit -u && eval "$(natchain completion zsh)" && clear && echo ready', 'Enter');
      for (let i = 0; i < 50 && !/^ready$/m.test(tmux('capture-pane', '-p', '-t', session).stdout); i++) sleep(200);
      expect(tab('natchain solve topologies/seed-vpn.yaml --forward ')).to.equal('natchain solve topologies/seed-vpn.yaml --forward ssh-12');
      expect(tab('natchain valid')).to.equal('natchain validate');
      expect(tab('natchain validate topologies/seed-v')).to.equal('natchain validate topologies/seed-vpn.yaml');
    } finally {
      tmux('kill-session', '-t', session);
    }
  });
});
