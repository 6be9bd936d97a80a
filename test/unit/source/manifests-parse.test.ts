import test from 'ava';
import { canonicalJson, formatProblem, manifestFormat, parseManifestText } from '../../../lib/source/manifests/parse.ts';

const yaml = (text: string) => parseManifestText('f.yaml', text, 'yaml');
const ids = (text: string) => yaml(text).objects.map((o) => o.id);

const svc = (name: string, extra = '') => `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n${extra}spec:\n  ports: [{port: 80}]\n`;

/** [case, YAML text, expected object ids] */
const idCases: [string, string, string[]][] = [
  ['one document', svc('web'), ['Service/default/web']],
  ['several documents, comments and empty ones', `# header\n---\n${svc('a')}---\n# only a comment\n---\n---\n${svc('b')}`, ['Service/default/a', 'Service/default/b']],
  ['explicit namespace', svc('web', '  namespace: shop\n'), ['Service/shop/web']],
  ['cluster-scoped kinds have no namespace', 'apiVersion: v1\nkind: Node\nmetadata: {name: node-a, namespace: x}\n', ['Node/node-a']],
  ['IngressClass', 'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: switchyard}\nspec: {controller: switchyard.io/ingress-controller}\n', ['IngressClass/switchyard']],
  ['Ingress', 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec: {}\n', ['Ingress/default/web']],
  ['EndpointSlice', 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints: []\n', ['EndpointSlice/default/web-abc']],
  ['TLS Secret kept', 'apiVersion: v1\nkind: Secret\nmetadata: {name: cert}\ntype: kubernetes.io/tls\ndata: {tls.crt: "", tls.key: ""}\n', ['Secret/default/cert']],
  ['Opaque Secret ignored', 'apiVersion: v1\nkind: Secret\nmetadata: {name: pw}\ntype: Opaque\n', []],
  ['Secret without type ignored', 'apiVersion: v1\nkind: Secret\nmetadata: {name: pw}\n', []],
  ['unused kinds ignored', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n', []],
  ['kind: List', `apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Service, metadata: {name: a}}\n  - {apiVersion: v1, kind: Node, metadata: {name: n}}\n`, ['Service/default/a', 'Node/n']],
  ['typed list (ServiceList)', `apiVersion: v1\nkind: ServiceList\nitems:\n  - {kind: Service, metadata: {name: a}}\n`, ['Service/default/a']],
  ['apiVersion may be omitted', 'kind: Service\nmetadata: {name: bare}\n', ['Service/default/bare']],
  ['YAML anchors and merge keys within a document', 'kind: List\nitems:\n  - {kind: Service, metadata: {name: a, labels: &l {app: x}}}\n  - kind: Service\n    metadata: {name: b, labels: {<<: *l, tier: y}}\n', ['Service/default/a', 'Service/default/b']],
];
for (const [name, text, expected] of idCases) {
  test(`parse: ${name}`, (t) => {
    const parsed = yaml(text);
    t.deepEqual(parsed.problems, []);
    t.deepEqual(parsed.objects.map((o) => o.id), expected);
  });
}

/** [case, YAML text, expected problems as "document[/item]: fragment", ids still read] */
const problemCases: [string, string, string[], string[]][] = [
  ['broken YAML in one document', `${svc('a')}---\nkind: Service\nmetadata:\n  name: [oops\n---\n${svc('c')}`, ['1: invalid YAML'], ['Service/default/a', 'Service/default/c']],
  ['missing kind', `metadata: {name: x}\n---\n${svc('b')}`, ['0: missing kind'], ['Service/default/b']],
  ['missing metadata.name', `${svc('a')}---\nkind: Service\nmetadata: {namespace: x}\n`, ['1: Service: missing metadata.name'], ['Service/default/a']],
  ['scalar document', `just a string\n---\n${svc('b')}`, ['0: expected a mapping'], ['Service/default/b']],
  ['wrong apiVersion for a kind we read', 'apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: s}\n', ['0: apiVersion "discovery.k8s.io/v1beta1" is not supported (expected discovery.k8s.io/v1)'], []],
  ['non-string label value', 'kind: Node\nmetadata:\n  name: n\n  labels: {zone: 1}\n', ['0: metadata.labels.zone must be a string'], []],
  ['bad List item', 'kind: List\nitems:\n  - {kind: Service, metadata: {name: a}}\n  - {kind: Service}\n', ['0/1: Service: missing metadata.name'], ['Service/default/a']],
  ['duplicate keys', 'kind: Service\nmetadata: {name: a}\nkind: Node\n', ['0: invalid YAML: Map keys must be unique'], []],
];
for (const [name, text, expected, stillRead] of problemCases) {
  test(`problem: ${name}`, (t) => {
    const parsed = yaml(text);
    t.deepEqual(
      parsed.problems.map((p) => `${p.document}${p.item === undefined ? '' : `/${p.item}`}`),
      expected.map((e) => e.split(':')[0]!),
    );
    parsed.problems.forEach((p, i) => t.true(p.message.includes(expected[i]!.slice(expected[i]!.indexOf(':') + 2)), p.message));
    t.deepEqual(parsed.objects.map((o) => o.id), stillRead);
  });
}

test('problem lines name file and 0-based document index', (t) => {
  const [problem] = yaml(`${svc('a')}---\nkind: Service\n`).problems;
  t.is(formatProblem(problem!), 'f.yaml: document 1 (0-based): Service: missing metadata.name');
  t.is(formatProblem({ file: 'l.json', document: 0, item: 3, message: 'x' }), 'l.json: document 0 (0-based), List item 3: x');
});

test('objects carry their origin (file, document, List item) for log lines', (t) => {
  t.deepEqual(yaml(`${svc('a')}---\n${svc('b')}`).objects.map((o) => o.origin), [
    'f.yaml: document 0 (0-based)',
    'f.yaml: document 1 (0-based)',
  ]);
  const list = parseManifestText('l.json', JSON.stringify({ kind: 'List', items: [{ kind: 'Node', metadata: { name: 'n' } }] }), 'json');
  t.is(list.objects[0]!.origin, 'l.json: document 0 (0-based), List item 0');
});

test('JSON: one object, a List, and broken JSON', (t) => {
  const one = parseManifestText('a.json', JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } }), 'json');
  t.deepEqual(one.objects.map((o) => o.id), ['Service/default/a']);
  const list = parseManifestText(
    'b.json',
    JSON.stringify({ kind: 'List', items: [{ kind: 'Service', metadata: { name: 'a', namespace: 'x' } }, { kind: 'Node', metadata: { name: 'n' } }] }),
    'json',
  );
  t.deepEqual(list.objects.map((o) => o.id), ['Service/x/a', 'Node/n']);
  const broken = parseManifestText('c.json', '{"kind": "Service",', 'json');
  t.is(broken.objects.length, 0);
  t.is(broken.problems.length, 1);
  t.regex(broken.problems[0]!.message, /^invalid JSON/);
});

test('objects are frozen, keep their fields and get the default namespace', (t) => {
  const [o] = yaml(svc('web')).objects;
  t.deepEqual(o!.object, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
  t.true(Object.isFrozen(o!.object));
  t.true(Object.isFrozen((o!.object['spec'] as { ports: object[] }).ports[0]));
  t.is(o!.kind, 'Service');
  t.is(o!.key, 'default/web');
});

test('canonicalJson ignores key order', (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 2 } }), canonicalJson({ a: { c: 2, d: [1, { x: 1, y: 2 }] }, b: 1 }));
  t.not(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
});

test('manifestFormat by extension', (t) => {
  t.deepEqual(['a.yaml', 'b.YML', 'c.json', 'd.txt', 'e.yaml.bak', 'f'].map(manifestFormat), ['yaml', 'yaml', 'json', undefined, undefined, undefined]);
});
