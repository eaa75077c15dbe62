// src/topology/addr.ts is the project's one IPv4 module (issue 11: one address library): the
// topology, the solver, the renderers, the shadowing checks and the lab all read addresses here.
import { expect } from 'chai';
import { cidrRange } from '../../src/gateway/flows.js';
import { intToIp, maskPrefix, parseAddressMatch, parseCidr, parseIPv4 } from '../../src/topology/addr.js';

describe('topology: the address module', () => {
  it('reads strict dotted quads only', () => {
    expect(parseIPv4('10.0.0.1')).to.equal(167772161);
    expect(parseIPv4('255.255.255.255')).to.equal(2 ** 32 - 1);
    for (const bad of ['10.0.0', '10.0.0.1.2', '010.0.0.1', '10.0.0.256', '10..0.1', ' 10.0.0.1', '10.0.0.1/8', '', 'a.b.c.d']) expect(parseIPv4(bad), bad).to.equal(-1);
    expect(intToIp(167772161)).to.equal('10.0.0.1');
  });

  it('reads prefixes and dotted netmasks', () => {
    expect(parseCidr('10.1.2.3/8')).to.deep.equal({ address: '10.1.2.3', prefix: 8 });
    expect(parseCidr('10.1.2.3/33')).to.equal(null);
    expect(maskPrefix('255.255.255.0')).to.equal(24);
    expect(maskPrefix('255.255.255.255')).to.equal(32);
    expect(maskPrefix('0.0.0.0')).to.equal(0);
    expect(maskPrefix('255.0.255.0')).to.equal(-1);
    expect(maskPrefix('255.255.255.1')).to.equal(-1);
  });

  it("reads an address match as iptables-save and nft print one, host bits cleared", () => {
    expect(parseAddressMatch('10.1.2.3')).to.deep.equal({ network: parseIPv4('10.1.2.3'), prefix: 32 });
    expect(parseAddressMatch('10.1.2.3/8')).to.deep.equal({ network: parseIPv4('10.0.0.0'), prefix: 8 });
    expect(parseAddressMatch('10.1.2.3/255.255.0.0')).to.deep.equal({ network: parseIPv4('10.1.0.0'), prefix: 16 });
    expect(parseAddressMatch('0.0.0.0/0')).to.deep.equal({ network: 0, prefix: 0 });
    for (const bad of ['10.1.2.3/', '10.1.2.3/40', '10.1.2.3/255.0.255.0', 'eth0', '10.1.2/8']) expect(parseAddressMatch(bad), bad).to.equal(undefined);
    expect(cidrRange('192.0.2.0/255.255.255.0')).to.deep.equal({ lo: parseIPv4('192.0.2.0'), hi: parseIPv4('192.0.2.255') });
  });
});
