import { expect } from 'chai';
import { waitingText } from '../../src/rollout/tx-abort.js';

describe('rollout: the note for gateways left to their dead-man timers', () => {
  const now = Date.parse('2026-01-01T12:00:00.000Z');
  it('names one gateway in the singular and several in the plural, with the time ahead', () => {
    expect(waitingText(['gw-dc'], now + 9000, now, 60)).to.equal('; gw-dc could not be reached and restores itself when its dead-man timer fires (by 2026-01-01T12:00:09.000Z)');
    expect(waitingText(['gw-edge', 'gw-dc'], now + 9000, now, 60)).to.equal(
      '; gw-edge, gw-dc could not be reached and restore themselves when their dead-man timers fire (by 2026-01-01T12:00:09.000Z)',
    );
  });
  it('never gives a time already past as ahead', () => {
    expect(waitingText(['gw-dc'], now - 1000, now, 60)).to.equal('; gw-dc could not be reached; its dead-man timer was due to restore its snapshot by 2026-01-01T11:59:59.000Z');
    expect(waitingText(['gw-a', 'gw-b'], now, now, 60)).to.equal('; gw-a, gw-b could not be reached; their dead-man timers were due to restore their snapshots by 2026-01-01T12:00:00.000Z');
  });
  it('says "within" when no time is known, and nothing when no gateway waits', () => {
    expect(waitingText(['gw-a'], undefined, now, 30)).to.equal('; gw-a could not be reached and restores itself when its dead-man timer fires (within 30s)');
    expect(waitingText([], now, now, 30)).to.equal('');
  });
});
