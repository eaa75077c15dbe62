import { expect } from 'chai';
import { parseSavedPlan, serializePlan, sha256, staleGateways, type SavedPlan } from '../../src/rollout/planfile.js';

function plan(): SavedPlan {
  const text = 'version: 1\n';
  return {
    format: 'natchain-plan',
    version: 1,
    created: '2026-01-01T00:00:00.000Z',
    topology: { path: '/x/t.yaml', sha256: sha256(text), text },
    lockFile: '/x/t.lock',
    lock: { version: 1, ports: {} },
    lockChanged: false,
    chains: [],
    gateways: [
      { gateway: 'gw-a', backend: 'nftables', intents: [], desired: 'A', live: 'a0', liveHash: sha256('a0'), changed: true },
      { gateway: 'gw-b', backend: 'nftables', intents: [], desired: 'B', live: 'b0', liveHash: sha256('b0'), changed: false },
      { gateway: 'gw-c', backend: 'nftables', intents: [], desired: 'C', live: null, liveHash: null, changed: false },
    ],
  };
}

describe('rollout: saved plans', () => {
  it('round-trips and refuses what is not a plan, another version or an edited topology', () => {
    const p = plan();
    expect(parseSavedPlan(serializePlan(p), 'p.json')).to.deep.equal(p);
    expect(() => parseSavedPlan('{', 'p.json')).to.throw(/p.json is not a natchain plan \(not JSON/);
    expect(() => parseSavedPlan('{"format":"x"}', 'p.json')).to.throw(/not a natchain plan/);
    expect(() => parseSavedPlan(JSON.stringify({ ...p, version: 2 }), 'p.json')).to.throw(/version 2 is not supported/);
    expect(() => parseSavedPlan(JSON.stringify({ ...p, topology: { ...p.topology, text: 'version: 2\n' } }), 'p.json')).to.throw(/does not match its hash/);
    const edited = { ...p, gateways: [{ ...p.gateways[0]!, live: 'a1' }, ...p.gateways.slice(1)] };
    expect(() => parseSavedPlan(JSON.stringify(edited), 'p.json')).to.throw(/state recorded for gw-a does not match its hash/);
  });

  it('names every gateway whose state changed since (unreachable ones are left to the scope)', () => {
    const live = new Map<string, string | Error>([
      ['gw-a', 'a0'],
      ['gw-b', 'b1'],
      ['gw-c', new Error('down')],
    ]);
    const saved = new Map(plan().gateways.map((g) => [g.gateway, g.live]));
    expect(staleGateways(saved, live)).to.deep.equal([{ gateway: 'gw-b', reason: "natchain's state changed since the plan was made" }]);
    live.set('gw-c', 'c0');
    expect(staleGateways(saved, live).map((s) => s.gateway)).to.deep.equal(['gw-b', 'gw-c']);
  });
});
