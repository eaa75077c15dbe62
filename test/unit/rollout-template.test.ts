// The iptables template resolved on the gateway (awk, run here for real by sh) gives exactly the
// text the renderer gives from the same snapshot: natchain can stage before it has read the gateway.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iptablesDesiredState, parseIptablesSave, renderIptablesRestore } from '../../src/render/index.js';
import { changeToIntents } from '../../src/rollout/owned.js';
import { RESOLVE_AWK } from '../../src/rollout/remote-scripts.js';
import { iptablesTemplate } from '../../src/rollout/template.js';
import { solve } from '../../src/solve/index.js';
import { example } from '../support/topo.js';

const J = (c: string) => `-m comment --comment natchain -j ${c}`;
const SNAPSHOTS: Record<string, string> = {
  'never touched': '*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n',
  'as natchain left it': `*raw\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:NATCHAIN-PREROUTING - [0:0]\n:NATCHAIN-POSTROUTING - [0:0]\n-A PREROUTING ${J('NATCHAIN-PREROUTING')}\n-A POSTROUTING ${J('NATCHAIN-POSTROUTING')}\n-A NATCHAIN-PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:22\nCOMMIT\n*filter\n:NATCHAIN-FORWARD - [0:0]\n-A FORWARD ${J('NATCHAIN-FORWARD')}\nCOMMIT\n`,
  'duplicate and odd jumps, a foreign rule ahead': `*nat\n:NATCHAIN-PREROUTING - [0:0]\n-A PREROUTING -i eth9 -j DROP\n-A PREROUTING ${J('NATCHAIN-PREROUTING')}\n-A PREROUTING -j NATCHAIN-PREROUTING\n-A POSTROUTING -j NATCHAIN-POSTROUTING\nCOMMIT\n*filter\n:NATCHAIN-FORWARD - [0:0]\n-A FORWARD ${J('NATCHAIN-FORWARD')}\n-A FORWARD ${J('NATCHAIN-FORWARD')}\nCOMMIT\n`,
};

function resolveOnGateway(template: string, snapshot: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'natchain-template-'));
  try {
    writeFileSync(join(dir, 'snap'), snapshot);
    const r = spawnSync('awk', ['-v', 'b=iptables', '-v', `snap=${join(dir, 'snap')}`, RESOLVE_AWK], { input: template, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rollout: iptables templates resolved on the gateway', () => {
  const t = example('three-hop');
  const s = solve(t);
  const gw = { ...t.gateways[0]!, backend: 'iptables' as const };
  const targets = {
    'the forwards of a gateway': iptablesDesiredState(gw, s.intents[gw.name] ?? []),
    'no forwards': iptablesDesiredState(gw, []),
    'natchain removed (a rollback to a never-touched gateway)': parseIptablesSave(''),
  };
  for (const [what, target] of Object.entries(targets)) {
    for (const [name, snapshot] of Object.entries(SNAPSHOTS)) {
      it(`${what}, from ${name}: the same text as the renderer's`, () => {
        expect(resolveOnGateway(iptablesTemplate(target), snapshot)).to.equal(renderIptablesRestore(target, parseIptablesSave(snapshot)));
      });
    }
  }

  it('a change to intents is its template (it does not depend on the gateway)', () => {
    expect(changeToIntents(gw, s.intents[gw.name] ?? []).text).to.equal(iptablesTemplate(targets['the forwards of a gateway']));
  });
});
