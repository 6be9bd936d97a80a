/**
 * Differential check of parseRequestHead against llhttp: whatever the fast path accepts, node:http must accept too
 * and see the same method, url, raw headers, content-length and keep-alive. Requests are valid ones mutated at
 * random (seeded, so failures reproduce); the ones we hand off need no agreement.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { parseRequestHead, type RequestHead } from '../../lib/ingress/http1/request-head.ts';

// Override to explore: HTTP1_DIFF_SEED=123 HTTP1_DIFF_CASES=20000 npx ava test/ingress/http1-differential.test.ts
const CASES = Number(process.env['HTTP1_DIFF_CASES'] ?? 2500);
const SEED = Number(process.env['HTTP1_DIFF_SEED'] ?? 0x5eed1);
const CONCURRENCY = 32;
const CASE_TIMEOUT_MS = 2000;

type Random = () => number;

/** mulberry32: a tiny seeded PRNG. */
function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const randomString = (random: Random, alphabet: readonly string[], maxLength: number): string =>
  Array.from({ length: 1 + Math.floor(random() * maxLength) }, () => pick(random, alphabet)).join('');

const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split('');
const NAME_CHARS = [...letters, ...letters, ...'-_.!#$%&\'*+^`|~'.split(''), ' ', '\t', '(', '@', '"', ':', '\0', '\xe9', '/'];
const VALUE_CHARS = [...letters, ...letters, ' ', ' ', '\t', ',', ';', '=', '"', '\xe9', '\xff', '\x80', '\x7f', '\0', '\x01', '\x0b', '\r', '\n'];
const TARGET_CHARS = [...letters, ...letters, '/', '/', '?', '&', '=', '%', '#', '"', '<', '{', '|', '\\', '^', '`', '~', ' ', '\t', '\x7f', '\xe9', '\0'];
const METHODS = ['GET', 'GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'PURGE', 'M-SEARCH', 'QUERY', 'get', 'Get',
  'FOO', 'CONNECT', 'PRI', 'G ET', '', 'GET\t', 'POST!', 'GETS'];
const VERSIONS = ['HTTP/1.0', 'HTTP/1.1 ', 'http/1.1', 'HTTP/2.0', 'HTTP/1.1\t', 'HTTP/1.10', 'HTTP/1.', 'HTTP/0.9'];
const SPECIAL_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Transfer-Encoding', 'chunked'], ['transfer-encoding', 'identity'], ['Upgrade', 'websocket'], ['Expect', '100-continue'],
  ['HTTP2-Settings', 'AAMAAABkAAQAAP__'], ['Host', 'other.example'], ['host', 'a.example'], ['Host', ''],
  ['Content-Length', '5'], ['Content-Length', '05'], ['Content-Length', '5, 5'], ['Content-Length', '-1'],
  ['Content-Length', '1e3'], ['Content-Length', ''], ['Content-Length', '12345678901234567'], ['content-length', '0'],
  ['Connection', 'close'], ['Connection', 'keep-alive, Close'], ['Connection', 'upgrade'], ['connection', 'xclose'],
  ['Connection', 'close x'], ['Connection', ' ,CLOSE, '], ['Keep-Alive', 'timeout=5'], ['Proxy-Connection', 'close'],
];

interface Draft {
  method: string;
  target: string;
  version: string;
  separator: string; // between request-line parts
  headers: Array<[string, string]>;
  folds: Array<[number, string]>; // obs-fold continuation lines after header n
  lineEndingFault: '' | '\n' | '\r';
  spaceBeforeColon: number; // header index, -1 for none
}

const BASES: ReadonlyArray<() => Draft> = [
  () => draft('GET', '/', [['Host', 'localhost:8080']]),
  () => draft('GET', '/static/app.js?v=3', [
    ['Host', 'shop.example.com'], ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0'], ['Accept', '*/*'],
    ['Accept-Language', 'en-US,en;q=0.5'], ['Accept-Encoding', 'gzip, deflate, br'], ['Referer', 'https://shop.example.com/'],
    ['Cookie', 'session=abc123; theme=dark'], ['Connection', 'keep-alive']]),
  () => draft('POST', '/api/items', [['Host', 'api.example'], ['Content-Type', 'application/json'], ['Content-Length', '2']]),
];

function draft(method: string, target: string, headers: Array<[string, string]>): Draft {
  return { method, target, version: 'HTTP/1.1', separator: ' ', headers, folds: [], lineEndingFault: '', spaceBeforeColon: -1 };
}

const MUTATIONS: ReadonlyArray<(d: Draft, random: Random) => void> = [
  (d, r) => d.headers.splice(Math.floor(r() * (d.headers.length + 1)), 0,
    [randomString(r, NAME_CHARS, 12), randomString(r, VALUE_CHARS, 20)]),
  (d, r) => d.headers.push([randomString(r, NAME_CHARS.slice(0, 124), 12), randomString(r, VALUE_CHARS.slice(0, 70), 20)]),
  (d, r) => { const [name, value] = pick(r, SPECIAL_HEADERS); d.headers.splice(Math.floor(r() * (d.headers.length + 1)), 0, [name, value]); },
  (d, r) => { const [name, value] = pick(r, SPECIAL_HEADERS); d.headers.push([name, value]); },
  (d) => { d.headers = d.headers.filter(([name]) => name.toLowerCase() !== 'host'); },
  (d, r) => { d.method = pick(r, METHODS); },
  (d, r) => { d.target = '/' + randomString(r, TARGET_CHARS, 15); },
  (d, r) => { d.target = pick(r, ['*', 'http://h/x', 'h:80', '', 'x/y', '//double']); },
  (d, r) => { d.version = pick(r, VERSIONS); },
  (d, r) => { d.separator = pick(r, ['  ', '\t', ' \t']); },
  (d, r) => {
    if (d.headers.length === 0) return;
    const at = Math.floor(r() * d.headers.length);
    const [name, value] = d.headers[at]!;
    d.headers[at] = [pick(r, [name.toUpperCase(), name.toLowerCase(), name.replace(/^./, (c) => c.toLowerCase())]), value];
  },
  (d, r) => { if (d.headers.length > 0) d.folds.push([Math.floor(r() * d.headers.length), pick(r, [' folded', '\tfolded', ' '])]); },
  (d, r) => { d.lineEndingFault = pick(r, ['\n', '\r'] as const); },
  (d, r) => { d.spaceBeforeColon = Math.floor(r() * d.headers.length); },
  (d, r) => {
    if (d.headers.length === 0) return;
    const at = Math.floor(r() * d.headers.length);
    const [name, value] = d.headers[at]!;
    d.headers[at] = [name, pick(r, ['', ' ', '\t', '  \t']) + value + pick(r, ['', ' ', '\t', ' \t '])];
  },
  (d, r) => {
    if (d.headers.length === 0) return;
    const at = Math.floor(r() * d.headers.length);
    const [name, value] = d.headers[at]!;
    const cut = Math.floor(r() * (value.length + 1));
    d.headers[at] = [name, value.slice(0, cut) + pick(r, VALUE_CHARS.slice(-8)) + value.slice(cut)];
  },
  (d, r) => { d.headers.push(...Array.from({ length: 95 + Math.floor(r() * 10) }, (_, n): [string, string] => [`X-Many-${n}`, `${n}`])); },
];

function render(d: Draft, random: Random): string {
  const lines = [[d.method, d.target, d.version].join(d.separator)];
  d.headers.forEach(([name, value], n) => {
    lines.push(`${name}${n === d.spaceBeforeColon ? ' ' : ''}:${value === '' ? '' : ' '}${value}`);
    for (const [after, fold] of d.folds) if (after === n) lines.push(fold);
  });
  let text = lines.join('\r\n');
  if (d.lineEndingFault !== '') {
    const crlfs = [...text.matchAll(/\r\n/g)].map((m) => m.index);
    if (crlfs.length > 0) {
      const at = pick(random, crlfs);
      text = text.slice(0, at) + d.lineEndingFault + text.slice(at + 2);
    }
  }
  return text + '\r\n\r\n';
}

function generate(count: number, seed: number): string[] {
  const random = seeded(seed);
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    const d = pick(random, BASES)();
    // A few unmutated requests too, so the accepted side is well populated.
    const mutations = n % 10 === 0 ? 0 : 1 + Math.floor(random() * 3);
    for (let m = 0; m < mutations; m++) pick(random, MUTATIONS)(d, random);
    out.push(render(d, random));
  }
  return out;
}

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly contentLength: string | undefined;
  readonly host: string | undefined;
  readonly keepAlive: boolean;
}

test('what parseRequestHead accepts, llhttp accepts identically', async (t) => {
  const seenByPort = new Map<number, Seen>();
  const server = createServer({ maxHeaderSize: 16384 }, (req: IncomingMessage, res: ServerResponse) => {
    seenByPort.set(req.socket.remotePort!, {
      method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders,
      contentLength: req.headers['content-length'], host: req.headers.host, keepAlive: res.shouldKeepAlive,
    });
    res.writeHead(204, { connection: 'close' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const send = (wire: string): Promise<Seen | undefined> => new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let localPort = -1;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const seen = seenByPort.get(localPort);
      seenByPort.delete(localPort);
      resolve(seen);
    };
    const timer = setTimeout(finish, CASE_TIMEOUT_MS);
    socket.on('connect', () => {
      localPort = socket.localPort!;
      seenByPort.delete(localPort);
      socket.write(Buffer.from(wire, 'latin1'));
    });
    // Any answer (our 204 or node's 400) means the server has decided.
    socket.on('data', finish);
    socket.on('close', finish);
    socket.on('error', finish);
  });

  const wires = generate(CASES, SEED);
  let weAccepted = 0;
  let nodeAccepted = 0;
  let handedOffButNodeAccepted = 0;
  const reasons = new Map<string, number>();
  const disagreements: string[] = [];

  const check = async (wire: string) => {
    const text = wire.slice(0, wire.indexOf('\r\n\r\n'));
    const ours = parseRequestHead(text);
    const body = ours.ok ? 'x'.repeat(ours.head.contentLength) : '';
    const seen = await send(wire + body);
    if (seen) nodeAccepted++;
    if (!ours.ok) {
      reasons.set(ours.reason, (reasons.get(ours.reason) ?? 0) + 1);
      if (seen) handedOffButNodeAccepted++;
      return;
    }
    weAccepted++;
    const problem = compare(ours.head, seen);
    if (problem) disagreements.push(`${JSON.stringify(text)}: ${problem}`);
  };

  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < wires.length) await check(wires[next++]!);
  }));
  await new Promise<void>((resolve) => server.close(() => resolve()));

  t.log(`seed ${SEED}, ${CASES} requests: we accepted ${weAccepted}, node accepted ${nodeAccepted}, ` +
    `node accepted ${handedOffButNodeAccepted} that we handed off`);
  t.log(`hand-off reasons: ${[...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(', ')}`);
  t.deepEqual(disagreements.slice(0, 10), []);
  // The generator must exercise both sides, or the check proves nothing.
  t.true(weAccepted >= CASES / 5, `only ${weAccepted} accepted`);
  t.true(reasons.size >= 12, `only ${reasons.size} distinct hand-off reasons`);
});

function compare(ours: RequestHead, seen: Seen | undefined): string | undefined {
  if (!seen) return 'node:http rejected it';
  if (seen.method !== ours.method) return `method ${seen.method}`;
  if (seen.url !== ours.target) return `url ${seen.url}`;
  if (JSON.stringify(seen.rawHeaders) !== JSON.stringify(ours.rawHeaders)) return `rawHeaders ${JSON.stringify(seen.rawHeaders)}`;
  if ((seen.contentLength === undefined ? 0 : Number(seen.contentLength)) !== ours.contentLength) {
    return `content-length ${seen.contentLength}`;
  }
  if (seen.host !== ours.host) return `host ${seen.host}`;
  if (seen.keepAlive !== ours.keepAlive) return `keep-alive ${seen.keepAlive}`;
  return undefined;
}
