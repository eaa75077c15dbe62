import { expect } from 'chai';
import { Chalk } from 'chalk';
import { FLEET_BLOCK_LINES, plainFleetProgress, ttyFleetProgress, ttyProgress } from '../../src/rollout/progress.js';

/** A tiny terminal: the escapes the renderers use (cursor up, erase line, erase below), and text with newlines. */
class Screen {
  rows: string[] = [''];
  row = 0;
  write(s: string): boolean {
    const re = /\x1b\[(\d*)([AJK])|([^\x1b]+)/g;
    for (const m of s.matchAll(re)) {
      if (m[3] !== undefined) {
        for (const [i, part] of m[3].split('\n').entries()) {
          if (i > 0) {
            this.row++;
            if (this.rows.length <= this.row) this.rows.push('');
          }
          this.rows[this.row] += part;
        }
      } else if (m[2] === 'A') this.row = Math.max(0, this.row - Number(m[1] || 1));
      else if (m[2] === 'K') this.rows[this.row] = '';
      else if (m[2] === 'J') this.rows.splice(this.row + 1), (this.rows[this.row] = '');
    }
    return true;
  }
  text(): string {
    return this.rows.join('\n');
  }
}

describe('rollout: fleet progress', () => {
  const plain = new Chalk({ level: 0 });
  const fleet = Array.from({ length: 200 }, (_, i) => `gw-${String(i).padStart(3, '0')}`);

  it('200 gateways, many failures: the block fits 24 lines and names failures, counts phases, shows the wave', () => {
    const screen = new Screen();
    const p = ttyFleetProgress(screen as unknown as NodeJS.WriteStream, plain);
    p.wave('wave 2 of 5', fleet);
    for (const g of fleet) p.start(g, 'prepare');
    for (const [i, g] of fleet.entries()) p.finish(g, 'prepare', i % 10 !== 0, `load refused on ${g}`);
    for (const g of fleet.slice(100).filter((_, i) => i % 10 !== 0)) p.start(g, 'apply');
    p.stop();
    const lines = screen.text().split('\n').filter((l) => l !== '');
    expect(lines.length).to.be.at.most(FLEET_BLOCK_LINES);
    expect(lines.length).to.be.below(24);
    expect(lines[0]).to.match(/^wave 2 of 5: 200 gateway\(s\): 0 waiting, 90 running, 90 ok, 20 failed/);
    expect(screen.text()).to.match(/prepare +… +0 +✓ +90 +✗ +20/);
    expect(screen.text()).to.match(/apply +… +90/);
    expect(screen.text()).to.include('✗ gw-000 prepare: load refused on gw-000');
    expect(screen.text()).to.include('more failed');
  });

  it('a note (the Ctrl-C notice) stays on screen above the block through later redraws', () => {
    const screen = new Screen();
    const p = ttyFleetProgress(screen as unknown as NodeJS.WriteStream, plain);
    p.wave('wave 1 of 3 (canary)', fleet.slice(0, 3));
    p.start('gw-000', 'prepare');
    p.note('natchain: interrupted; rolling back at the next step');
    for (let i = 0; i < 5; i++) {
      p.finish('gw-000', 'prepare', true);
      p.start('gw-001', 'prepare');
      p.wave('wave 1 of 3 (canary)', fleet.slice(0, 3));
    }
    p.stop();
    const text = screen.text();
    expect(text.split('\n')[0]).to.equal('natchain: interrupted; rolling back at the next step');
    expect(text.match(/interrupted/g)).to.have.length(1);
    expect(text).to.include('wave 1 of 3 (canary): 3 gateway(s)');
  });

  it('the per-gateway view too: a note is printed once, above the block, and survives redraws', () => {
    const screen = new Screen();
    const p = ttyProgress(screen as unknown as NodeJS.WriteStream, ['gw-a', 'gw-b'], plain);
    p.start('gw-a', 'lock');
    p.note('natchain: interrupted');
    p.finish('gw-a', 'lock', true);
    p.start('gw-b', 'lock');
    p.stop();
    const rows = screen.text().split('\n');
    expect(rows[0]).to.equal('natchain: interrupted');
    expect(rows.filter((r) => r.includes('gw-'))).to.have.length(2);
  });

  it('without a terminal: a line per wave and per finished phase', () => {
    let out = '';
    const p = plainFleetProgress({ write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream);
    p.wave('wave 1 of 2 (canary)', ['gw-a']);
    p.start('gw-a', 'prepare');
    p.finish('gw-a', 'prepare', false, 'refused');
    expect(out).to.match(/^wave 1 of 2 \(canary\): gw-a\ngw-a: prepare FAILED \(\d+\.\d+s\): refused\n$/);
  });
});
