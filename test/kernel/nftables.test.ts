/**
 * Real-kernel checks: transactions rendered from fixtures applied with /usr/sbin/nft inside a throwaway netns.
 * Skipped when not root or when nft/ip are missing.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ProcessRunner } from '../../lib/exec/command.ts';
import { ExecNftRunner } from '../../lib/dataplane/nftables/nft.ts';
import { NftablesDataplane } from '../../lib/dataplane/nftables/dataplane.ts';
import { buildRuleset } from '../../lib/dataplane/nftables/ruleset.ts';
import { fullTransaction } from '../../lib/dataplane/nftables/diff.ts';
import type { ServicePlan } from '../../lib/plan/types.ts';
import { desired, ep, plan, richServices } from '../unit/dataplane/fixtures.ts';

const IP = '/usr/sbin/ip';
const usable = process.getuid?.() === 0 && existsSync('/usr/sbin/nft') && existsSync(IP);
const kernelTest = usable ? test.serial : test.skip;
const commands = new ProcessRunner();

const withNetns = async (t: { teardown: (fn: () => Promise<void>) => void }) => {
  const ns = `sy-k-${randomBytes(4).toString('hex')}`;
  const r = await commands.run([IP, 'netns', 'add', ns]);
  if (r.code !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`);
  t.teardown(async () => {
    await commands.run([IP, 'netns', 'del', ns]);
  });
  const runner = new ExecNftRunner({ commands, prefix: [IP, 'netns', 'exec', ns] });
  return { ns, runner };
};

kernelTest('kernel accepts the full and incremental transactions; nft list shows them', async (t) => {
  const { runner } = await withNetns(t);
  const dp = new NftablesDataplane({ runner });
  const first = await dp.sync(desired(richServices()), { changed: undefined, forceFull: false });
  t.true(first.full);
  const v4 = (await runner.listTable('ip', 'switchyard'))!;
  t.regex(v4, /chain nat-prerouting \{\n\s+type nat hook prerouting priority dstnat; policy accept;/);
  // Services on Cluster policies without affinity (web, lb, dns, hairpin, sctp) share chains per (kind, protocol,
  // endpoint count); web's NodePort goes through the shared chain that marks for masquerade.
  t.regex(v4, /10\.96\.0\.10 \. tcp \. 80 : goto cluster-tcp-2/);
  t.regex(v4, /tcp \. 30080 : goto nodeport-tcp-2/);
  t.regex(v4, /chain nodeport-tcp-2 \{\n\s+jump mark-for-masquerade\n\s+dnat ip to tcp dport \. numgen random mod 2 map @nodeport-endpoints-tcp\n/);
  t.regex(v4, /map nodeport-endpoints-tcp \{\n\s+typeof tcp dport \. numgen random mod 1 : ip daddr \. tcp dport\n/);
  t.regex(v4, /30080 \. 1 : 10\.244\.2\.7 \. 8080/);
  t.regex(v4, /198\.51\.100\.1 \. 443 \. 1 : 10\.244\.2\.8 \. 8443/);
  t.notRegex(v4, /chain \S+-default\/web\//);
  // eTP Local keeps its own chains and slot maps.
  t.regex(v4, /chain service-NNKFHFFP-default\/local\/tcp\/ \{\n\s+meta l4proto tcp dnat ip to numgen random mod 2 map @endpoints-tcp-0\n/);
  t.regex(v4, /map endpoints-tcp-0 \{\n\s+typeof numgen random mod 1 : ip daddr \. tcp dport\n\s+elements = \{ 0 : 10\.244\.1\.7 \. 80,\s+1 : 10\.244\.2\.10 \. 80/);
  t.regex(v4, /10\.96\.0\.53 \. udp \. 53 : goto cluster-udp-1/);
  t.regex(v4, /chain cluster-udp-1 \{\n\s+dnat ip to ip daddr \. udp dport \. numgen random mod 1 map @cluster-endpoints-udp\n/);
  t.regex(v4, /map cluster-endpoints-udp \{\n\s+typeof ip daddr \. udp dport \. numgen random mod 1 : ip daddr \. udp dport\n\s+elements = \{ 10\.96\.0\.53 \. 53 \. 0 : 10\.244\.2\.9 \. 53 \}/);
  t.notRegex(v4, /chain service-\S+-default\/dns\//);
  t.regex(v4, /update @affinity-\S+ \{ ip saddr timeout 3h \}/);
  t.regex(v4, /ip saddr != 203\.0\.113\.0\/24 drop/);
  const v6 = (await runner.listTable('ip6', 'switchyard'))!;
  t.regex(v6, /fd00:96::10 \. tcp \. 80 : goto cluster-tcp-2/);
  t.regex(v6, /dnat ip6 to ip6 daddr \. tcp dport \. numgen random mod 2 map @cluster-endpoints-tcp/);
  t.regex(v6, /fd00:96::10 \. 80 \. 1 : fd00:244::7 \. 8080/);

  // Incremental: web gains an endpoint, sticky disappears, a new service appears.
  const next = richServices()
    .filter((p) => p.name !== 'sticky')
    .map((p): ServicePlan => (p.name === 'web' ? { ...p, clusterEndpoints: [...p.clusterEndpoints, ep('10.244.2.99', 8080)] } : p));
  next.push(plan({ name: 'new', clusterIP: '10.96.7.7', port: 8000, endpoints: [ep('10.244.3.3', 80)] }));
  // Maps and rules of other protocols added later, in their own transaction (nft re-reads the maps' typeof).
  next.push(plan({ name: 'new-udp', protocol: 'UDP', clusterIP: '10.96.7.8', port: 53, endpoints: [ep('10.244.3.4', 53), ep('10.244.3.5', 53)] }));
  next.push(plan({ name: 'new-sctp', protocol: 'SCTP', clusterIP: '10.96.7.9', port: 99, endpoints: [ep('10.244.3.4', 99), ep('10.244.3.5', 99)] }));
  next.push(plan({ name: 'new-udp-local', protocol: 'UDP', clusterIP: '10.96.7.10', port: 53, endpoints: [ep('10.244.3.6', 53, true), ep('10.244.3.7', 53, true)], extra: { nodePort: 31053, externalPolicyLocal: true } }));
  const second = await dp.sync(desired(next), { changed: undefined, forceFull: false });
  t.false(second.full);
  t.is(second.changedServices, 6);
  const after = (await runner.listTable('ip', 'switchyard'))!;
  t.regex(after, /10\.96\.0\.10 \. 80 \. 2 : 10\.244\.2\.99 \. 8080/);
  t.regex(after, /30080 \. 2 : 10\.244\.2\.99 \. 8080/);
  t.regex(after, /10\.96\.0\.10 \. tcp \. 80 : goto cluster-tcp-3/);
  t.regex(after, /chain cluster-tcp-3 \{\n\s+dnat ip to ip daddr \. tcp dport \. numgen random mod 3 map @cluster-endpoints-tcp\n/);
  // An eTP Local service keeps its own chains and slot maps; the others go to new shared chains, whose rules
  // refer to maps whose typeof nft re-reads from the kernel.
  t.regex(after, /meta l4proto udp dnat ip to numgen random mod 2 map @endpoints-udp-0/);
  t.regex(after, /10\.96\.7\.8 \. udp \. 53 : goto cluster-udp-2/);
  t.regex(after, /chain cluster-udp-2 \{\n\s+dnat ip to ip daddr \. udp dport \. numgen random mod 2 map @cluster-endpoints-udp\n/);
  t.regex(after, /10\.96\.7\.9 \. sctp \. 99 : goto cluster-sctp-2/);
  t.regex(after, /chain cluster-sctp-2 \{\n\s+dnat ip to ip daddr \. sctp dport \. numgen random mod 2 map @cluster-endpoints-sctp\n/);
  t.regex(after, /10\.96\.7\.9 \. 99 \. 1 : 10\.244\.3\.5 \. 99/);
  t.notRegex(after, /sticky/);
  t.regex(after, /10\.96\.7\.7 \. tcp \. 8000 : goto cluster-tcp-1/);

  // A periodic full resync over an existing table replaces it atomically.
  const third = await dp.sync(desired(next), { changed: undefined, forceFull: true });
  t.true(third.full);
  t.is(await runner.listTable('ip', 'switchyard'), after);

  await dp.cleanup();
  t.is(await runner.listTable('ip', 'switchyard'), undefined);
  t.is(await runner.listTable('ip6', 'switchyard'), undefined);
  await dp.cleanup();
});

kernelTest('pod traffic told by input interface: the kernel takes iifname matches, exact and prefix; another masquerade bit', async (t) => {
  const { runner } = await withNetns(t);
  const dp = new NftablesDataplane({ runner });
  await dp.sync(
    desired(richServices(), {
      v4: { clusterCIDRs: [], podInterface: { name: 'veth', prefix: true }, masqueradeMark: 2 ** 31 },
      v6: { clusterCIDRs: [], podInterface: { name: 'cbr0', prefix: false } },
    }),
    { changed: undefined, forceFull: false },
  );
  const v4 = (await runner.listTable('ip', 'switchyard'))!;
  t.regex(v4, /ip daddr @cluster-ips iifname != "veth\*" jump mark-for-masquerade/);
  // --iptables-masquerade-bit 31 (the sign bit: rendered and read back unsigned).
  t.regex(v4, /chain mark-for-masquerade \{\n\s+meta mark set meta mark \| 0x80000000\n/);
  // nft lists a test of the top bit alone as a prefix match: `& 0x80000000 == 0` reads back as `0x00000000/1`.
  t.regex(v4, /chain masquerading \{\n\s+meta mark 0x00000000\/1 return\n\s+meta mark set meta mark \^ 0x80000000\n/);
  // eTP Local: pods reaching an external address of the service use every endpoint.
  t.regex(v4, /iifname "veth\*" goto /);
  t.notRegex(v4, /@cluster-cidrs goto|saddr != @cluster-cidrs/);
  const v6 = (await runner.listTable('ip6', 'switchyard'))!;
  t.regex(v6, /ip6 daddr @cluster-ips iifname != "cbr0" jump mark-for-masquerade/);
  await dp.cleanup();
});

kernelTest('a script the kernel refuses changes nothing', async (t) => {
  const { runner } = await withNetns(t);
  await runner.run(fullTransaction(buildRuleset(desired(richServices()))).render());
  const before = await runner.listTable('ip', 'switchyard');
  await t.throwsAsync(runner.run('add chain ip switchyard fresh\nadd rule ip switchyard fresh jump does-not-exist\n'), { message: /nft -f failed/ });
  t.is(await runner.listTable('ip', 'switchyard'), before);
});

kernelTest('scale: 10k services x 10 endpoints apply; one change sends only that service', async (t) => {
  const { runner } = await withNetns(t);
  const services: ServicePlan[] = [];
  for (let i = 0; i < 10_000; i++) {
    const endpoints = Array.from({ length: 10 }, (_, j) => ep(`10.${128 + (i >> 8) % 64}.${i & 255}.${j + 1}`, 8080));
    services.push(plan({ namespace: 'scale', name: `svc-${i}`, clusterIP: `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, endpoints, extra: { nodePort: i < 2000 ? 30000 + i : 0 } }));
  }
  const dp = new NftablesDataplane({ runner, families: [4] });
  const full = await dp.sync(desired(services), { changed: undefined, forceFull: false });
  t.log(`full sync 10k svc x 10 ep: compute ${full.computeMs.toFixed(0)} ms, apply ${full.applyMs.toFixed(0)} ms, ${(full.bytes / 1e6).toFixed(1)} MB`);
  // Timings are printed, not asserted: perf/nftables-scale.ts measures them; a loaded machine must not fail tests.
  t.true(full.full);
  const changed = services.map((p, i) => (i === 42 ? { ...p, clusterEndpoints: p.clusterEndpoints.slice(1) } : p));
  const partial = await dp.sync(desired(changed), { changed: new Set([changed[42]!.servicePort]), forceFull: false });
  t.log(`partial sync (1 service): compute ${partial.computeMs.toFixed(1)} ms, apply ${partial.applyMs.toFixed(1)} ms, ${partial.bytes} bytes`);
  t.is(partial.changedServices, 1);
  // Elements only: one endpoint out of the ClusterIP and NodePort maps, both verdicts pointed at the chains for 9.
  t.true(partial.bytes < 1500);
  const listed = (await runner.listTable('ip', 'switchyard'))!;
  t.regex(listed, /10\.96\.0\.42 \. tcp \. 80 : goto cluster-tcp-9/);
  t.regex(listed, /tcp \. 30042 : goto nodeport-tcp-9/);
  t.notRegex(listed, /chain (service|external)-[A-Z0-9]{8}-/);
  const resync = await dp.sync(desired(changed), { changed: undefined, forceFull: true });
  t.log(`forced full resync over existing table: compute ${resync.computeMs.toFixed(0)} ms, apply ${resync.applyMs.toFixed(0)} ms`);
  // A full resync allocates endpoint slots afresh, so the text may differ; the service must still be programmed.
  t.regex((await runner.listTable('ip', 'switchyard'))!, /10\.96\.0\.42 \. tcp \. 80 : goto cluster-tcp-9/);
});
