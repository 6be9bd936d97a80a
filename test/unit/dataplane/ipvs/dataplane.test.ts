import test, { type ExecutionContext, type TestFn } from 'ava';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IpvsDataplane } from '../../../../lib/dataplane/ipvs/dataplane.ts';
import { FakeIpvsKernel } from '../../../../lib/dataplane/ipvs/fake.ts';
import { ExecIpvsKernel, parseIpvsSave } from '../../../../lib/dataplane/ipvs/kernel.ts';
import { buildIpvs } from '../../../../lib/dataplane/ipvs/build.ts';
import { ipsetScript, ipvsScript } from '../../../../lib/dataplane/ipvs/diff.ts';
import { traceIpvs } from '../../../../lib/dataplane/ipvs/trace.ts';
import { renderRule } from '../../../../lib/dataplane/iptables/model.ts';
import { FakeIptables } from '../../../../lib/dataplane/iptables/fake.ts';
import { FakeCommandRunner } from '../../../../lib/exec/command.ts';
import type { IPFamily } from '../../../../lib/model/types.ts';
import type { ServicePlan } from '../../../../lib/plan/types.ts';
import { desired, ep, LOCAL_ADDRESSES, plan, richServices } from '../fixtures.ts';
import { IPVS_KNOWN_DIFFERENCES, runPacketFlowSuite } from '../packet-flow-suite.ts';

const noHint = { changed: undefined, forceFull: false };
const setup = (supported = true) => {
  const kernel = new FakeIpvsKernel();
  kernel.supported = supported;
  const iptables = new FakeIptables();
  const dp = new IpvsDataplane({ kernel, iptables, scheduler: 'rr', localAddresses: () => Promise.resolve(LOCAL_ADDRESSES) });
  return { kernel, iptables, dp };
};
const fakeState = (kernel: FakeIpvsKernel, iptables: FakeIptables, family: IPFamily) => ({
  family,
  virtualServers: [...kernel.servers.values()].filter((v) => v.addr.includes(':') === (family === 6)),
  sets: kernel.setDefs(),
  addresses: [...kernel.addresses],
  tables: iptables.typedTables(family),
});

// The suite against what the fakes hold after a sync (see packet-flow.test.ts for the known differences).
const KNOWN = new Set(IPVS_KNOWN_DIFFERENCES.map((title) => `ipvs (fake kernel) packet flow: ${title}`));
const suiteTest = ((title: string, fn: (t: ExecutionContext) => Promise<void>) => (KNOWN.has(title) ? test.failing(title, fn) : test(title, fn))) as unknown as TestFn;
runPacketFlowSuite(suiteTest, 'ipvs (fake kernel)', async (state, ctx) => {
  const kernel = new FakeIpvsKernel();
  const iptables = new FakeIptables();
  await new IpvsDataplane({ kernel, iptables, scheduler: 'rr', localAddresses: () => Promise.resolve(ctx.localAddresses) }).sync(state, noHint);
  return traceIpvs({ 4: fakeState(kernel, iptables, 4), 6: fakeState(kernel, iptables, 6) }, ctx);
});

test('a kernel without IPVS: clear ERR_DATAPLANE_UNSUPPORTED, nothing programmed', async (t) => {
  const { dp, kernel, iptables } = setup(false);
  const e = await t.throwsAsync(dp.sync(desired(richServices()), noHint));
  t.is((e as { code?: string }).code, 'ERR_DATAPLANE_UNSUPPORTED');
  t.regex(e!.message, /--proxy-mode ipvs cannot run here: the kernel has no IPVS/);
  t.is(kernel.servers.size, 0);
  t.is(iptables.restores.length, 0);
});

test('the real kernel check reads /proc/net/ip_vs without loading anything', async (t) => {
  const missing = new ExecIpvsKernel({ commands: new FakeCommandRunner(), procPath: '/nonexistent/ip_vs' });
  t.regex((await missing.unsupportedReason()) ?? '', /\/nonexistent\/ip_vs is missing/);
  const present = new ExecIpvsKernel({ commands: new FakeCommandRunner(), procPath: fileURLToPath(import.meta.url) });
  t.is(await present.unsupportedReason(), undefined);
});

test('IPVS timeouts: set once before the first sync when any is non-zero; refused ones are a warning, syncing goes on', async (t) => {
  const kernel = new FakeIpvsKernel();
  const iptables = new FakeIptables();
  const warnings: string[] = [];
  const timeouts = { tcp: 900, tcpFin: 30, udp: 0 };
  const dp = new IpvsDataplane({ kernel, iptables, scheduler: 'rr', timeouts, onWarning: (w) => warnings.push(w) });
  await dp.sync(desired(richServices()), noHint);
  await dp.sync(desired(richServices()), { changed: undefined, forceFull: true });
  t.deepEqual(kernel.timeoutCalls, [timeouts]);

  const untouched = new FakeIpvsKernel();
  await new IpvsDataplane({ kernel: untouched, iptables: new FakeIptables(), scheduler: 'rr', timeouts: { tcp: 0, tcpFin: 0, udp: 0 } }).sync(desired(richServices()), noHint);
  t.deepEqual(untouched.timeoutCalls, [], 'all zero: the kernel keeps its own');

  const refusing = new FakeIpvsKernel();
  refusing.failTimeouts = true;
  const r = await new IpvsDataplane({ kernel: refusing, iptables: new FakeIptables(), scheduler: 'rr', timeouts, onWarning: (w) => warnings.push(w) }).sync(desired(richServices()), noHint);
  t.true(r.full);
  t.true(refusing.servers.size > 0, 'services programmed all the same');
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /^cannot set IPVS timeouts \(tcp 900 s, tcpfin 30 s, udp 0 s\): ERR_DATAPLANE_APPLY: ipvsadm --set failed/);
});

test('ipvsadm --set gets the three timeouts in seconds', async (t) => {
  const commands = new FakeCommandRunner();
  await new ExecIpvsKernel({ commands, procPath: fileURLToPath(import.meta.url) }).setTimeouts({ tcp: 900, tcpFin: 30, udp: 0 });
  t.deepEqual(commands.calls.map((c) => c.argv), [['/usr/sbin/ipvsadm', '--set', '900', '30', '0']]);
});

test('virtual servers per frontend, persistence for affinity, addresses on the dummy interface', async (t) => {
  const { dp, kernel } = setup();
  const r = await dp.sync(desired(richServices()), noHint);
  t.true(r.full);
  const vs = (key: string) => kernel.servers.get(key);
  t.deepEqual(vs('tcp|10.96.0.10:80')?.reals.map((x) => `${x.addr}:${x.port}`), ['10.244.1.5:8080', '10.244.2.7:8080']);
  t.is(vs('tcp|10.96.0.10:80')?.scheduler, 'rr');
  t.truthy(vs('tcp|192.168.1.10:30080'));
  t.falsy(vs('tcp|192.168.1.11:30080')); // not in --nodeport-addresses
  t.is(vs('tcp|10.96.0.50:80')?.persistence, 10800);
  t.deepEqual(vs('tcp|198.51.100.4:80')?.reals.map((x) => x.addr), ['10.244.1.7']); // eTP Local: local endpoints
  t.falsy(vs('tcp|10.96.0.20:80')); // no endpoints: rejected by filter rules instead
  t.truthy(vs('udp|10.96.0.53:53'));
  t.truthy(vs('tcp|[fd00:96::10]:80'));
  t.true(kernel.addresses.has('10.96.0.10') && kernel.addresses.has('198.51.100.1') && kernel.addresses.has('fd00:96::20'));
  t.true(kernel.sets.get('SY4-LOOP-BACK')?.entries.has('10.244.1.5,tcp:9090,10.244.1.5'));
  t.true(kernel.sets.get('SY4-LOAD-BALANCER-SOURCE-CIDR')?.entries.has('198.51.100.1,tcp:443,203.0.113.0/24'));
  t.true(kernel.sets.get('SY4-NODE-PORT-LOCAL-TCP')?.entries.has('30040'));
});

test('partial sync: one endpoint change is one real-server line and no ipset or rule change', async (t) => {
  const { dp, kernel, iptables } = setup();
  await dp.sync(desired(richServices()), noHint);
  const services = richServices().map((p): ServicePlan => (p.name === 'dns' ? { ...p, clusterEndpoints: [ep('10.244.2.9', 53), ep('10.244.2.10', 53)] } : p));
  const r = await dp.sync(desired(services), noHint);
  t.false(r.full);
  t.is(r.changedServices, 1);
  t.is(kernel.ipvsScripts.at(-1), '-a -u 10.96.0.53:53 -r 10.244.2.10:53 -m -w 1\n');
  t.is(kernel.ipsetScripts.at(-2), 'add SY4-LOOP-BACK 10.244.2.10,udp:53,10.244.2.10 -exist\n');
  t.is(kernel.ipsetScripts.at(-1), '');
  t.is(iptables.restores.at(-1)?.input, '');
  // A removed service: its virtual server goes after every addition, its address last.
  const fewer = richServices().filter((p) => p.name !== 'web');
  await dp.sync(desired(fewer), noHint);
  t.regex(kernel.ipvsScripts.at(-1) ?? '', /^-D -t 10\.96\.0\.10:80$/m);
  t.false(kernel.addresses.has('10.96.0.10'));
});

test('a failed ipvsadm run forces a full sync that diffs against the kernel listing', async (t) => {
  const { dp, kernel } = setup();
  await dp.sync(desired(richServices()), noHint);
  // Someone removes a virtual server behind our back, then our partial sync fails on it.
  kernel.servers.delete('tcp|10.96.0.10:80');
  const services = richServices().map((p): ServicePlan => (p.name === 'web' ? { ...p, clusterEndpoints: [ep('10.244.1.5', 8080)] } : p));
  await t.throwsAsync(dp.sync(desired(services), noHint), { message: /ipvs partial sync failed: .*No such service/ });
  const r = await dp.sync(desired(services), noHint);
  t.true(r.full);
  t.deepEqual(kernel.servers.get('tcp|10.96.0.10:80')?.reals.map((x) => x.addr), ['10.244.1.5']);
});

test('cleanup removes virtual servers, the interface, sets and helper rules', async (t) => {
  const { dp, kernel, iptables } = setup();
  kernel.servers.set('tcp|10.1.1.1:80', { addr: '10.1.1.1', proto: 'tcp', port: 80, scheduler: 'rr', persistence: undefined, reals: [] });
  await dp.sync(desired(richServices()), noHint);
  await dp.cleanup();
  t.deepEqual([...kernel.servers.keys()], ['tcp|10.1.1.1:80']); // someone else's
  t.is(kernel.addresses.size, 0);
  t.false(kernel.interfaceExists);
  t.is(kernel.sets.size, 0);
  for (const f of [4, 6] as const) for (const table of ['filter', 'nat', 'mangle'] as const) t.notRegex(await iptables.save(f, table), /SWITCHYARD/);
  await t.notThrowsAsync(dp.cleanup());
});

test('ipvsadm save format parses (ours and ipvsadm -S -n output)', (t) => {
  const text = '-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.5:8080 -m -w 1\n-A -u [fd00::1]:53 -s wlc -p 300\n-a -u [fd00::1]:53 -r [fd00::5]:53 -m -w 2\n';
  t.deepEqual(parseIpvsSave(text), [
    { addr: '10.96.0.10', proto: 'tcp', port: 80, scheduler: 'rr', persistence: undefined, reals: [{ addr: '10.244.1.5', port: 8080, weight: 1 }] },
    { addr: 'fd00::1', proto: 'udp', port: 53, scheduler: 'wlc', persistence: 300, reals: [{ addr: 'fd00::5', port: 53, weight: 2 }] },
  ]);
});

const goldenDir = fileURLToPath(new URL('./golden/', import.meta.url));
for (const family of [4, 6] as const) {
  test(`golden rendered IPVS objects: rich ipv${family}`, (t) => {
    const s = buildIpvs(desired(richServices()), family, { scheduler: 'rr', localAddresses: LOCAL_ADDRESSES });
    const rules = [...Object.entries(s.tables)].flatMap(([table, chains]) => [`*${table}`, ...[...chains].flatMap(([c, rs]) => [`:${c}`, ...rs.map((r) => `-A ${c} ${renderRule(r)}`)])]);
    const text = [
      '# ipvsadm -R', ipvsScript([], s.virtualServers).text,
      '# ipset restore', ipsetScript(family, s.sets, undefined),
      '# addresses on switchyard-ipvs0', ...s.addresses, '',
      '# helper rules', ...rules, '',
    ].join('\n');
    const file = `${goldenDir}rich.v${family}.txt`;
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, text);
    t.is(text, readFileSync(file, 'utf8'));
  });
}

test('a plan that loses a port keeps other services untouched (fixtures sanity)', async (t) => {
  const { dp, kernel } = setup();
  await dp.sync(desired([plan({ name: 'a', clusterIP: '10.96.1.1', port: 80, endpoints: [ep('10.244.0.1', 80)] })]), noHint);
  await dp.sync(desired([plan({ name: 'a', clusterIP: '10.96.1.1', port: 81, endpoints: [ep('10.244.0.1', 80)] })]), noHint);
  t.deepEqual([...kernel.servers.keys()], ['tcp|10.96.1.1:81']);
  t.deepEqual([...kernel.addresses], ['10.96.1.1']);
});
