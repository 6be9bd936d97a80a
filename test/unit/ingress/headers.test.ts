import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { checkCertificatePair, generateSelfSigned } from '../../../lib/ingress/certificates.ts';
import { clientAddress, forwardRequestHeaders, forwardResponseHeaders } from '../../../lib/ingress/headers.ts';

const ctx = { clientIp: '192.0.2.1', proto: 'https' as const, listenerPort: 443, newRequestId: () => 'generated' };

const asMap = (flat: readonly string[]): Map<string, string[]> => {
  const m = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    m.set(k, [...(m.get(k) ?? []), flat[i + 1]!]);
  }
  return m;
};

const requestCases: readonly { name: string; raw: string[]; upgrade?: string; expect: Record<string, string[] | undefined> }[] = [
  {
    name: 'hop-by-hop and Connection-listed headers are dropped',
    raw: ['Host', 'h', 'Connection', 'keep-alive, X-Secret', 'X-Secret', '1', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Trailer', 'X-T', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Proxy-Authorization', 'Basic x', 'Proxy', 'http://evil', 'Proxy-Connection', 'keep-alive', 'Expect', '100-continue', 'X-Keep', 'yes'],
    expect: { 'x-secret': undefined, 'keep-alive': undefined, te: undefined, trailer: undefined, 'transfer-encoding': undefined, upgrade: undefined, 'proxy-authorization': undefined, proxy: undefined, 'proxy-connection': undefined, expect: undefined, connection: undefined, 'x-keep': ['yes'], host: ['h'] },
  },
  {
    name: 'X-Forwarded-For appends across several incoming headers; proto/host/port/real-ip replaced',
    raw: ['Host', 'app:8443', 'X-Forwarded-For', '10.0.0.1, 10.0.0.2', 'x-forwarded-for', '10.0.0.3', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'spoof', 'X-Real-IP', 'spoof'],
    expect: { 'x-forwarded-for': ['10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.1'], 'x-forwarded-proto': ['https'], 'x-forwarded-host': ['app:8443'], 'x-forwarded-port': ['443'], 'x-real-ip': ['192.0.2.1'] },
  },
  {
    name: 'Connection: keep-alive alone drops nothing else; every header is kept in order',
    raw: ['Host', 'h', 'Connection', 'keep-alive', 'Accept', '*/*', 'accept', 'text/html'],
    expect: { connection: undefined, host: ['h'], accept: ['*/*', 'text/html'] },
  },
  {
    name: 'several Connection headers each name headers to drop, case-insensitively',
    raw: ['Connection', 'close', 'connection', ' X-A , x-b', 'x-a', '1', 'X-B', '2', 'X-C', '3'],
    expect: { 'x-a': undefined, 'x-b': undefined, 'x-c': ['3'] },
  },
  {
    name: 'X-Forwarded-For: empty incoming values are skipped',
    raw: ['X-Forwarded-For', ' ', 'X-Forwarded-For', ' 10.0.0.9 '],
    expect: { 'x-forwarded-for': ['10.0.0.9, 192.0.2.1'] },
  },
  {
    name: 'X-Request-ID kept when sane',
    raw: ['X-Request-ID', 'req-42'],
    expect: { 'x-request-id': ['req-42'] },
  },
  {
    name: 'X-Request-ID replaced when unusable',
    raw: ['X-Request-ID', 'has space'],
    expect: { 'x-request-id': ['generated'] },
  },
  {
    name: 'WebSocket keeps Connection: Upgrade and Upgrade',
    raw: ['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'],
    upgrade: 'websocket',
    expect: { connection: ['Upgrade'], upgrade: ['websocket'], 'sec-websocket-key': ['k'] },
  },
];

for (const c of requestCases) {
  test(`request headers: ${c.name}`, (t) => {
    const out = asMap(forwardRequestHeaders(c.raw, { ...ctx, ...(c.upgrade ? { upgrade: c.upgrade } : {}) }).headers);
    for (const [k, v] of Object.entries(c.expect)) t.deepEqual(out.get(k), v, k);
  });
}

test('response headers: hop-by-hop and Connection-listed dropped, Server replaced, others kept', (t) => {
  const out = forwardResponseHeaders({
    connection: 'x-internal',
    'x-internal': 'a',
    'keep-alive': 'timeout=1',
    'transfer-encoding': 'chunked',
    'proxy-authenticate': 'Basic',
    server: 'apache',
    'set-cookie': ['a=1', 'b=2'],
    'content-length': '10',
  });
  t.deepEqual(out, ['set-cookie', ['a=1', 'b=2'], 'content-length', '10', 'server', 'switchyard']);
});

const addresses: readonly [string | undefined, string][] = [
  ['::ffff:127.0.0.1', '127.0.0.1'],
  ['::1', '::1'],
  ['10.1.2.3', '10.1.2.3'],
  [undefined, ''],
];
for (const [input, expected] of addresses) {
  test(`clientAddress(${String(input)})`, (t) => t.is(clientAddress(input), expected));
}

test('generateSelfSigned: a valid, self-verifying certificate that matches its key', (t) => {
  const now = new Date('2031-06-01T00:00:00Z');
  const pair = generateSelfSigned('default.switchyard.invalid', 30, now);
  const x = new X509Certificate(pair.cert);
  t.is(x.subject, 'CN=default.switchyard.invalid');
  t.is(x.subjectAltName, 'DNS:default.switchyard.invalid');
  t.true(x.verify(x.publicKey));
  t.is(new Date(x.validTo).getTime(), now.getTime() + 30 * 86_400_000);
  t.is(checkCertificatePair(pair.cert, pair.key), undefined);
});

test('generateSelfSigned uses GeneralizedTime past 2049', (t) => {
  const x = new X509Certificate(generateSelfSigned('late.invalid', 365, new Date('2060-01-01T00:00:00Z')).cert);
  t.is(new Date(x.validFrom).getUTCFullYear(), 2059);
});

test('checkCertificatePair explains what is wrong', (t) => {
  const a = generateSelfSigned('a.invalid');
  const b = generateSelfSigned('b.invalid');
  t.is(checkCertificatePair(a.cert, b.key), 'tls.key does not match tls.crt');
  t.regex(checkCertificatePair('garbage', a.key) ?? '', /does not parse/);
  t.regex(checkCertificatePair(a.cert, 'garbage') ?? '', /tls.key is unusable/);
});
