import { expect } from 'chai';
import { formatRollout } from '../../src/cli/rollout.js';
import type { RolloutReport } from '../../src/rollout/fleet.js';

const report = (notes: string[]): RolloutReport => ({
  rollout: 'R1',
  scope: { gateways: ['gw-a', 'gw-b'], forwards: [], limitAdded: [], left: [] },
  outside: [],
  waves: [
    { index: 1, canary: false, gateways: ['gw-a'], status: 'committed', tx: 'T1' },
    { index: 2, canary: false, gateways: ['gw-b'], status: 'not-started', tx: null },
  ],
  notes,
  reads: Object.create(null),
  refreshed: false,
  summary: '1 wave committed, 0 rolled back, 1 not started',
  elapsedMs: 10,
});

describe('cli: the rollout report', () => {
  it('shows each note once: those the plan already showed are left out of the report', () => {
    const r = report(['wave note shown in the plan', 're-planned: gw-b was not as natchain last recorded']);
    const all = formatRollout(r, 't.yaml');
    expect(all).to.include('wave note shown in the plan').and.include('re-planned: gw-b');
    const after = formatRollout(r, 't.yaml', 'apply', new Set(['wave note shown in the plan']));
    expect(after).to.not.include('wave note shown in the plan');
    expect(after).to.include('re-planned: gw-b').and.include('1 wave committed, 0 rolled back, 1 not started');
  });

  it('--no-check-outside: the gateways outside are listed as not contacted, in sync by natchain\'s records, with when those were made', () => {
    const r = report([]);
    r.waves = [r.waves[0]!];
    r.summary = '1 wave committed, 0 rolled back, 0 not started';
    const untouched = (gateway: string, since: string) => ({ gateway, status: 'unchanged' as const, reach: 'not-checked' as const, detail: 'not in this change; not contacted: as natchain last recorded it', since });
    r.outside = [untouched('gw-c', '2026-01-01T10:00:00.000Z'), untouched('gw-d', '2026-01-02T09:00:00.000Z')];
    const text = formatRollout(r, 't.yaml');
    expect(text).to.include("not in this change, not contacted (--no-check-outside): in sync by natchain's records of 2026-01-01T10:00:00.000Z to 2026-01-02T09:00:00.000Z: gw-c, gw-d");
    expect(text).to.not.match(/^unchanged/m);
    r.outside = [untouched('gw-c', '2026-01-01T10:00:00.000Z')];
    expect(formatRollout(r, 't.yaml')).to.include("in sync by natchain's record of 2026-01-01T10:00:00.000Z: gw-c");
  });
});
