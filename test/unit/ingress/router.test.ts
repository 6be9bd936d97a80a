import test from 'ava';
import { buildRouteTable } from '../../../lib/ingress/routes.ts';
import {
  matchRoute,
  normaliseRequestHost,
  normaliseRequestPath,
  selectCertificate,
} from '../../../lib/ingress/router.ts';
import type { RouteTable } from '../../../lib/ingress/types.ts';
import { ingress, ourClass, viewOf, type IngressSpecInput, type PathSpec } from './fixtures.ts';

const SERVICES = ['s0', 's1', 's2', 'fallback', 'exact', 'wild', 'nohost', 'other'];
const view = viewOf(SERVICES);

const tableOf = (...ingresses: IngressSpecInput[]): RouteTable =>
  buildRouteTable(ingresses.map(ingress), [ourClass()], new Map(), view);

/** Service name a request went to: the Service, or undefined when nothing (not even a default backend) matched. */
const serviceFor = (table: RouteTable, host: string | undefined, path: string): string | undefined =>
  matchRoute(table, host, path)?.backend.service.replace(/^default\//, '');

// Every row of the "Examples" table in https://kubernetes.io/docs/concepts/services-networking/ingress/
// (path types). Rule paths go to s0, s1, s2 in order; "No" rows must fall through to the default backend.
const docsTable: readonly {
  row: string;
  paths: readonly (readonly [string, 'Exact' | 'Prefix'])[];
  requests: readonly string[];
  expected: string;
}[] = [
  { row: 'Prefix / matches all paths', paths: [['/', 'Prefix']], requests: ['/', '/foo', '/foo/bar/', '/a?b=c'], expected: 's0' },
  { row: 'Exact /foo, /foo: yes', paths: [['/foo', 'Exact']], requests: ['/foo'], expected: 's0' },
  { row: 'Exact /foo, /bar: no', paths: [['/foo', 'Exact']], requests: ['/bar'], expected: 'fallback' },
  { row: 'Exact /foo, /foo/: no', paths: [['/foo', 'Exact']], requests: ['/foo/'], expected: 'fallback' },
  { row: 'Exact /foo/, /foo: no', paths: [['/foo/', 'Exact']], requests: ['/foo'], expected: 'fallback' },
  { row: 'Prefix /foo, /foo and /foo/: yes', paths: [['/foo', 'Prefix']], requests: ['/foo', '/foo/'], expected: 's0' },
  { row: 'Prefix /foo/, /foo and /foo/: yes', paths: [['/foo/', 'Prefix']], requests: ['/foo', '/foo/'], expected: 's0' },
  { row: 'Prefix /aaa/bb, /aaa/bbb: no', paths: [['/aaa/bb', 'Prefix']], requests: ['/aaa/bbb'], expected: 'fallback' },
  { row: 'Prefix /aaa/bbb, /aaa/bbb: yes', paths: [['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbb'], expected: 's0' },
  { row: 'Prefix /aaa/bbb/, /aaa/bbb: yes, ignores trailing slash', paths: [['/aaa/bbb/', 'Prefix']], requests: ['/aaa/bbb'], expected: 's0' },
  { row: 'Prefix /aaa/bbb, /aaa/bbb/: yes, matches trailing slash', paths: [['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbb/'], expected: 's0' },
  { row: 'Prefix /aaa/bbb, /aaa/bbb/ccc: yes, matches subpath', paths: [['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbb/ccc'], expected: 's0' },
  { row: 'Prefix /aaa/bbb, /aaa/bbbxyz: no string prefix', paths: [['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbbxyz'], expected: 'fallback' },
  { row: 'Prefix / and /aaa, /aaa/ccc: matches /aaa', paths: [['/', 'Prefix'], ['/aaa', 'Prefix']], requests: ['/aaa/ccc'], expected: 's1' },
  { row: 'Prefix /, /aaa, /aaa/bbb; /aaa/bbb: matches /aaa/bbb', paths: [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], requests: ['/aaa/bbb'], expected: 's2' },
  { row: 'Prefix /, /aaa, /aaa/bbb; /ccc: matches /', paths: [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], requests: ['/ccc'], expected: 's0' },
  { row: 'Prefix /aaa, /ccc: default backend', paths: [['/aaa', 'Prefix']], requests: ['/ccc'], expected: 'fallback' },
  { row: 'Mixed /foo Prefix and /foo Exact, /foo: prefers Exact', paths: [['/foo', 'Prefix'], ['/foo', 'Exact']], requests: ['/foo'], expected: 's1' },
];

for (const { row, paths, requests, expected } of docsTable) {
  for (const request of requests) {
    test(`docs table: ${row} [request ${request}]`, (t) => {
      const specs: PathSpec[] = paths.map(([p, type], i) => [p, type, `s${i}`]);
      // Also listed in reverse order: YAML order must not matter.
      for (const ordered of [specs, [...specs].reverse()]) {
        const table = tableOf({ defaultBackend: 'fallback', rules: [{ paths: ordered }] });
        t.is(serviceFor(table, 'example.com', request), expected);
      }
    });
  }
}

const hostTable = tableOf({
  defaultBackend: 'fallback',
  rules: [
    { host: 'foo.bar.com', paths: [['/', 'Prefix', 'exact']] },
    { host: '*.bar.com', paths: [['/', 'Prefix', 'wild']] },
    { host: 'api.example.com', paths: [['/v1', 'Prefix', 's0']] },
    { paths: [['/', 'Prefix', 'nohost']] },
  ],
});

const hostCases: readonly { name: string; host: string | undefined; path: string; expected: string | undefined }[] = [
  { name: 'exact host', host: 'foo.bar.com', path: '/', expected: 'exact' },
  { name: 'exact host beats wildcard', host: 'foo.bar.com', path: '/x', expected: 'exact' },
  { name: 'wildcard matches one label', host: 'baz.bar.com', path: '/', expected: 'wild' },
  { name: 'wildcard does not match two labels', host: 'a.baz.bar.com', path: '/', expected: 'nohost' },
  { name: 'wildcard does not match the bare parent', host: 'bar.com', path: '/', expected: 'nohost' },
  { name: 'Host port is ignored', host: 'foo.bar.com:8080', path: '/', expected: 'exact' },
  { name: 'Host is case-insensitive', host: 'FOO.Bar.COM', path: '/', expected: 'exact' },
  { name: 'uppercase wildcard host with port', host: 'X.BAR.COM:443', path: '/', expected: 'wild' },
  { name: 'trailing dot (FQDN) is ignored', host: 'foo.bar.com.', path: '/', expected: 'exact' },
  { name: 'unknown host uses host-less rules', host: 'unknown.org', path: '/anything', expected: 'nohost' },
  { name: 'missing Host uses host-less rules', host: undefined, path: '/', expected: 'nohost' },
  { name: 'IP literal Host uses host-less rules', host: '[::1]:80', path: '/', expected: 'nohost' },
  { name: 'matched host never falls back to host-less rules', host: 'api.example.com', path: '/v2', expected: 'fallback' },
  { name: 'matched host path', host: 'api.example.com', path: '/v1/users', expected: 's0' },
];

for (const c of hostCases) {
  test(`hosts: ${c.name}`, (t) => {
    t.is(serviceFor(hostTable, c.host, c.path), c.expected);
  });
}

const pathTable = tableOf({
  rules: [
    {
      paths: [
        ['/foo', 'Exact', 's0'],
        ['/foo/bar', 'Prefix', 's1'],
        ['/impl', 'ImplementationSpecific', 's2'],
      ],
    },
  ],
});

const pathCases: readonly { name: string; path: string; expected: string | undefined }[] = [
  { name: 'query string ignored', path: '/foo?x=/foo/bar', expected: 's0' },
  { name: 'fragment ignored', path: '/foo#top', expected: 's0' },
  { name: 'unreserved escapes are decoded', path: '/%66%6F%6f', expected: 's0' },
  { name: 'escaped slash is not a separator', path: '/foo%2Fbar', expected: undefined },
  { name: 'matching is case-sensitive', path: '/FOO', expected: undefined },
  { name: 'double slash is an empty element', path: '/foo/bar//x', expected: 's1' },
  { name: 'ImplementationSpecific acts as Prefix', path: '/impl/sub', expected: 's2' },
  { name: 'ImplementationSpecific is element-wise', path: '/implx', expected: undefined },
  { name: 'no route and no default backend', path: '/nothing', expected: undefined },
];

for (const c of pathCases) {
  test(`paths: ${c.name}`, (t) => {
    t.is(serviceFor(pathTable, 'h', c.path), c.expected);
  });
}

test('empty table matches nothing', (t) => {
  t.is(matchRoute(tableOf(), 'a', '/'), undefined);
});

test('match carries the service port key and endpoints', (t) => {
  const m = matchRoute(pathTable, 'h', '/foo');
  t.is(m?.backend.servicePortKey, 'default/s0:http');
  t.deepEqual(m?.backend.endpoints.map((e) => `${e.ip}:${e.port}`), ['10.0.0.1:8080']);
  t.is(m?.route?.ingress, 'default/ing');
});

const normHosts: readonly [string | undefined, string][] = [
  [undefined, ''],
  ['Example.COM', 'example.com'],
  ['example.com:80', 'example.com'],
  ['[2001:DB8::1]:443', '[2001:db8::1]'],
  ['example.com.', 'example.com'],
];
for (const [input, expected] of normHosts) {
  test(`normaliseRequestHost(${String(input)})`, (t) => t.is(normaliseRequestHost(input), expected));
}

const normPaths: readonly [string, string][] = [
  ['/a?b', '/a'],
  ['/a#b?c', '/a'],
  ['/%7Euser/%41', '/~user/A'],
  ['/a%2Fb%20c', '/a%2Fb%20c'],
  ['/%2e%2E', '/..'],
];
for (const [input, expected] of normPaths) {
  test(`normaliseRequestPath(${input})`, (t) => t.is(normaliseRequestPath(input), expected));
}

test('selectCertificate: exact, then one-label wildcard', (t) => {
  const cert = (secret: string) => ({ cert: 'c', key: 'k', secret });
  const table: RouteTable = {
    ...tableOf(),
    certificates: new Map([
      ['a.example.com', cert('ns/a')],
      ['*.example.com', cert('ns/wild')],
    ]),
  };
  t.is(selectCertificate(table, 'A.example.com')?.secret, 'ns/a');
  t.is(selectCertificate(table, 'b.example.com')?.secret, 'ns/wild');
  t.is(selectCertificate(table, 'x.b.example.com'), undefined);
  t.is(selectCertificate(table, 'example.com'), undefined);
});
