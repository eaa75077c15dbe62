import { expect } from 'chai';
import { Chalk } from 'chalk';
import { clip, FLEET_BLOCK_LINES, isForeground, plainFleetProgress, ttyFleetProgress } from '../../src/rollout/progress.js';

/** A tiny terminal: a cursor (row, column), the escapes the renderers use (cursor up, erase line, erase below), `\r` and `\n`. */
class Screen {
  lines: string[] = [''];
  row = 0;
  col = 0;
  write(s: string): boolean {
    const re = /\x1b\[(\d*)([AJK])|([^\x1b])/gu;
    for (const m of s.matchAll(re)) {
      const line = this.lines[this.row]!;
      if (m[3] === '\n') {
        this.row++;
        this.col = 0;
        if (this.lines.length <= this.row) this.lines.push('');
      } else if (m[3] === '\r') this.col = 0;
      else if (m[3] !== undefined) {
        const cells = [...line.padEnd(this.col)];
        cells[this.col++] = m[3];
        this.lines[this.row] = cells.join('');
      } else if (m[2] === 'A') this.row = Math.max(0, this.row - Number(m[1] || 1));
      else if (m[2] === 'K') this.lines[this.row] = m[1] === '2' ? '' : [...line].slice(0, this.col).join('');
      else if (m[2] === 'J') this.lines.splice(this.row + 1), (this.lines[this.row] = [...line].slice(0, this.col).join(''));
    }
    return true;
  }
  text(): string {
    return this.lines.join('\n');
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
    expect(lines[0]).to.match(/^wave 2 of 5: 200 gateway\(s\), \d+\.\ds$/);
    expect(lines[1]).to.equal('  0 waiting, 90 running, 90 ok, 20 failed');
    expect(screen.text()).to.match(/prepare +… +0 +✓ +180 +✗ +20/);
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

  it("a note starts at column 0 even when the terminal echoed `^C` after the block", () => {
    const screen = new Screen();
    const p = ttyFleetProgress(screen as unknown as NodeJS.WriteStream, plain);
    p.wave('wave 1 of 1', fleet.slice(0, 3));
    screen.write('^C');
    p.note('natchain: interrupted');
    screen.write('^C');
    p.start('gw-000', 'rollback');
    p.stop();
    const rows = screen.text().split('\n');
    expect(rows[0]).to.equal('natchain: interrupted');
    expect(rows[1]).to.match(/^wave 1 of 1: 3 gateway\(s\)/);
    expect(screen.text()).to.not.include('^C');
  });

  it('every line fits the terminal width (a wrapped line would make the redraw drift), a multi-line failure is one line', () => {
    const screen = Object.assign(new Screen(), { columns: 40, rows: 24 });
    const p = ttyFleetProgress(screen as unknown as NodeJS.WriteStream, plain);
    p.wave('wave 1 of 1 (canary)', fleet.slice(0, 2));
    p.start('gw-000', 'apply');
    p.finish('gw-000', 'apply', false, 'iptables-restore: line 3 failed\n(restored the snapshot)');
    p.stop();
    const rows = screen.text().split('\n').filter((l) => l !== '');
    for (const r of rows) expect([...r].length, r).to.be.at.most(39);
    expect(rows).to.include('  ✗ gw-000 apply: iptables-restore: li…');
  });

  it('clip counts visible characters only and closes a colour it cuts', () => {
    const red = new Chalk({ level: 1 }).red;
    expect(clip('short', 10)).to.equal('short');
    expect(clip('0123456789abc', 10)).to.equal('012345678…');
    expect(clip(`ab${red('cdefgh')}ij`, 10)).to.equal(`ab${red('cdefgh')}ij`);
    expect(clip(`ab${red('cdefghijkl')}`, 6)).to.equal('ab\x1b[31mcde…\x1b[0m');
  });

  it('a short terminal gets a shorter block (room left for a note and the prompt)', () => {
    const screen = Object.assign(new Screen(), { columns: 80, rows: 12 });
    const p = ttyFleetProgress(screen as unknown as NodeJS.WriteStream, plain);
    p.wave('wave 1 of 1', fleet);
    for (const [i, g] of fleet.entries()) p.finish(g, 'prepare', i % 2 === 0, 'refused');
    p.stop();
    expect(screen.text().split('\n').filter((l) => l !== '').length).to.equal(8);
  });

  it('stop() leaves the block; the next wave draws a new one below what was printed in between (the prompt)', () => {
    const screen = new Screen();
    const p = ttyFleetProgress(screen as unknown as NodeJS.WriteStream, plain);
    expect(screen.text()).to.equal('');
    p.wave('wave 1 of 2', ['gw-a']);
    p.start('gw-a', 'commit');
    p.finish('gw-a', 'commit', true);
    p.stop();
    screen.write('? start wave 2 of 2 (1 gateway(s))? yes\n');
    p.wave('wave 2 of 2', ['gw-b']);
    p.stop();
    const rows = screen.text().split('\n');
    const at = (re: RegExp) => rows.findIndex((r) => re.test(r));
    expect(at(/^wave 1 of 2: 1 gateway/)).to.be.below(at(/start wave 2/));
    expect(at(/start wave 2/)).to.be.below(at(/^wave 2 of 2: 1 gateway/));
  });

  it('the keyboard is only taken in the foreground (a background job setting raw mode would be stopped)', () => {
    // pid (comm) state ppid pgrp session tty_nr tpgid ...: a command name with spaces and parentheses too.
    expect(isForeground('4242 (node) S 4000 4242 4000 34816 4242 4194304 0')).to.equal(true);
    expect(isForeground('4242 (my (odd) name) R 4000 4242 4000 34816 4242 4194304 0')).to.equal(true);
    expect(isForeground('4242 (node) S 4000 4242 4000 34816 4100 4194304 0')).to.equal(false);
    expect(isForeground('4242 (node) S 4000 4242 4000 0 -1 4194304 0')).to.equal(false);
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
