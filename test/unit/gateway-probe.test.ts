import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { checksFor } from '../../src/gateway/probe.js';
import { parseProbe, probeCommand } from '../../src/gateway/probe-script.js';
import { solve } from '../../src/solve/index.js';
import { example } from '../support/topo.js';

describe('gateway probe', () => {
  it('checks per gateway: the route to each next hop, and a TCP connect only where it is the last hop', () => {
    const chains = solve(example('seed-vpn')).chains;
    expect(checksFor('gw-b', chains)).to.deep.equal([{ kind: 'route', address: '143.89.197.180' }]);
    expect(checksFor('gw-a', chains)).to.deep.equal([
      { kind: 'route', address: '10.0.0.12' },
      { kind: 'tcp', address: '10.0.0.12', port: 22 },
    ]);
  });

  it('refuses arguments that are not an address or a port; the script is valid sh', () => {
    expect(() => probeCommand('a'.repeat(16), [{ kind: 'route', address: '10.0.0.1; reboot' }])).to.throw(/bad probe address/);
    expect(() => probeCommand('a'.repeat(16), [{ kind: 'tcp', address: '10.0.0.1', port: 0 }])).to.throw(/bad probe port/);
    const cmd = probeCommand('a'.repeat(16), [{ kind: 'route', address: '10.0.0.1' }]);
    const script = /^sh -c '([\s\S]*)' natchain /.exec(cmd)![1]!.replace(/'\\''/g, "'");
    expect(spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' }).status).to.equal(0);
  });

  it('reads routes, refusals and skips', () => {
    const got = parseProbe(
      [
        'route 10.0.0.12 10.0.0.12 dev eth1 src 10.0.0.2 uid 0 \\    cache ',
        'route 10.9.9.9 RTNETLINK answers: Network is unreachable ',
        'tcp 10.0.0.12:22 ok',
        'tcp 10.0.0.13:80 fail Connection refused',
        'tcp 10.0.0.14:80 skip no bash, nc or socat on the gateway to open a TCP connection with',
      ].join('\n'),
    );
    expect(got).to.deep.equal([
      { kind: 'route', address: '10.0.0.12', dev: 'eth1', line: '10.0.0.12 dev eth1 src 10.0.0.2 uid 0 \\    cache' },
      { kind: 'route', address: '10.9.9.9', error: 'RTNETLINK answers: Network is unreachable', line: 'RTNETLINK answers: Network is unreachable' },
      { kind: 'tcp', address: '10.0.0.12', port: 22, ok: true, detail: '' },
      { kind: 'tcp', address: '10.0.0.13', port: 80, ok: false, detail: 'Connection refused' },
      { kind: 'tcp', address: '10.0.0.14', port: 80, ok: null, detail: 'no bash, nc or socat on the gateway to open a TCP connection with' },
    ]);
  });
});
