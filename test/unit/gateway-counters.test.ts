import { expect } from 'chai';
import { parseCounters } from '../../src/gateway/counters.js';

describe('gateway counters', () => {
  it('iptables: sums the DNAT rules of each forward (iptables-save -c lines of NATCHAIN-PREROUTING)', () => {
    const text = [
      '[3:180] -A NATCHAIN-PREROUTING -d 198.51.100.180/32 -i eth0 -p tcp -m tcp --dport 22012 -m comment --comment "natchain:ssh-12" -j DNAT --to-destination 10.0.0.12:22',
      '[2:120] -A NATCHAIN-PREROUTING -s 10.0.1.0/24 -d 198.51.100.180/32 -i eth1 -p tcp -m tcp --dport 22012 -m comment --comment "natchain:ssh-12" -j DNAT --to-destination 10.0.0.12:22',
      '[7:420] -A NATCHAIN-PREROUTING -d 198.51.100.180/32 -i eth0 -p udp -m udp --dport 53 -m comment --comment "natchain:dns%2Fa" -j DNAT --to-destination 10.0.0.53',
      '[9:9] -A NATCHAIN-PREROUTING -m comment --comment "someone-else" -j DNAT --to-destination 10.0.0.9',
    ].join('\n');
    expect([...parseCounters('iptables', text, '')]).to.deep.equal([
      ['ssh-12', { packets: 5, bytes: 300 }],
      ['dns/a', { packets: 7, bytes: 420 }],
    ]);
  });

  it('nftables: the counter on each DNAT rule in the listing of table natchain', () => {
    const dump = [
      'table ip natchain {',
      '\tchain dnat_tcp_198_51_100_180_22012 {',
      '\t\tiifname "eth0" ip daddr 198.51.100.180 tcp dport 22012 counter packets 4 bytes 240 dnat to 10.0.0.12:22 comment "natchain:ssh-12"',
      '\t}',
      '\tchain accept_x {',
      '\t\tct protocol tcp counter packets 99 bytes 9999 accept comment "natchain:ssh-12"',
      '\t}',
      '}',
    ].join('\n');
    expect([...parseCounters('nftables', '', dump)]).to.deep.equal([['ssh-12', { packets: 4, bytes: 240 }]]);
  });
});
