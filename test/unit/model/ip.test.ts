import test from 'ava';
import { cidrContains, joinHostPort, parseCIDR, parseIP } from '../../../lib/model/ip.ts';

const ipCases: [string, string | undefined, 4 | 6 | undefined][] = [
  ['10.0.0.1', '10.0.0.1', 4],
  ['010.000.000.001', '10.0.0.1', 4], // Go's ParseIPSloppy reads leading zeros as decimal
  ['10.0.0.256', undefined, undefined],
  ['10.1', undefined, undefined],
  ['0x0a.0.0.1', undefined, undefined],
  ['2001:DB8::0:1', '2001:db8::1', 6],
  ['::1', '::1', 6],
  ['fe80::1%eth0', undefined, undefined],
  ['::ffff:1.2.3.4', undefined, undefined],
  ['example.com', undefined, undefined],
  ['', undefined, undefined],
];
for (const [input, ip, family] of ipCases) {
  test(`parseIP ${JSON.stringify(input)}`, (t) => {
    const parsed = parseIP(input);
    t.is(parsed?.ip, ip);
    t.is(parsed?.family, family);
  });
}

const cidrCases: [string, string | undefined][] = [
  ['10.1.2.3/8', '10.0.0.0/8'],
  ['10.0.0.1', '10.0.0.1/32'],
  ['2001:db8::1', '2001:db8::1/128'],
  ['2001:db8:1:2::/33', '2001:db8::/33'],
  ['0.0.0.0/0', '0.0.0.0/0'],
  [' 192.168.1.0/24 ', '192.168.1.0/24'],
  ['10.0.0.0/33', undefined],
  ['10.0.0.0/', undefined],
  ['10.0.0.0/-1', undefined],
  ['fd00::/129', undefined],
];
for (const [input, cidr] of cidrCases) {
  test(`parseCIDR ${JSON.stringify(input)}`, (t) => {
    t.is(parseCIDR(input)?.cidr, cidr);
  });
}

test('cidrContains respects prefix and family', (t) => {
  t.true(cidrContains('192.168.0.0/24', '192.168.0.10'));
  t.false(cidrContains('192.168.0.0/24', '192.168.1.10'));
  t.false(cidrContains('0.0.0.0/0', 'fd00::1'));
  t.true(cidrContains('fd00::/8', 'fd00::1'));
});

test('joinHostPort brackets IPv6', (t) => {
  t.is(joinHostPort('10.0.0.1', 80), '10.0.0.1:80');
  t.is(joinHostPort('fd00::1', 80), '[fd00::1]:80');
});
