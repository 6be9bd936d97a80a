import test from 'ava';
import {
  formatDuration,
  parseBool,
  parseCidr,
  parseDuration,
  parseHostPort,
  ValueError,
} from '../../../lib/config/values.ts';

const durations: [string, number][] = [
  ['0', 0],
  ['0s', 0],
  ['30s', 30_000],
  ['1m30s', 90_000],
  ['500ms', 500],
  ['1h', 3_600_000],
  ['1.5s', 1500],
  ['2h45m', 9_900_000],
  ['100us', 0.1],
  ['24h0m0s', 86_400_000],
];
for (const [text, ms] of durations) {
  test(`parseDuration(${text}) = ${ms} ms`, (t) => t.is(parseDuration(text), ms));
}
for (const bad of ['', '30', '-1s', '1d', 's', '1m30', 'ten seconds', '1.2.3s']) {
  test(`parseDuration rejects ${JSON.stringify(bad)}`, (t) => {
    t.throws(() => parseDuration(bad), { instanceOf: ValueError });
  });
}

const formatted: [number, string][] = [
  [0, '0s'],
  [500, '500ms'],
  [30_000, '30s'],
  [90_000, '1m30s'],
  [86_400_000, '24h0m0s'],
];
for (const [ms, text] of formatted) {
  test(`formatDuration(${ms}) = ${text}`, (t) => t.is(formatDuration(ms), text));
}

const hostPorts: [string, { host: string; port: number } | undefined][] = [
  ['0.0.0.0:10256', { host: '0.0.0.0', port: 10256 }],
  ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
  ['[::]:80', { host: '::', port: 80 }],
  ['[fd00::1]:8443', { host: 'fd00::1', port: 8443 }],
  ['10.0.0.1', { host: '10.0.0.1', port: 9999 }],
  ['::1', { host: '::1', port: 9999 }],
  ['', undefined],
];
for (const [text, expected] of hostPorts) {
  test(`parseHostPort(${JSON.stringify(text)})`, (t) => t.deepEqual(parseHostPort(text, 9999), expected));
}
for (const bad of ['localhost:80', '0.0.0.0:', '0.0.0.0:65536', ':::80', '[::]', '[::]80', '1.2.3:80', '0.0.0.0:http', '010.0.0.1:80']) {
  test(`parseHostPort rejects ${JSON.stringify(bad)}`, (t) => {
    t.throws(() => parseHostPort(bad, 1), { instanceOf: ValueError });
  });
}

for (const good of ['10.244.0.0/16', '10.244.1.5/24', 'fd00:244::/56', '0.0.0.0/0', '::/0']) {
  test(`parseCidr accepts ${good}`, (t) => t.is(parseCidr(good), good));
}
for (const bad of ['10.244.0.0', '10.244.0.0/33', 'fd00::/129', '10.244/16', 'x/8', '10.0.0.0/-1', '010.0.0.0/8']) {
  test(`parseCidr rejects ${bad}`, (t) => {
    t.throws(() => parseCidr(bad), { instanceOf: ValueError });
  });
}

test('parseBool reads Go-style booleans', (t) => {
  t.deepEqual(['true', '1', 'T', 'false', '0', 'F'].map(parseBool), [true, true, true, false, false, false]);
  t.throws(() => parseBool('yes'), { instanceOf: ValueError });
});
