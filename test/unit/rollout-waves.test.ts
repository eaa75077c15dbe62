import { expect } from 'chai';
import { overBudget, parseCanary, parseCount, planWaves, resolveCount } from '../../src/rollout/waves.js';

// Components as the scope gives them: chain-closed groups in topology order.
const comps = [['g01', 'g02'], ['g03'], ['g04', 'g05', 'g06'], ['g07'], ['g08'], ['g09', 'g10'], ['g11'], ['g12', 'g13', 'g14', 'g15', 'g16']];

describe('rollout: wave planner', () => {
  it('no options: one wave with every component', () => {
    const p = planWaves(comps);
    expect(p.waves).to.have.length(1);
    expect(p.waves[0]!.gateways).to.have.length(16);
    expect(p.waves[0]!.canary).to.equal(false);
  });

  it('canary first (the first components that fit), then first-fit waves no bigger than the size; a bigger component is one wave, reported', () => {
    const p = planWaves(comps, { canary: { count: 1 }, waveSize: { n: 4 } });
    expect(p.waves.map((w) => [w.canary, w.gateways.join(' '), w.oversize])).to.deep.equal([
      [true, 'g03', false],
      [false, 'g01 g02 g07 g08', false],
      [false, 'g04 g05 g06 g11', false],
      [false, 'g09 g10', false],
      [false, 'g12 g13 g14 g15 g16', true],
    ]);
    expect(p.waves.map((w) => w.index)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(p.notes).to.deep.equal(['g12, g13, g14, g15, g16 share changed forwards (5 gateways, more than the wave size 4): one wave of their own']);
    for (const w of p.waves.filter((x) => !x.oversize)) expect(w.gateways.length).to.be.at.most(4);
  });

  it('every gateway lands in exactly one wave, components never split', () => {
    const p = planWaves(comps, { canary: { count: 3 }, waveSize: { percent: 25 } });
    const flat = p.waves.flatMap((w) => w.gateways).sort();
    expect(flat).to.deep.equal(comps.flat().sort());
    for (const c of comps) expect(p.waves.filter((w) => c.every((g) => w.gateways.includes(g)))).to.have.length(1);
    expect(p.waveSize).to.equal(4); // 25% of 16
    expect(p.waves[0]!.gateways).to.deep.equal(['g01', 'g02', 'g03']);
  });

  it('canary by name is widened to its component and says so; a canary bigger than its count is reported', () => {
    const p = planWaves(comps, { canary: { gateways: ['g05', 'g99'] } });
    expect(p.waves[0]!.gateways).to.deep.equal(['g04', 'g05', 'g06']);
    expect(p.notes).to.include('canary g99 has nothing to change in this rollout');
    expect(p.notes).to.include('canary widened to whole chains: g04, g06 share changed forwards with g05');
    const big = planWaves([['a', 'b'], ['c', 'd', 'e']], { canary: { count: 1 } });
    expect(big.waves[0]!.gateways).to.deep.equal(['a', 'b']);
    expect(big.waves[0]!.oversize).to.equal(true);
  });

  it('parses N and N%, resolves them, and refuses nonsense', () => {
    expect(parseCount('--wave-size', '10', 1)).to.deep.equal({ n: 10 });
    expect(parseCount('--wave-size', '10%', 1)).to.deep.equal({ percent: 10 });
    expect(() => parseCount('--wave-size', '0', 1)).to.throw(/at least 1/);
    expect(() => parseCount('--max-fail', '120%', 0)).to.throw(/from 0% to 100%/);
    expect(() => parseCount('--max-fail', 'x', 0)).to.throw(/whole number or a percentage/);
    expect(resolveCount({ percent: 10 }, 15, 'up')).to.equal(2);
    expect(resolveCount({ percent: 10 }, 15, 'down')).to.equal(1);
    expect(resolveCount({ percent: 1 }, 15, 'up')).to.equal(1);
    expect(parseCanary('2')).to.deep.equal({ count: 2 });
    expect(parseCanary('gw-a, gw-b')).to.deep.equal({ gateways: ['gw-a', 'gw-b'] });
    expect(overBudget(1, 0)).to.equal(true);
    expect(overBudget(1, 1)).to.equal(false);
  });
});
