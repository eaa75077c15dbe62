import { expect } from 'chai';
import { Chalk } from 'chalk';
import { ttyFleetProgress } from '../../src/rollout/progress.js';

describe('rollout: progress on a terminal', () => {
  it('never moves the cursor after stop() (the prompt and the plan printed after it stay intact)', () => {
    const out: string[] = [];
    const stream = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WriteStream;
    const p = ttyFleetProgress(stream, new Chalk({ level: 0 }));
    p.wave('wave 1 of 1', ['gw-a', 'gw-b']);
    p.start('gw-a', 'lock');
    p.note('first');
    expect(out.join('')).to.include('\x1b[2A');
    p.stop();
    out.length = 0;
    p.start('gw-a', 'release');
    p.finish('gw-a', 'release', true);
    p.stop();
    expect(out.join('')).to.equal('');
    p.note('a note');
    expect(out.join('')).to.equal('\r\x1b[Ka note\n');
  });
});
