// The transaction's all-or-nothing logic against scripted fake gateways (no SSH, no kernel): the
// failure paths that are hard to provoke for real (an answer lost at exactly the wrong moment).
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatchainError } from '../../src/errors.js';
import { Journal } from '../../src/rollout/journal.js';
import { recover } from '../../src/rollout/recover.js';
import { canonicalOf } from '../../src/rollout/owned.js';
import { runTransaction, silentProgress, TransactionError } from '../../src/rollout/transaction.js';
import type { Topology } from '../../src/topology/types.js';
import type { Connector } from '../../src/transport/types.js';
import { example } from '../support/topo.js';
import { testTxOptions } from '../support/tx.js';
import { FakeSession, type FakeAnswer, type FakeCall } from './rollout-fake.js';

const LOADED = 'table ip natchain {\n\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t}\n}\n';

describe('rollout: transaction against fake gateways', () => {
  let dir = '';
  let topology: Topology;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'natchain-tx-unit-'));
    const t = example('seed-vpn');
    topology = { ...t, gateways: t.gateways.map((g) => ({ ...g, backend: 'nftables' as const })) };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A gateway that does everything right, unless `override` answers first. */
  const healthy = (call: FakeCall): FakeAnswer => {
    switch (call.op) {
      case 'prepare':
        return { sections: { snapshot: '', forward: '1\n', last: '', now: '1\n', staged: '' } };
      case 'commit':
        return { sections: { ok: '' } };
      case 'apply':
        return { sections: { readback: LOADED, deadline: '100\n' } };
      case 'abort':
        return { sections: { state: call.args[0] === '1' ? 'rolled-back\n' : 'aborted\n' } };
      default:
        return { sections: {} };
    }
  };

  function setup(override: (call: FakeCall, s: FakeSession) => FakeAnswer | undefined, fresh?: Connector) {
    const calls: FakeCall[] = [];
    const connector: Connector = async (_t, g) => new FakeSession(g.name, (c, s) => override(c, s) ?? healthy(c), calls);
    const o = testTxOptions(dir, {
      topology,
      target: () => ({ text: LOADED, expected: canonicalOf('nftables', LOADED) }),
      needsForwarding: () => false,
      connector,
      fresh: fresh ?? connector,
    });
    return { calls, o };
  }

  it('the fake is sound: a clean transaction commits in 3 execs per gateway, the commit over a new connection', async () => {
    expect(canonicalOf('nftables', LOADED)).to.not.equal(canonicalOf('nftables', ''));
    const { calls, o } = setup(() => undefined);
    const r = await runTransaction(o);
    expect(r.outcome).to.equal('committed');
    expect(calls.filter((c) => c.gateway === 'gw-a').map((c) => c.op)).to.deep.equal(['prepare', 'apply', 'commit']);
  });

  it('nothing reports progress while the confirmation prompt is up (unchanged gateways are released before it)', async () => {
    const { calls, o } = setup(() => undefined);
    // gw-a is already as desired: only gw-b changes.
    o.target = (g) => (g.name === 'gw-a' ? { text: '', expected: canonicalOf('nftables', '')} : { text: LOADED, expected: canonicalOf('nftables', LOADED)});
    const events: string[] = [];
    let prompting = false;
    o.progress = {
      start: (g, p) => void events.push(`${prompting ? 'DURING PROMPT ' : ''}${g} ${p}`),
      finish: (g, p) => void events.push(`${prompting ? 'DURING PROMPT ' : ''}${g} ${p} done`),
      note: (m) => void events.push(`${prompting ? 'DURING PROMPT ' : ''}${m}`),
    };
    o.confirm = async () => {
      prompting = true;
      await new Promise((r) => setTimeout(r, 20));
      prompting = false;
      return true;
    };
    const r = await runTransaction(o);
    expect(r.outcome).to.equal('committed');
    expect(events.filter((e) => e.startsWith('DURING'))).to.deep.equal([]);
    expect(events).to.include('gw-a release done');
    expect(r.gateways.find((g) => g.gateway === 'gw-a')).to.include({ state: 'unchanged', roundTrips: 2 });
    expect(calls.filter((c) => c.gateway === 'gw-a').map((c) => c.op)).to.deep.equal(['prepare', 'abort']);
  });

  it('a lock whose answer was lost (timeout) is released by the abort too', async () => {
    const { calls, o } = setup((c) => (c.gateway === 'gw-b' && c.op === 'prepare' ? { timeout: 'no answer within 120 s' } : undefined));
    const err = await runTransaction(o).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TransactionError);
    const aborts = calls.filter((c) => c.op === 'abort').map((c) => c.gateway).sort();
    expect(aborts).to.deep.equal(['gw-a', 'gw-b']);
    const r = (err as TransactionError).report;
    expect(r.outcome).to.equal('aborted');
    expect(r.gateways.find((g) => g.gateway === 'gw-b')!.state).to.equal('released');
  });

  it('a lock whose answer was lost and that cannot be released is inconsistent (recover picks it up)', async () => {
    const { o } = setup((c) => (c.gateway === 'gw-b' && (c.op === 'prepare' || c.op === 'abort') ? { lose: 'connection reset' } : undefined), async (_t, g) => {
      throw new NatchainError('SSH', `${g.name}: no route`);
    });
    const err = (await runTransaction(o).catch((e: unknown) => e)) as TransactionError;
    expect(err).to.be.instanceOf(TransactionError);
    expect(err.report.outcome).to.equal('inconsistent');
    expect(err.message).to.match(/natchain recover/);
  });

  it('a clean lock refusal releases only the gateways that locked', async () => {
    const { calls, o } = setup((c) =>
      c.gateway === 'gw-b' && c.op === 'prepare' ? { sections: { held: '20260101T120000Z-a1b2c3\nroot@ops:1\n1\n', now: '5\n' }, code: 4 } : undefined,
    );
    const err = (await runTransaction(o).catch((e: unknown) => e)) as TransactionError;
    expect(err.code).to.equal('LOCKED');
    expect(calls.filter((c) => c.op === 'abort').map((c) => c.gateway)).to.deep.equal(['gw-a']);
  });

  it('a commit whose connection died and that cannot be reached again is inconsistent, not rolled back', async () => {
    const { o } = setup(
      (c) => (c.gateway === 'gw-b' && (c.op === 'commit' || c.op === 'abort') ? { lose: 'connection reset' } : undefined),
      async (_t, g) => {
        // The verify probe gets in; after the commit's connection died, gw-b is unreachable.
        if (g.name === 'gw-b' && committing) throw new NatchainError('SSH', `${g.name}: no route`);
        return new FakeSession(g.name, (c) => (c.gateway === 'gw-b' && c.op === 'commit' ? { lose: 'connection reset' } : healthy(c)), []);
      },
    );
    let committing = false;
    o.progress = { ...silentProgress, start: (_g, p) => void (p === 'commit' && (committing = true)) };
    const err = (await runTransaction(o).catch((e: unknown) => e)) as TransactionError;
    expect(err).to.be.instanceOf(TransactionError);
    expect(err.report.outcome).to.equal('inconsistent');
    expect(err.message).to.match(/natchain recover/);
    const b = err.report.gateways.find((g) => g.gateway === 'gw-b')!;
    expect(b.state).to.equal('unknown');
    expect(b.detail).to.match(/may have committed/);
    // gw-a committed; it is undone so that it does not disagree with a gw-b its timer reverts.
    expect(err.report.gateways.find((g) => g.gateway === 'gw-a')!.state).to.equal('rolled-back');
  });
});

describe('rollout: recover against fake gateways', () => {
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'natchain-recover-unit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('asks for the transport settings and opens one pool once per transaction, and closes it', async () => {
    const journal = new Journal(dir);
    const tx = '20260101T120000Z-abcdef';
    const topology = example('seed-vpn');
    journal.append({ type: 'begin', tx, time: '2026-01-01T12:00:00Z', kind: 'apply', owner: 'a@elsewhere:1', topology: topology.file, gateways: ['gw-a', 'gw-b'], confirmTimeoutSec: 60 });
    journal.flush();
    const calls: FakeCall[] = [];
    let asked = 0;
    let opened = 0;
    let closed = 0;
    const results = await recover({
      journal,
      topologyOf: async () => topology,
      connect: () => (asked++, {}),
      sessions: () => {
        opened++;
        return {
          connector: async (_t, g) => new FakeSession(g.name, (c): FakeAnswer => (c.op === 'inspect' ? { sections: { txstate: 'locked\n' } } : { sections: { state: 'aborted\n' } }), calls),
          close: async () => void closed++,
        };
      },
      concurrency: 4,
    });
    expect(results.transactions.map((r) => r.outcome)).to.deep.equal(['rolled-back']);
    expect(results.unread).to.deep.equal([]);
    expect(calls.map((c) => `${c.gateway} ${c.op}`).sort()).to.deep.equal(['gw-a abort', 'gw-a inspect', 'gw-b abort', 'gw-b inspect']);
    expect({ asked, opened, closed }).to.deep.equal({ asked: 1, opened: 1, closed: 1 });
  });
});

describe('rollout: scope of a transaction (fake gateways)', () => {
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'natchain-scope-unit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a gateway outside the change that cannot be reached blocks nothing and is reported "unreachable (not in this change)"', async () => {
    const t = example('hub-vpn');
    const topology = { ...t, gateways: t.gateways.map((g) => ({ ...g, backend: 'nftables' as const })) };
    const [inA, inB, out] = topology.gateways.map((g) => g.name);
    const calls: FakeCall[] = [];
    const healthy = (c: FakeCall): FakeAnswer =>
      c.op === 'prepare' ? { sections: { snapshot: '', forward: '1\n', last: '', now: '1\n', staged: '' } } : c.op === 'apply' ? { sections: { readback: LOADED, deadline: '100\n' } } : { sections: { ok: '' } };
    const connector: Connector = async (_t, g) => {
      if (g.name === out) throw new NatchainError('SSH', `${g.name}: connect ETIMEDOUT`);
      return new FakeSession(g.name, healthy, calls);
    };
    const r = await runTransaction(
      testTxOptions(dir, {
        topology,
        gateways: [inA!, inB!],
        outOfScope: [out!],
        target: () => ({ text: LOADED, expected: canonicalOf('nftables', LOADED) }),
        needsForwarding: () => false,
        connector,
      }),
    );
    expect(r.outcome).to.equal('committed');
    expect(r.gateways.find((g) => g.gateway === out)).to.include({ scope: 'out', state: 'unreachable', roundTrips: 0, detail: 'unreachable (not in this change): connect ETIMEDOUT' });
    for (const n of [inA, inB]) expect(r.gateways.find((g) => g.gateway === n)).to.include({ scope: 'in', state: 'committed', roundTrips: 3 });
    expect(calls.some((c) => c.gateway === out)).to.equal(false);
  });
});
