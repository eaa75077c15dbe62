import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as natchain from '../../src/index.js';

describe('library entry point (package main)', () => {
  it('takes a topology from text to rendered rules and a diff, as the CLI does', () => {
    const text = readFileSync('topologies/seed-vpn.yaml', 'utf8');
    const { topology, solution } = natchain.compile(text, 'seed-vpn.yaml');
    const gwB = topology.gateways.find((g) => g.name === 'gw-b')!;
    expect(natchain.renderRuleset(gwB, solution.intents['gw-b']!)).to.contain('--to-destination 143.89.197.180:22012');
    const a = natchain.buildState({ label: 'a', topology });
    expect(natchain.diffStates(a, a).identical).to.equal(true);
    expect(typeof natchain.lab.labUp).to.equal('function');
    expect(typeof natchain.transport.connect).to.equal('function');
    expect(() => natchain.compile('sites: 1', 'x.yaml')).to.throw(natchain.TopologyError);
  });
});
