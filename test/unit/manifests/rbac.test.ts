/**
 * Checks on manifests/: the ClusterRole grants exactly what the code asks the API server for — derived from the
 * code (the informers' KIND_SPECS and every client-node write call found in lib/), not from a copy — and the
 * DaemonSet, ConfigMap and IngressClass say what the docs promise.
 */
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseCommandLine } from '../../../lib/config/index.ts';
import { KIND_SPECS } from '../../../lib/source/kube/kinds.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const loadManifests = async (): Promise<Obj[]> => {
  const dir = join(ROOT, 'manifests');
  const out: Obj[] = [];
  for (const file of (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const value = doc.toJS() as Obj | null;
      if (value) out.push(value);
    }
  }
  return out;
};

const one = (objects: Obj[], kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0] as Obj;
};

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0] ?? '' : '');
const plural = (kind: string): string => {
  const lower = kind.toLowerCase();
  return lower.endsWith('s') ? `${lower}es` : lower.endsWith('y') ? `${lower.slice(0, -1)}ies` : `${lower}s`;
};

const walk = async (dir: string): Promise<string[]> => {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
};

/** `group|resource|verb` the code needs. */
const requestedPermissions = async (): Promise<Set<string>> => {
  const needed = new Set<string>();
  // Informers: list + watch every kind the KubeSource watches.
  for (const spec of Object.values(KIND_SPECS)) {
    const resource = spec.path.split('/').at(-1) ?? '';
    for (const verb of ['list', 'watch']) needed.add(`${groupOf(spec.apiVersion)}|${resource}|${verb}`);
  }
  // Writes: client-node's generated calls, e.g. patchNamespacedIngressStatus -> patch ingresses/status.
  const verbOf: Record<string, string> = { patch: 'patch', replace: 'update', create: 'create', delete: 'delete', read: 'get' };
  const groupByKind = new Map<string, string>(Object.values(KIND_SPECS).map((s) => [s.kind, groupOf(s.apiVersion)]));
  groupByKind.set('Event', '');
  const call = /\.(patch|replace|create|delete|read)Namespaced([A-Z][A-Za-z]*?)(Status)?\(/g;
  for (const file of await walk(join(ROOT, 'lib'))) {
    for (const m of (await readFile(file, 'utf8')).matchAll(call)) {
      const [, verb = '', kind = '', status] = m;
      const group = groupByKind.get(kind);
      if (group === undefined) throw new Error(`${file}: ${m[0]} writes a kind the test cannot map to an API group`);
      needed.add(`${group}|${plural(kind)}${status ? '/status' : ''}|${verbOf[verb]}`);
    }
  }
  return needed;
};

test('the ClusterRole grants exactly what the code requests (least privilege)', async (t) => {
  const role = one(await loadManifests(), 'ClusterRole');
  const granted = new Set<string>();
  for (const rule of role.rules as Obj[]) {
    t.falsy(rule.resourceNames, 'no resourceNames expected');
    for (const group of rule.apiGroups as string[]) for (const resource of rule.resources as string[]) for (const verb of rule.verbs as string[]) {
      t.not(verb, '*');
      t.not(resource, '*');
      granted.add(`${group}|${resource}|${verb}`);
    }
  }
  const requested = await requestedPermissions();
  t.true(requested.has('networking.k8s.io|ingresses/status|patch'), 'the status writer was found in the code');
  t.deepEqual([...granted].sort(), [...requested].sort());
});

test('the ClusterRoleBinding binds the ClusterRole to the DaemonSet\'s ServiceAccount', async (t) => {
  const objects = await loadManifests();
  const binding = one(objects, 'ClusterRoleBinding');
  const account = one(objects, 'ServiceAccount');
  const daemonSet = one(objects, 'DaemonSet');
  t.is(binding.roleRef.name, one(objects, 'ClusterRole').metadata.name);
  t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
  t.is(daemonSet.spec.template.spec.serviceAccountName, account.metadata.name);
  t.is(daemonSet.metadata.namespace, account.metadata.namespace);
});

test('the DaemonSet runs like kube-proxy: host network, every node, node-critical, probes on 10256, node name from the downward API', async (t) => {
  const ds = one(await loadManifests(), 'DaemonSet');
  const pod = ds.spec.template.spec;
  t.true(pod.hostNetwork);
  t.is(pod.priorityClassName, 'system-node-critical');
  t.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  const [c] = pod.containers as Obj[];
  t.truthy(c);
  if (!c) return;
  t.deepEqual(c.livenessProbe.httpGet, { path: '/livez', port: 10256 });
  t.deepEqual(c.readinessProbe.httpGet, { path: '/healthz', port: 10256 });
  t.true((c.args as string[]).includes('--hostname-override=$(NODE_NAME)'));
  t.deepEqual(c.env.find((e: Obj) => e.name === 'NODE_NAME').valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  t.false(c.securityContext.privileged);
  t.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'NET_BIND_SERVICE', 'SYS_RESOURCE'] });
  const mounts = new Map((c.volumeMounts as Obj[]).map((m) => [m.mountPath, m]));
  t.truthy(mounts.get('/run/xtables.lock'));
  t.true(mounts.get('/lib/modules')?.readOnly);
  // Every flag in args is one the daemon accepts (parsed by the real command line, config path aside).
  const args = (c.args as string[]).filter((a) => !a.startsWith('--config=')).map((a) => a.replace('$(NODE_NAME)', 'node-a'));
  await t.notThrowsAsync(parseCommandLine(args));
});

test('the ConfigMap holds a KubeProxyConfiguration the daemon accepts without warnings', async (t) => {
  const cm = one(await loadManifests(), 'ConfigMap');
  const text = cm.data['config.conf'] as string;
  const parsed = await parseCommandLine(['--config', '/etc/switchyard.conf'], { readFile: () => Promise.resolve(text) });
  t.deepEqual(parsed.warnings, []);
  t.is(parsed.config.proxyMode, 'nftables');
  t.deepEqual(parsed.config.clusterCIDRs, ['10.244.0.0/16']);
  t.is(parsed.config.healthzBindAddress?.port, 10256);
});

test('the IngressClass names switchyard\'s controller', async (t) => {
  t.is(one(await loadManifests(), 'IngressClass').spec.controller, 'switchyard.io/ingress-controller');
});
