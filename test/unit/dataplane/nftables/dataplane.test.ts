import test from 'ava';
import { NftablesDataplane } from '../../../../lib/dataplane/nftables/dataplane.ts';
import { FakeNft } from '../../../../lib/dataplane/nftables/fake.ts';
import { traceNftables } from '../../../../lib/dataplane/nftables/trace.ts';
import { desired, ep, LOCAL_ADDRESSES, plan, richServices } from '../fixtures.ts';

const all = { changed: undefined, forceFull: false } as const;

const setup = async () => {
  const nft = new FakeNft();
  const dp = new NftablesDataplane({ runner: nft });
  const first = await dp.sync(desired(richServices()), all);
  return { nft, dp, first };
};

const withWeb = (endpoints: ReturnType<typeof ep>[]) =>
  richServices().map((p) => (p.name === 'web' ? { ...p, clusterEndpoints: endpoints, localEndpoints: endpoints.filter((e) => e.isLocal) } : p));

test('first sync is full and programs both families', async (t) => {
  const { nft, first } = await setup();
  t.true(first.full);
  t.is(first.changedServices, richServices().length);
  t.true(nft.hasTable('ip', 'switchyard'));
  t.true(nft.hasTable('ip6', 'switchyard'));
  t.regex(nft.applied[0]!, /^add table ip switchyard\nflush table ip switchyard\n/);
});

test('an unchanged state produces an empty transaction', async (t) => {
  const { nft, dp } = await setup();
  const r = await dp.sync(desired(richServices()), all);
  t.false(r.full);
  t.is(r.changedServices, 0);
  t.is(r.bytes, 0);
  t.is(nft.scripts.at(-1), '');
});

for (const changed of [undefined, new Set(['default/web:'])]) {
  test(`one changed service emits only its elements and chains (hint: ${changed ? 'given' : 'unknown'})`, async (t) => {
    const { nft, dp } = await setup();
    const r = await dp.sync(desired(withWeb([ep('10.244.1.5', 8080, true), ep('10.244.2.7', 8080), ep('10.244.2.99', 8080)])), { changed, forceFull: false });
    t.false(r.full);
    t.is(r.changedServices, 1);
    const script = nft.applied.at(-1)!;
    const lines = script.trim().split('\n');
    // web (ClusterIP + NodePort, Cluster policies) is on shared chains: 2 → 3 endpoints adds the chains for 3 (no
    // service had 3 endpoints), one endpoint element per frontend, and points its verdict elements at them.
    t.deepEqual(lines, [
      'add chain ip switchyard cluster-tcp-3',
      'add chain ip switchyard nodeport-tcp-3',
      'add rule ip switchyard cluster-tcp-3 meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 3 map @cluster-endpoints-tcp',
      'add rule ip switchyard nodeport-tcp-3 jump mark-for-masquerade',
      'add rule ip switchyard nodeport-tcp-3 meta l4proto tcp dnat ip to tcp dport . numgen random mod 3 map @nodeport-endpoints-tcp',
      'delete element ip switchyard service-ips { 10.96.0.10 . tcp . 80 }',
      'delete element ip switchyard service-nodeports { tcp . 30080 }',
      'add element ip switchyard cluster-endpoints-tcp { 10.96.0.10 . 80 . 2 : 10.244.2.99 . 8080 }',
      'add element ip switchyard service-ips { 10.96.0.10 . tcp . 80 : goto cluster-tcp-3 }',
      'add element ip switchyard hairpin-endpoints { 10.244.2.99 . 10.244.2.99 }',
      'add element ip switchyard nodeport-endpoints-tcp { 30080 . 2 : 10.244.2.99 . 8080 }',
      'add element ip switchyard service-nodeports { tcp . 30080 : goto nodeport-tcp-3 }',
    ]);
    // cluster-tcp-2 and nodeport-tcp-2 stay: lb still uses them.
    t.truthy(nft.chain('ip', 'switchyard', 'cluster-tcp-2'));
    t.truthy(nft.chain('ip', 'switchyard', 'nodeport-tcp-2'));
    const trace = traceNftables(dp.lastApplied!, { localAddresses: LOCAL_ADDRESSES });
    t.deepEqual(trace({ from: 'pod', src: '10.244.1.20', dst: '10.96.0.10', dport: 80, proto: 'TCP' }), {
      verdict: 'dnat',
      endpoints: ['10.244.1.5:8080', '10.244.2.7:8080', '10.244.2.99:8080'],
      masquerade: false,
    });
  });
}

const withLocal = (endpoints: ReturnType<typeof ep>[]) =>
  richServices().map((p) => (p.name === 'local' ? { ...p, clusterEndpoints: endpoints, localEndpoints: endpoints.filter((e) => e.isLocal), internalVerdict: 'reject' as const, externalVerdict: 'reject' as const } : p));

test('a service losing its endpoints moves to the reject map and its chains go away after their references', async (t) => {
  const { nft, dp } = await setup();
  // 'local' (eTP Local) has chains of its own: service-, local- and external-.
  await dp.sync(desired(withLocal([])), { changed: new Set(['default/local:']), forceFull: false });
  const lines = nft.applied.at(-1)!.trim().split('\n');
  const idx = (re: RegExp) => lines.findIndex((l) => re.test(l));
  t.true(idx(/^delete element ip switchyard service-ips \{ 10\.96\.0\.40 \. tcp \. 80, 198\.51\.100\.4 \. tcp \. 80 \}/) >= 0);
  t.true(idx(/^add element ip switchyard no-endpoint-services \{ 10\.96\.0\.40 \. tcp \. 80 : goto reject-chain, 198\.51\.100\.4 \. tcp \. 80 : goto reject-chain \}/) >= 0);
  t.true(idx(/^add element ip switchyard no-endpoint-nodeports \{ tcp \. 30040 : goto reject-chain \}/) >= 0);
  for (const prefix of ['service', 'local', 'external']) {
    const name = `${prefix}-NNKFHFFP-default/local/tcp/`;
    const del = lines.indexOf(`delete chain ip switchyard ${name}`);
    t.true(del > idx(/^delete element ip switchyard service-ips/), name);
    t.true(del > lines.indexOf(`flush chain ip switchyard ${name}`), name);
    t.is(nft.chain('ip', 'switchyard', name), undefined);
  }
});

test('a service on shared chains losing its endpoints: its elements go, the chains no one uses any more go after them', async (t) => {
  const { nft, dp } = await setup();
  await dp.sync(desired(withWeb([ep('10.244.1.5', 8080, true), ep('10.244.2.7', 8080), ep('10.244.2.99', 8080)])), { changed: new Set(['default/web:']), forceFull: false });
  await dp.sync(desired(withWeb([])), { changed: new Set(['default/web:']), forceFull: false });
  t.deepEqual(nft.applied.at(-1)!.trim().split('\n'), [
    'delete element ip switchyard cluster-endpoints-tcp { 10.96.0.10 . 80 . 0, 10.96.0.10 . 80 . 1, 10.96.0.10 . 80 . 2 }',
    'delete element ip switchyard service-ips { 10.96.0.10 . tcp . 80 }',
    'delete element ip switchyard hairpin-endpoints { 10.244.2.7 . 10.244.2.7, 10.244.2.99 . 10.244.2.99 }',
    'delete element ip switchyard nodeport-endpoints-tcp { 30080 . 0, 30080 . 1, 30080 . 2 }',
    'delete element ip switchyard service-nodeports { tcp . 30080 }',
    'add element ip switchyard no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }',
    'add element ip switchyard no-endpoint-nodeports { tcp . 30080 : goto reject-chain }',
    'flush chain ip switchyard cluster-tcp-3',
    'flush chain ip switchyard nodeport-tcp-3',
    'delete chain ip switchyard cluster-tcp-3',
    'delete chain ip switchyard nodeport-tcp-3',
  ]);
});

test('a removed service (with affinity) leaves no chains, sets or elements behind', async (t) => {
  const { nft, dp } = await setup();
  await dp.sync(desired(richServices().filter((p) => p.name !== 'sticky')), all);
  const dump = nft.dump();
  t.notRegex(dump, /sticky/);
  t.notRegex(dump, /10\.96\.0\.50/);
  t.notRegex(dump, /10\.244\.1\.9 /);
});

test('a failed apply leaves the kernel unchanged and forces a full sync next', async (t) => {
  const { nft, dp } = await setup();
  const before = nft.dump();
  nft.failWhen = () => 'EPERM';
  const err = await t.throwsAsync(dp.sync(desired(withWeb([ep('10.244.9.9', 1)])), all));
  t.is((err as { code?: string }).code, 'ERR_DATAPLANE_APPLY');
  t.is(nft.dump(), before);
  nft.failWhen = undefined;
  const r = await dp.sync(desired(withWeb([ep('10.244.9.9', 1)])), all);
  t.true(r.full);
  t.is(nft.elements('ip', 'switchyard', 'cluster-endpoints-tcp')!.get('10.96.0.10 . 80 . 0'), '10.244.9.9 . 1');
  t.is(nft.elements('ip', 'switchyard', 'service-ips')!.get('10.96.0.10 . tcp . 80'), 'goto cluster-tcp-1');
});

test('a full resync removes objects the kernel holds but the state no longer wants', async (t) => {
  const { nft } = await setup();
  // A fresh dataplane (as after a restart) with fewer services: stale chains are found by listing the table.
  const dp2 = new NftablesDataplane({ runner: nft });
  const r = await dp2.sync(desired([plan({ name: 'only', clusterIP: '10.96.9.9', port: 80, endpoints: [ep('10.244.1.1', 80)] })]), all);
  t.true(r.full);
  t.notRegex(nft.dump(), /default\/web/);
  // A plain ClusterIP service goes to the shared chain for one TCP endpoint.
  t.regex(nft.dump(), /10\.96\.9\.9 \. tcp \. 80 : goto cluster-tcp-1/);
  t.regex(nft.dump(), /10\.96\.9\.9 \. 80 \. 0 : 10\.244\.1\.1 \. 80/);
  t.notRegex(nft.dump(), /chain cluster-tcp-2 /);
});

test('a full resync keeps ClientIP affinity: the dynamic sets the packet path fills are not flushed', async (t) => {
  const { nft, dp } = await setup();
  const affinitySet = /set (affinity-\S+) \{/.exec(nft.dump())?.[1];
  if (affinitySet === undefined) return t.fail('the fixture has a service with sessionAffinity');
  // What the kernel does when a client is sent to this endpoint: `update @affinity-… { ip saddr timeout … }`.
  await nft.run(`add element ip switchyard ${affinitySet} { 10.244.7.7 }\n`);
  const r = await dp.sync(desired(richServices()), { changed: new Set(), forceFull: true });
  t.true(r.full);
  t.true(nft.elements('ip', 'switchyard', affinitySet)!.has('10.244.7.7'), 'the client keeps its endpoint');
  t.regex(nft.applied.at(-1)!, /flush set ip switchyard cluster-ips/, 'sets we fill are still flushed and refilled');
  t.notRegex(nft.applied.at(-1)!, new RegExp(`flush set ip switchyard ${affinitySet}`));
});

test('forceFull rewrites everything', async (t) => {
  const { dp } = await setup();
  const r = await dp.sync(desired(richServices()), { changed: new Set(), forceFull: true });
  t.true(r.full);
  t.true(r.bytes > 0);
});

test('settings changes update the fixed chains and sets', async (t) => {
  const { nft, dp } = await setup();
  await dp.sync(desired(richServices(), { v4: { clusterCIDRs: ['10.244.0.0/16', '10.245.0.0/16'] } }), { changed: new Set(), forceFull: false });
  t.regex(nft.applied.at(-1)!, /add element ip switchyard cluster-cidrs \{ 10\.245\.0\.0\/16 \}/);
  await dp.sync(desired(richServices(), { masqueradeAll: true }), { changed: new Set(), forceFull: false });
  t.regex(nft.applied.at(-1)!, /flush chain ip switchyard services\n/);
});

test('cleanup removes both tables and succeeds when nothing is there', async (t) => {
  const { nft, dp } = await setup();
  await dp.cleanup();
  t.false(nft.hasTable('ip', 'switchyard'));
  t.false(nft.hasTable('ip6', 'switchyard'));
  await t.notThrowsAsync(dp.cleanup());
  const r = await dp.sync(desired(richServices()), all);
  t.true(r.full);
});
