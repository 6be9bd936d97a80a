import test from 'ava';
import { IptablesDataplane } from '../../../../lib/dataplane/iptables/dataplane.ts';
import { FakeIptables } from '../../../../lib/dataplane/iptables/fake.ts';
import { traceIptables } from '../../../../lib/dataplane/iptables/trace.ts';
import type { ServicePlan } from '../../../../lib/plan/types.ts';
import { desired, ep, LOCAL_ADDRESSES, plan, richServices } from '../fixtures.ts';

const noHint = { changed: undefined, forceFull: false };
const setup = () => {
  const fake = new FakeIptables();
  const dp = new IptablesDataplane({ executor: fake });
  return { fake, dp };
};
const withWeb = (f: (p: ServicePlan) => ServicePlan): ServicePlan[] => richServices().map((p) => (p.name === 'web' ? f(p) : p));
const lastInput = (fake: FakeIptables, family: 4 | 6 = 4): string => fake.restores.filter((r) => r.family === family).at(-1)?.input ?? '';

test('first sync is full: every chain written, jump rules installed once', async (t) => {
  const { fake, dp } = setup();
  const r = await dp.sync(desired(richServices()), noHint);
  t.true(r.full);
  t.is(dp.lastFullReason, 'first');
  t.is(r.changedServices, richServices().length);
  t.true(r.bytes > 1000);
  t.deepEqual(fake.chains(4, 'nat').get('PREROUTING'), ['-m comment --comment switchyard-services -j SWITCHYARD-SERVICES']);
  t.deepEqual(fake.chains(4, 'filter').get('FORWARD'), [
    '-m comment --comment switchyard-forward -j SWITCHYARD-FORWARD',
    '-m conntrack --ctstate NEW -m comment --comment switchyard-firewall -j SWITCHYARD-FIREWALL',
    '-m conntrack --ctstate NEW -m comment --comment switchyard-services -j SWITCHYARD-SERVICES',
    '-m conntrack --ctstate NEW -m comment --comment switchyard-external-services -j SWITCHYARD-EXTERNAL-SERVICES',
    '-m conntrack --ctstate NEW -m comment --comment switchyard-cluster-ips -j SWITCHYARD-CLUSTER-IPS',
  ]);
  t.true(fake.chains(6, 'mangle').has('SWITCHYARD-CANARY'));
  // A forced resync rewrites everything but does not duplicate the jump rules.
  const again = await dp.sync(desired(richServices()), { changed: undefined, forceFull: true });
  t.true(again.full);
  t.is(dp.lastFullReason, 'forced');
  t.is(fake.chains(4, 'nat').get('PREROUTING')?.length, 1);
  t.is(fake.chains(4, 'filter').get('FORWARD')?.length, 5);
});

test('nothing changed: partial sync writes nothing', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  const n = fake.restores.length;
  const r = await dp.sync(desired(richServices()), noHint);
  t.false(r.full);
  t.is(r.changedServices, 0);
  t.is(r.bytes, 0);
  t.is(fake.restores.length, n);
});

test('an endpoint change rewrites only that service chain (DNAT inline) and moves its hairpin members', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  t.true(fake.setMembers('SWITCHYARD-HAIRPIN')?.has('10.244.2.7,tcp:8080,10.244.2.7'));
  const n = fake.restores.length;
  const state = desired(withWeb((p) => ({ ...p, clusterEndpoints: [p.clusterEndpoints[0]!, ep('10.244.2.99', 8080)] })));
  const r = await dp.sync(state, { changed: new Set(['default/web:']), forceFull: false });
  t.false(r.full);
  t.is(r.changedServices, 1);
  t.is(fake.restores.length, n + 1); // IPv6 had nothing to write
  const input = lastInput(fake);
  const declared = input.split('\n').filter((l) => l.startsWith(':'));
  t.deepEqual(declared, [declared[0]!], input);
  t.regex(declared[0]!, /^:SWITCHYARD-SVC-\S+ - \[0:0\]$/);
  t.notRegex(input, /SWITCHYARD-SEP-|^-X /m);
  t.regex(input, /-m statistic --mode random --probability 0\.5000000000 -j DNAT --to-destination 10\.244\.1\.5:8080$/m);
  t.regex(input, /-j DNAT --to-destination 10\.244\.2\.99:8080/);
  t.notRegex(input, /\*filter/);
  // The new member is added before the restore, the old one deleted after it.
  const [add, del] = fake.ipsetCalls.slice(-2).map((c) => c.input);
  t.is(add, 'add SWITCHYARD-HAIRPIN 10.244.2.99,tcp:8080,10.244.2.99 -exist\n');
  t.is(del, 'del SWITCHYARD-HAIRPIN 10.244.2.7,tcp:8080,10.244.2.7 -exist\n');
  t.false(fake.setMembers('SWITCHYARD-HAIRPIN')!.has('10.244.2.7,tcp:8080,10.244.2.7'));
  const trace = traceIptables({ 4: fake.typedTables(4) }, { localAddresses: LOCAL_ADDRESSES }, { 4: fake.setLookup() });
  t.deepEqual(trace({ from: 'pod', src: '10.244.1.20', dst: '10.96.0.10', proto: 'TCP', dport: 80 }), {
    verdict: 'dnat',
    endpoints: ['10.244.1.5:8080', '10.244.2.99:8080'],
    masquerade: false,
  });
  t.true(trace({ from: 'pod', src: '10.244.2.99', dst: '10.96.0.10', proto: 'TCP', dport: 80 }).verdict === 'dnat');
  t.deepEqual(trace({ from: 'pod', src: '10.244.2.99', dst: '10.96.0.10', proto: 'TCP', dport: 80 }), {
    verdict: 'dnat',
    endpoints: ['10.244.1.5:8080', '10.244.2.99:8080'],
    masquerade: true, // the branch that lands on itself
  });
});

test('an endpoint change of a session-affinity service still writes SEP chains: the new one added, the old one deleted', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  const services = richServices().map((p) => (p.name === 'sticky' ? { ...p, clusterEndpoints: [p.clusterEndpoints[0]!, ep('10.244.2.77', 80)] } : p));
  const r = await dp.sync(desired(services), { changed: new Set(['default/sticky:']), forceFull: false });
  t.is(r.changedServices, 1);
  const input = lastInput(fake);
  t.is(input.split('\n').filter((l) => l.startsWith(':')).length, 3, input); // SVC, new SEP, old SEP (flushed before -X)
  t.is(input.match(/^-X SWITCHYARD-SEP-/gm)?.length, 1);
  t.regex(input, /-m recent --set --name SWITCHYARD-SEP-\S+ .*-j DNAT --to-destination 10\.244\.2\.77:80/);
  t.false(fake.setMembers('SWITCHYARD-HAIRPIN')!.has('10.244.2.77,tcp:80,10.244.2.77'));
});

test('a hairpin member two services share stays until neither uses it', async (t) => {
  const { fake, dp } = setup();
  const shared = ep('10.244.3.3', 80);
  const a = plan({ name: 'a', clusterIP: '10.96.7.1', port: 80, endpoints: [shared] });
  const b = plan({ name: 'b', clusterIP: '10.96.7.2', port: 80, endpoints: [shared] });
  await dp.sync(desired([a, b]), noHint);
  const member = '10.244.3.3,tcp:80,10.244.3.3';
  t.true(fake.setMembers('SWITCHYARD-HAIRPIN')!.has(member));
  await dp.sync(desired([b]), noHint);
  t.true(fake.setMembers('SWITCHYARD-HAIRPIN')!.has(member));
  await dp.sync(desired([]), noHint);
  t.false(fake.setMembers('SWITCHYARD-HAIRPIN')!.has(member));
  await dp.sync(desired([a]), noHint);
  t.true(fake.setMembers('SWITCHYARD-HAIRPIN')!.has(member));
});

test('a failing ipset leaves the rules as they were and forces a full sync next', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  const before = [...fake.chains(4, 'nat')];
  fake.failNextIpset = 'Kernel error received: Operation not permitted';
  const state = desired(withWeb((p) => ({ ...p, clusterEndpoints: [ep('10.244.2.98', 8080)] })));
  const e = await t.throwsAsync(dp.sync(state, { changed: new Set(['default/web:']), forceFull: false }));
  t.regex(e!.message, /ipset restore failed .*Operation not permitted/);
  t.deepEqual([...fake.chains(4, 'nat')], before);
  const r = await dp.sync(state, noHint);
  t.true(r.full);
  t.true(fake.setMembers('SWITCHYARD-HAIRPIN')!.has('10.244.2.98,tcp:8080,10.244.2.98'));
  t.false(fake.setMembers('SWITCHYARD-HAIRPIN')!.has('10.244.2.7,tcp:8080,10.244.2.7'));
});

const manyServices = (n: number, base = 0): ServicePlan[] =>
  Array.from({ length: n }, (_, i) =>
    plan({ name: `s${base + i}`, clusterIP: `10.96.8.${base + i + 1}`, port: 80, endpoints: [ep(`10.244.8.${base + i + 1}`, 80)], extra: { nodePort: 31000 + base + i, ...(i % 3 === 0 ? { affinityTimeoutSeconds: 60 } : {}) } }),
  );

test('big changes go in several restores that each apply, ending where one restore would', async (t) => {
  const one = new FakeIptables();
  const split = new FakeIptables();
  const dpOne = new IptablesDataplane({ executor: one, families: [4] });
  const dpSplit = new IptablesDataplane({ executor: split, families: [4], restoreChunkChains: 4 });
  const steps = [manyServices(12), [...manyServices(6), ...manyServices(6, 20)], manyServices(2, 40)];
  for (const [i, services] of steps.entries()) {
    const from = split.restores.length;
    // Forced on the last step: deletions come from the record then, in flush and delete batches.
    const hint = { changed: undefined, forceFull: i === 2 };
    await dpOne.sync(desired(services), hint);
    await dpSplit.sync(desired(services), hint);
    const inputs = split.restores.slice(from).map((r) => r.input);
    t.true(inputs.length > 2, `step ${i}: ${inputs.length} inputs`);
    // A batch closes at a group boundary once it holds 4 service chains (a group here has at most 3).
    t.true(inputs.every((x) => x.split('\n').filter((l) => /^:SWITCHYARD-(SVC|SVL|EXT|FW|SEP)-/.test(l)).length <= 6), `step ${i}: batches stay small`);
    t.true(inputs.every((x) => x.split('\n').filter((l) => /^-[FX] /.test(l)).length <= 4), `step ${i}: deletion batches stay small`);
    // Same chains with the same rules (the order chains were created in means nothing).
    const sorted = (f: FakeIptables, table: 'filter' | 'nat' | 'mangle') => [...f.chains(4, table)].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const table of ['filter', 'nat', 'mangle'] as const) t.deepEqual(sorted(split, table), sorted(one, table), `step ${i} ${table}`);
  }
  t.true(split.restores.some((r) => /^-F SWITCHYARD-/m.test(r.input)));
});

test('a removed service: fixed chains rewritten, its chains deleted; a new one: its chains added', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  const services = richServices().filter((p) => p.name !== 'sticky');
  services.push(plan({ name: 'new', clusterIP: '10.96.7.7', port: 8000, endpoints: [ep('10.244.3.3', 80)] }));
  const r = await dp.sync(desired(services), noHint);
  t.false(r.full);
  t.is(r.changedServices, 2);
  const input = lastInput(fake);
  t.regex(input, /^:SWITCHYARD-SERVICES - \[0:0\]$/m);
  t.is(input.match(/^-X /gm)?.length, 3); // sticky's SVC and two SEPs
  t.notRegex(input, /^:SWITCHYARD-NODEPORTS/m);
  const nat = fake.chains(4, 'nat');
  t.false([...nat.values()].flat().some((r) => r.includes('default/sticky:')));
  t.true(nat.get('SWITCHYARD-SERVICES')!.some((r) => r.includes('10.96.7.7/32')));
});

test('the changed hint limits rebuilding to the named services', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  // dns changes but the hint names only web: dns keeps its old rules (the caller vouches for the rest).
  const services = richServices().map((p) => (p.name === 'dns' ? { ...p, clusterEndpoints: [ep('10.244.9.9', 53)] } : p));
  const n = fake.restores.length;
  const r = await dp.sync(desired(services), { changed: new Set(['default/web:']), forceFull: false });
  t.is(r.changedServices, 0);
  t.is(fake.restores.length, n);
  const full = await dp.sync(desired(services), noHint);
  t.is(full.changedServices, 1);
});

test('a refused restore leaves the kernel as it was and forces a full sync next', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  const before = [...fake.chains(4, 'nat')];
  fake.failNextRestore = 'iptables-restore: line 3 failed';
  const state = desired(withWeb((p) => ({ ...p, clusterEndpoints: [ep('10.244.2.98', 8080)] })));
  const e = await t.throwsAsync(dp.sync(state, noHint));
  t.is((e as { code?: string }).code, 'ERR_DATAPLANE_APPLY');
  t.regex(e!.message, /iptables \(nft\) partial sync failed: ERR_DATAPLANE_APPLY: iptables-restore: line 3 failed/);
  t.deepEqual([...fake.chains(4, 'nat')], before);
  const r = await dp.sync(state, noHint);
  t.true(r.full);
  t.is(dp.lastFullReason, 'failure');
});

test('the fake refuses a jump to a missing chain, DNAT outside nat, and -X of a non-empty chain', async (t) => {
  const fake = new FakeIptables();
  await t.throwsAsync(fake.restore(4, '*nat\n:SWITCHYARD-A - [0:0]\n-A SWITCHYARD-A -j SWITCHYARD-B\nCOMMIT\n'), { message: /jumps to missing chain SWITCHYARD-B/ });
  await t.throwsAsync(fake.restore(4, '*filter\n:X - [0:0]\n-A X -p tcp -j DNAT --to-destination 1.2.3.4:80\nCOMMIT\n'), { message: /only valid in the nat table/ });
  await t.throwsAsync(fake.restore(4, '*nat\n:X - [0:0]\n-A X -j REJECT\nCOMMIT\n'), { message: /not valid in the nat table/ });
  await fake.restore(4, '*nat\n:X - [0:0]\n-A X -j RETURN\nCOMMIT\n');
  await t.throwsAsync(fake.restore(4, '*nat\n-X X\nCOMMIT\n'), { message: /chain X is not empty/ });
  // Per table: filter commits, then nat fails and stays as it was.
  await t.throwsAsync(fake.restore(4, '*filter\n:F - [0:0]\nCOMMIT\n*nat\n:X - [0:0]\n-A X -j NOPE\nCOMMIT\n'));
  t.true(fake.chains(4, 'filter').has('F'));
  t.deepEqual(fake.chains(4, 'nat').get('X'), ['-j RETURN']);
});

test('canary: a flushed mangle table makes the next sync full and restores everything', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  fake.flushTable(4, 'mangle');
  fake.flushTable(4, 'nat');
  const r = await dp.sync(desired(richServices()), noHint);
  t.true(r.full);
  t.is(dp.lastFullReason, 'canary');
  t.true(fake.chains(4, 'mangle').has('SWITCHYARD-CANARY'));
  t.is(fake.chains(4, 'nat').get('PREROUTING')?.length, 1);
  const tracer = traceIptables({ 4: fake.typedTables(4) }, { localAddresses: LOCAL_ADDRESSES });
  t.is(tracer({ from: 'external', src: '203.0.113.5', dst: '192.168.1.10', proto: 'TCP', dport: 30080 }).verdict, 'dnat');
});

test('a full sync after a restart deletes chains a previous run left behind', async (t) => {
  const fake = new FakeIptables();
  await new IptablesDataplane({ executor: fake }).sync(desired(richServices()), noHint);
  const dp = new IptablesDataplane({ executor: fake });
  await dp.sync(desired([plan({ name: 'only', clusterIP: '10.96.9.9', port: 80, endpoints: [ep('10.244.9.9', 80)] })]), noHint);
  const ours = [...fake.chains(4, 'nat').keys()].filter((c) => c.startsWith('SWITCHYARD-SVC-'));
  t.is(ours.length, 1);
  t.is(fake.chains(4, 'nat').get('PREROUTING')?.length, 1);
});

test('cleanup removes jump rules and chains from every backend, and succeeds when nothing is there', async (t) => {
  const nft = new FakeIptables('nft');
  const legacy = new FakeIptables('legacy');
  await new IptablesDataplane({ executor: legacy }).sync(desired(richServices()), noHint);
  const dp = new IptablesDataplane({ executor: nft, cleanupExecutors: [nft, legacy] });
  await dp.sync(desired(richServices()), noHint);
  // Someone else's rule in a built-in chain survives.
  await nft.command(4, 'filter', ['-A', 'INPUT', '-s', '10.0.0.1/32', '-j', 'ACCEPT']);
  await dp.cleanup();
  for (const fake of [nft, legacy]) {
    for (const family of [4, 6] as const) {
      for (const table of ['filter', 'nat', 'mangle'] as const) {
        const text = await fake.save(family, table);
        t.notRegex(text, /SWITCHYARD/, `${fake.backend} ${family} ${table}`);
      }
    }
  }
  t.deepEqual(nft.chains(4, 'filter').get('INPUT'), ['-s 10.0.0.1/32 -j ACCEPT']);
  await t.notThrowsAsync(dp.cleanup());
  const r = await dp.sync(desired(richServices()), noHint);
  t.true(r.full);
});

test('a member ipset refuses does not stay behind for the next syncs', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  const bad = desired(withWeb((p) => ({ ...p, clusterEndpoints: [ep('not-an-ip', 8080)] })));
  await t.throwsAsync(dp.sync(bad, { changed: new Set(['default/web:']), forceFull: false }), { message: /partial sync failed: .*ipset restore failed/ });
  const r = await dp.sync(desired(richServices()), noHint);
  t.true(r.full);
  t.true(fake.setMembers('SWITCHYARD-HAIRPIN')!.has('10.244.2.7,tcp:8080,10.244.2.7'));
  t.false([...fake.setMembers('SWITCHYARD-HAIRPIN')!].some((m) => m.includes('not-an-ip')));
});

test('cleanup destroys the hairpin sets once no rule uses them', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  t.deepEqual((await fake.ipset(['list', '-n'])).stdout, 'SWITCHYARD-HAIRPIN\nSWITCHYARD-HAIRPIN6\n');
  t.regex((await fake.ipset(['destroy', 'SWITCHYARD-HAIRPIN'])).stderr, /in use by a kernel component/);
  await dp.cleanup();
  t.is((await fake.ipset(['list', '-n'])).stdout, '');
});

test('cleanupKernelObjects removes only the hairpin sets, and only once no rule uses them (IPVS taking over)', async (t) => {
  const { fake, dp } = setup();
  await dp.sync(desired(richServices()), noHint);
  const chains = async (): Promise<number> => (await fake.save(4, 'nat')).split('\n').filter((l) => l.startsWith(':SWITCHYARD-')).length;
  const chainsBefore = await chains();
  t.true(chainsBefore > 0);
  await t.throwsAsync(dp.cleanupKernelObjects(), { message: /iptables set cleanup failed: .*in use/ });
  t.is(await chains(), chainsBefore, 'the shared SWITCHYARD- chains are not touched');
  // Another mode's full sync deletes the chains (and the rules that used the sets); the sets are left to us.
  await new IptablesDataplane({ executor: fake }).cleanup().catch(() => undefined);
  await fake.ipset(['create', 'SWITCHYARD-HAIRPIN', 'hash:ip,port,ip']).catch(() => undefined);
  await dp.cleanupKernelObjects();
  t.is((await fake.ipset(['list', '-n'])).stdout, '');
});
