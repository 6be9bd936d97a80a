import test from 'ava';
import { NftablesDataplane } from '../../../../lib/dataplane/nftables/dataplane.ts';
import { fullTransaction } from '../../../../lib/dataplane/nftables/diff.ts';
import { FakeNft } from '../../../../lib/dataplane/nftables/fake.ts';
import { buildRuleset } from '../../../../lib/dataplane/nftables/ruleset.ts';
import { traceNftables } from '../../../../lib/dataplane/nftables/trace.ts';
import type { Ruleset } from '../../../../lib/dataplane/nftables/model.ts';
import type { ServicePlan } from '../../../../lib/plan/types.ts';
import { desired, ep, LOCAL_ADDRESSES, plan } from '../fixtures.ts';

const svc = (i: number, n: number, port = 80, portName = '', extra: Partial<ServicePlan> = {}): ServicePlan =>
  plan({
    name: `s${i}`,
    portName,
    clusterIP: `10.96.1.${i}`,
    port,
    endpoints: Array.from({ length: n }, (_, j) => ep(`10.244.${i}.${j + 1}`, 8080)),
    extra,
  });
/** A NodePort service with externalTrafficPolicy Local: it keeps its own chains and its endpoints live in the slot maps. */
const svcLocalPolicy = (i: number, n: number): ServicePlan => svc(i, n, 80, '', { nodePort: 30000 + i, externalPolicyLocal: true });

const withEndpoints = (p: ServicePlan, endpoints: ServicePlan['clusterEndpoints']): ServicePlan => ({
  ...p,
  clusterEndpoints: endpoints,
  localEndpoints: endpoints.filter((e) => e.isLocal),
  internalVerdict: endpoints.length > 0 ? 'endpoints' : 'reject',
  externalVerdict: endpoints.length > 0 ? 'endpoints' : 'reject',
});

/** What a kernel holding `ruleset` from scratch would look like. */
const freshDump = async (ruleset: Ruleset): Promise<string> => {
  const k = new FakeNft();
  await k.run(fullTransaction(ruleset).render());
  return k.dump();
};

test('replacing one endpoint of a plain ClusterIP service rewrites one element of the shared map, no chain', async (t) => {
  const nft = new FakeNft();
  const dp = new NftablesDataplane({ runner: nft, families: [4] });
  const s = [svc(1, 3), svc(2, 3)];
  await dp.sync(desired(s), { changed: undefined, forceFull: false });
  t.deepEqual(nft.chain('ip', 'switchyard', 'cluster-tcp-3'), [
    'meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 3 map @cluster-endpoints-tcp',
  ]);
  t.notRegex(nft.dump(), /chain service-[A-Z0-9]{8}-/);
  const changed = withEndpoints(s[1]!, [ep('10.244.2.1', 8080), ep('10.244.2.9', 8080), ep('10.244.2.3', 8080)]);
  const r = await dp.sync(desired([s[0]!, changed]), { changed: new Set([changed.servicePort]), forceFull: false });
  t.is(r.changedServices, 1);
  t.deepEqual(nft.applied.at(-1)!.trim().split('\n'), [
    'delete element ip switchyard cluster-endpoints-tcp { 10.96.1.2 . 80 . 1 }',
    'delete element ip switchyard hairpin-endpoints { 10.244.2.2 . 10.244.2.2 }',
    'add element ip switchyard cluster-endpoints-tcp { 10.96.1.2 . 80 . 1 : 10.244.2.9 . 8080 }',
    'add element ip switchyard hairpin-endpoints { 10.244.2.9 . 10.244.2.9 }',
  ]);
});

test('removing one endpoint of a plain ClusterIP service: one element out, the ClusterIP moves to the shared chain for N-1', async (t) => {
  const nft = new FakeNft();
  const dp = new NftablesDataplane({ runner: nft, families: [4] });
  const s = [svc(1, 3), svc(2, 3)];
  await dp.sync(desired(s), { changed: undefined, forceFull: false });
  const changed = withEndpoints(s[1]!, [ep('10.244.2.1', 8080), ep('10.244.2.3', 8080)]);
  await dp.sync(desired([s[0]!, changed]), { changed: new Set([changed.servicePort]), forceFull: false });
  // The last endpoint takes the freed index; cluster-tcp-2 is new, cluster-tcp-3 stays for s1.
  t.deepEqual(nft.applied.at(-1)!.trim().split('\n'), [
    'add chain ip switchyard cluster-tcp-2',
    'add rule ip switchyard cluster-tcp-2 meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 2 map @cluster-endpoints-tcp',
    'delete element ip switchyard cluster-endpoints-tcp { 10.96.1.2 . 80 . 1, 10.96.1.2 . 80 . 2 }',
    'delete element ip switchyard service-ips { 10.96.1.2 . tcp . 80 }',
    'delete element ip switchyard hairpin-endpoints { 10.244.2.2 . 10.244.2.2 }',
    'add element ip switchyard cluster-endpoints-tcp { 10.96.1.2 . 80 . 1 : 10.244.2.3 . 8080 }',
    'add element ip switchyard service-ips { 10.96.1.2 . tcp . 80 : goto cluster-tcp-2 }',
  ]);
  // The last user of cluster-tcp-3 goes: the chain is deleted after the element pointing at it.
  const s0 = withEndpoints(s[0]!, [ep('10.244.1.1', 8080), ep('10.244.1.2', 8080)]);
  await dp.sync(desired([s0, changed]), { changed: new Set([s0.servicePort]), forceFull: false });
  const last = nft.applied.at(-1)!;
  t.regex(last, /delete chain ip switchyard cluster-tcp-3$/m);
  t.true(last.indexOf('delete chain ip switchyard cluster-tcp-3') > last.indexOf('add element ip switchyard service-ips { 10.96.1.1 . tcp . 80 : goto cluster-tcp-2 }'));
  t.is(nft.chain('ip', 'switchyard', 'cluster-tcp-3'), undefined);
  t.is(nft.dump(), await freshDump(dp.lastApplied!));
});

test('replacing one endpoint of a service with its own chains (eTP Local) rewrites one slot, no chain', async (t) => {
  const nft = new FakeNft();
  const dp = new NftablesDataplane({ runner: nft, families: [4] });
  const s = [svcLocalPolicy(1, 3), svcLocalPolicy(2, 3)];
  await dp.sync(desired(s), { changed: undefined, forceFull: false });
  const changed = withEndpoints(s[1]!, [ep('10.244.2.1', 8080), ep('10.244.2.9', 8080), ep('10.244.2.3', 8080)]);
  const r = await dp.sync(desired([s[0]!, changed]), { changed: new Set([changed.servicePort]), forceFull: false });
  t.is(r.changedServices, 1);
  t.deepEqual(nft.applied.at(-1)!.trim().split('\n'), [
    'delete element ip switchyard endpoints-tcp-0 { 5 }',
    'delete element ip switchyard hairpin-endpoints { 10.244.2.2 . 10.244.2.2 }',
    'add element ip switchyard endpoints-tcp-0 { 5 : 10.244.2.9 . 8080 }',
    'add element ip switchyard hairpin-endpoints { 10.244.2.9 . 10.244.2.9 }',
  ]);
});

test('two ports share a ClusterIP and endpoint IPs: removing one port keeps the shared elements', async (t) => {
  const nft = new FakeNft();
  const dp = new NftablesDataplane({ runner: nft, families: [4] });
  const a = svc(1, 2, 80, 'http');
  const b = { ...svc(1, 2, 443, 'https') };
  await dp.sync(desired([a, b]), { changed: undefined, forceFull: false });
  await dp.sync(desired([a]), { changed: undefined, forceFull: false });
  t.true(nft.elements('ip', 'switchyard', 'cluster-ips')!.has('10.96.1.1'));
  t.true(nft.elements('ip', 'switchyard', 'hairpin-endpoints')!.has('10.244.1.1 . 10.244.1.1'));
  t.notRegex(nft.applied.at(-1)!, /cluster-ips|hairpin/);
  await dp.sync(desired([]), { changed: undefined, forceFull: false });
  t.is(nft.elements('ip', 'switchyard', 'cluster-ips')!.size, 0);
  t.is(nft.elements('ip', 'switchyard', 'hairpin-endpoints')!.size, 0);
  t.is(nft.elements('ip', 'switchyard', 'endpoints-tcp-0'), undefined); // the emptied endpoint map is deleted
});

for (const [kind, service, missingKey] of [
  ['slot map (eTP Local service)', svcLocalPolicy(1, 2), '1'],
  ['shared map (plain ClusterIP service)', svc(1, 2), '10.96.1.1 . 80 . 1'],
] as const) {
  test(`an element missing from the ${kind} makes the tracer fall through, as the kernel lookup does`, (t) => {
    const rs = buildRuleset(desired([service]), [4]);
    const fr = rs.families[0]!;
    const g = fr.services.get('4/default/s1:')!;
    const kept = g.elements.filter((e) => e.key !== missingKey);
    t.is(kept.length, g.elements.length - 1);
    const broken: Ruleset = { families: [{ ...fr, services: new Map([['4/default/s1:', { ...g, elements: kept }]]) }] };
    const trace = traceNftables(broken, { localAddresses: LOCAL_ADDRESSES });
    const r = trace({ from: 'pod', src: '10.244.9.9', dst: '10.96.1.1', dport: 80, proto: 'TCP' });
    t.deepEqual(r, { verdict: 'dnat', endpoints: ['10.244.1.1:8080'], masquerade: false });
  });
}

/** Deterministic pseudo-random numbers. */
const rng = (seed: number) => () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

for (const seed of [1, 2, 3]) {
  test(`random incremental syncs leave the kernel exactly as a full sync of the same ruleset would (seed ${seed})`, async (t) => {
    const rand = rng(seed);
    const nft = new FakeNft();
    const dp = new NftablesDataplane({ runner: nft, families: [4] });
    let services = new Map<number, ServicePlan>();
    for (let i = 1; i <= 40; i++) services.set(i, svc(i, 1 + Math.floor(rand() * 6)));
    await dp.sync(desired([...services.values()]), { changed: undefined, forceFull: false });
    for (let step = 0; step < 60; step++) {
      const i = 1 + Math.floor(rand() * 50);
      const old = services.get(i);
      const next = new Map(services);
      const roll = rand();
      if (old !== undefined && roll < 0.15) next.delete(i);
      else {
        const base = old ?? svc(i, 0);
        const n = roll > 0.9 ? 20 + Math.floor(rand() * 30) : Math.floor(rand() * 8);
        const eps = Array.from({ length: n }, () => ep(`10.244.${i}.${1 + Math.floor(rand() * 60)}`, 8080));
        next.set(i, withEndpoints(base, [...new Map(eps.map((e) => [e.ip, e])).values()]));
      }
      services = next;
      const key = (old ?? next.get(i))!.servicePort;
      const hint = rand() < 0.5 ? new Set([key]) : undefined;
      const r = await dp.sync(desired([...services.values()]), { changed: hint, forceFull: false });
      t.false(r.full);
      t.true(r.changedServices <= 1, `step ${step}`);
    }
    t.is(nft.dump(), await freshDump(dp.lastApplied!));
    // A forced full resync allocates slots afresh: keys get other values, which only works if the sets are flushed.
    const resync = await dp.sync(desired([...services.values()]), { changed: undefined, forceFull: true });
    t.true(resync.full);
    t.is(nft.dump(), await freshDump(dp.lastApplied!));
    const trace = traceNftables(dp.lastApplied!, { localAddresses: LOCAL_ADDRESSES });
    for (const p of services.values()) {
      const got = trace({ from: 'pod', src: '10.244.200.1', dst: p.clusterIP, dport: 80, proto: 'TCP' });
      const want = p.clusterEndpoints.length === 0
        ? { verdict: 'reject' }
        : { verdict: 'dnat', endpoints: p.clusterEndpoints.map((e) => `${e.ip}:${e.port}`).sort(), masquerade: false };
      t.deepEqual(got, want, p.name);
    }
  });
}

test('a slot range handed from a removed service to a new one in the same sync: old elements out, new ones in', async (t) => {
  const nft = new FakeNft();
  const dp = new NftablesDataplane({ runner: nft, families: [4] });
  await dp.sync(desired([svcLocalPolicy(1, 2), svcLocalPolicy(2, 2)]), { changed: undefined, forceFull: false });
  t.deepEqual([...nft.elements('ip', 'switchyard', 'endpoints-tcp-0')!.keys()].sort(), ['0', '1', '2', '3']);
  const s3 = svcLocalPolicy(3, 2);
  const r = await dp.sync(desired([svcLocalPolicy(2, 2), s3]), { changed: new Set([svc(1, 2).servicePort, s3.servicePort]), forceFull: false });
  t.false(r.full);
  const script = nft.applied.at(-1)!;
  t.regex(script, /delete element ip switchyard endpoints-tcp-0 \{ 0, 1 \}/);
  t.regex(script, /add element ip switchyard endpoints-tcp-0 \{ 0 : 10\.244\.3\.1 \. 8080, 1 : 10\.244\.3\.2 \. 8080 \}/);
  t.true(script.indexOf('delete element ip switchyard endpoints-tcp-0') < script.indexOf('add element ip switchyard endpoints-tcp-0'));
  t.is(nft.dump(), await freshDump(dp.lastApplied!));
});

test('a hint that misses a new service port still programs it (the build and the diff fall back to every service)', async (t) => {
  const nft = new FakeNft();
  const dp = new NftablesDataplane({ runner: nft, families: [4] });
  await dp.sync(desired([svc(1, 2)]), { changed: undefined, forceFull: false });
  const r = await dp.sync(desired([svc(1, 2), svc(2, 3)]), { changed: new Set(), forceFull: false });
  t.false(r.full);
  t.is(r.changedServices, 1);
  t.true(nft.elements('ip', 'switchyard', 'service-ips')!.has('10.96.1.2 . tcp . 80'));
  t.is(nft.dump(), await freshDump(dp.lastApplied!));
});

test('two services given the same ClusterIP and port (bad input): the first by id wins every key, syncs stay consistent', async (t) => {
  const nft = new FakeNft();
  const dp = new NftablesDataplane({ runner: nft, families: [4] });
  const a = { ...svc(1, 3), clusterIP: '10.96.1.9' };
  const b = { ...svc(2, 2), clusterIP: '10.96.1.9' };
  await dp.sync(desired([a, b]), { changed: undefined, forceFull: false });
  const packet = { from: 'pod', src: '10.244.200.1', dst: '10.96.1.9', dport: 80, proto: 'TCP' } as const;
  const endpointsOf = (p: ServicePlan) => ({ verdict: 'dnat', endpoints: p.clusterEndpoints.map((e) => `${e.ip}:${e.port}`).sort(), masquerade: false });
  t.deepEqual(traceNftables(dp.lastApplied!, { localAddresses: LOCAL_ADDRESSES })(packet), endpointsOf(a));
  t.is(nft.elements('ip', 'switchyard', 'service-ips')!.get('10.96.1.9 . tcp . 80'), 'goto cluster-tcp-3');
  // The first one goes: the second one takes over the keys, in an incremental sync.
  const r = await dp.sync(desired([b]), { changed: new Set([a.servicePort]), forceFull: false });
  t.false(r.full);
  t.deepEqual(traceNftables(dp.lastApplied!, { localAddresses: LOCAL_ADDRESSES })(packet), endpointsOf(b));
  t.is(nft.dump(), await freshDump(dp.lastApplied!));
});
