/**
 * Real-kernel checks for the iptables dataplane, with iptables-nft and iptables-legacy, each in a throwaway netns:
 * full and partial syncs, what iptables-save shows (traced back through the packet tracer), the canary, cleanup.
 * Skipped when not root or when the tools are missing.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ProcessRunner } from '../../lib/exec/command.ts';
import { ExecIptables, detectBackend, toolPath, type IptablesBackend } from '../../lib/dataplane/iptables/exec.ts';
import { IptablesDataplane } from '../../lib/dataplane/iptables/dataplane.ts';
import { parseSavedTable } from '../../lib/dataplane/iptables/restore.ts';
import { ipPortIpLookup, traceIptables } from '../../lib/dataplane/iptables/trace.ts';
import type { IPFamily } from '../../lib/model/types.ts';
import type { ServicePlan } from '../../lib/plan/types.ts';
import { desired, ep, LOCAL_ADDRESSES, plan, richServices } from '../unit/dataplane/fixtures.ts';

const IP = '/usr/sbin/ip';
const BACKENDS: readonly IptablesBackend[] = ['nft', 'legacy'];
const usable = process.getuid?.() === 0 && existsSync(IP) && BACKENDS.every((b) => existsSync(toolPath(4, b, '-restore')) && existsSync(toolPath(6, b, '-restore')));
const kernelTest = usable ? test.serial : test.skip;
const commands = new ProcessRunner();
const noHint = { changed: undefined, forceFull: false };

const withNetns = async (t: { teardown: (fn: () => Promise<void>) => void }): Promise<readonly string[]> => {
  const ns = `sy-ipt-${randomBytes(4).toString('hex')}`;
  const r = await commands.run([IP, 'netns', 'add', ns]);
  if (r.code !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`);
  t.teardown(async () => {
    await commands.run([IP, 'netns', 'del', ns]);
  });
  return [IP, 'netns', 'exec', ns];
};

const traceKernel = async (exec: ExecIptables) => {
  const tables = async (f: IPFamily) => ({
    filter: parseSavedTable(await exec.save(f, 'filter')),
    nat: parseSavedTable(await exec.save(f, 'nat')),
    mangle: parseSavedTable(await exec.save(f, 'mangle')),
  });
  // The hairpin sets as the kernel holds them (`ipset save` lines `add NAME MEMBER`).
  const saved = await exec.ipset(['save']);
  const sets = new Map<string, Set<string>>();
  for (const m of saved.stdout.matchAll(/^add (\S+) (\S+)$/gm)) {
    if (!sets.has(m[1]!)) sets.set(m[1]!, new Set());
    sets.get(m[1]!)!.add(m[2]!);
  }
  const lookup = ipPortIpLookup((name) => sets.get(name));
  return traceIptables({ 4: await tables(4), 6: await tables(6) }, { localAddresses: LOCAL_ADDRESSES }, { 4: lookup, 6: lookup });
};

for (const backend of BACKENDS) {
  kernelTest(`${backend}: full and partial syncs, canary, cleanup`, async (t) => {
    const prefix = await withNetns(t);
    const exec = new ExecIptables({ commands, backend, prefix });
    const other = new ExecIptables({ commands, backend: backend === 'nft' ? 'legacy' : 'nft', prefix });
    const dp = new IptablesDataplane({ executor: exec, cleanupExecutors: [exec, other] });

    const first = await dp.sync(desired(richServices()), noHint);
    t.true(first.full);
    const nat = await exec.save(4, 'nat');
    t.regex(nat, /^-A PREROUTING -m comment --comment "?switchyard-services"? -j SWITCHYARD-SERVICES$/m);
    t.regex(nat, /^-A SWITCHYARD-SERVICES -d 10\.96\.0\.10\/32 -p tcp -m tcp --dport 80 -m comment --comment "?default\/web:"? -j SWITCHYARD-SVC-/m);
    t.regex(nat, /-m statistic --mode random --probability 0\.5000000000\d? -j SWITCHYARD-SEP-/);
    t.regex(nat, /-m recent --rcheck --seconds 10800 --reap --name SWITCHYARD-SEP-\S+ --mask 255\.255\.255\.255 --rsource/);
    t.regex(nat, /-j DNAT --to-destination 10\.244\.2\.9:53/);
    t.regex(await exec.save(4, 'filter'), /-d 10\.96\.0\.20\/32 -p tcp -m tcp --dport 80 .*-j REJECT/);
    t.regex(await exec.save(6, 'nat'), /-j DNAT --to-destination \[fd00:244::5\]:8080/);
    t.regex(await exec.save(4, 'mangle'), /^:SWITCHYARD-CANARY - \[0:0\]$/m);

    // The kernel's own dump, parsed back and traced, behaves like the rendered rules.
    let trace = await traceKernel(exec);
    t.deepEqual(trace({ from: 'external', src: '203.0.113.5', dst: '192.168.1.10', proto: 'TCP', dport: 30080 }), {
      verdict: 'dnat', endpoints: ['10.244.1.5:8080', '10.244.2.7:8080'], masquerade: true,
    });
    t.deepEqual(trace({ from: 'pod', src: '10.244.1.20', dst: '10.96.0.43', proto: 'TCP', dport: 80 }), { verdict: 'drop' });
    t.deepEqual(trace({ from: 'external', src: '192.0.2.99', dst: '198.51.100.1', proto: 'TCP', dport: 443 }), { verdict: 'drop' });
    // Hairpin through the kernel's set: the pod that is the only endpoint reaches itself, masqueraded.
    t.deepEqual(trace({ from: 'pod', src: '10.244.1.5', dst: '10.96.0.60', proto: 'TCP', dport: 80 }), {
      verdict: 'dnat', endpoints: ['10.244.1.5:9090'], masquerade: true,
    });

    // Partial: web gains an endpoint, sticky goes, a service appears.
    const next = richServices()
      .filter((p) => p.name !== 'sticky')
      .map((p): ServicePlan => (p.name === 'web' ? { ...p, clusterEndpoints: [...p.clusterEndpoints, ep('10.244.2.99', 8080)] } : p));
    next.push(plan({ name: 'new', clusterIP: '10.96.7.7', port: 8000, endpoints: [ep('10.244.3.3', 80)] }));
    const second = await dp.sync(desired(next), noHint);
    t.false(second.full);
    t.is(second.changedServices, 3);
    t.true(second.bytes < first.bytes / 2, `partial ${second.bytes} B vs full ${first.bytes} B`);
    const after = await exec.save(4, 'nat');
    t.notRegex(after, /default\/sticky/);
    t.regex(after, /-j DNAT --to-destination 10\.244\.2\.99:8080/);
    trace = await traceKernel(exec);
    t.deepEqual(trace({ from: 'pod', src: '10.244.1.20', dst: '10.96.0.10', proto: 'TCP', dport: 80 }), {
      verdict: 'dnat', endpoints: ['10.244.1.5:8080', '10.244.2.7:8080', '10.244.2.99:8080'], masquerade: false,
    });
    t.deepEqual(trace({ from: 'pod', src: '10.244.1.20', dst: '10.96.7.7', proto: 'TCP', dport: 8000 }), {
      verdict: 'dnat', endpoints: ['10.244.3.3:80'], masquerade: false,
    });

    // Someone flushes the tables: the canary is gone, the next sync is full and puts everything back.
    for (const table of ['mangle', 'nat'] as const) {
      for (const args of [['-F'], ['-X']]) t.is((await exec.command(4, table, args)).code, 0);
    }
    const third = await dp.sync(desired(next), noHint);
    t.true(third.full);
    t.is(dp.lastFullReason, 'canary');
    t.is((await exec.save(4, 'nat')).split('\n').filter((l) => l.startsWith('-A PREROUTING')).length, 1);
    t.regex(await exec.save(4, 'nat'), /-j DNAT --to-destination 10\.244\.2\.99:8080/);
    // A forced resync does not duplicate jump rules.
    await dp.sync(desired(next), { changed: undefined, forceFull: true });
    t.is((await exec.save(4, 'filter')).split('\n').filter((l) => l.startsWith('-A FORWARD')).length, 5);

    await dp.cleanup();
    for (const e of [exec, other]) {
      for (const f of [4, 6] as const) {
        for (const table of ['filter', 'nat', 'mangle'] as const) t.notRegex(await e.save(f, table), /SWITCHYARD/, `${e.backend} ${f} ${table}`);
      }
    }
    t.notRegex((await exec.ipset(['list', '-n'])).stdout, /SWITCHYARD/);
    await t.notThrowsAsync(dp.cleanup());
  });
}

kernelTest('nft: a sync split into many restores ends where one restore does', async (t) => {
  const prefix = await withNetns(t);
  const exec = new ExecIptables({ commands, backend: 'nft', prefix });
  const dp = new IptablesDataplane({ executor: exec, families: [4], restoreChunkChains: 3 });
  const many = (n: number, base: number): ServicePlan[] =>
    Array.from({ length: n }, (_, i) => plan({ name: `s${base + i}`, clusterIP: `10.96.8.${base + i + 1}`, port: 80, endpoints: [ep(`10.244.8.${base + i + 1}`, 80)], extra: { nodePort: 31000 + base + i } }));
  await dp.sync(desired([...richServices(), ...many(10, 0)]), noHint);
  await dp.sync(desired([...richServices(), ...many(10, 20)]), { changed: undefined, forceFull: true });
  const split = await exec.save(4, 'nat');
  const ns2 = await withNetns(t);
  const exec2 = new ExecIptables({ commands, backend: 'nft', prefix: ns2 });
  await new IptablesDataplane({ executor: exec2, families: [4] }).sync(desired([...richServices(), ...many(10, 20)]), noHint);
  const lines = (x: string): string[] => x.split('\n').filter((l) => l.startsWith('-A ') || l.startsWith(':')).sort();
  t.deepEqual(lines(split), lines(await exec2.save(4, 'nat')));
  t.notRegex(split, /default\/s0:/);
});

kernelTest('a restore the kernel refuses changes nothing and the next sync is full', async (t) => {
  const prefix = await withNetns(t);
  const exec = new ExecIptables({ commands, backend: 'nft', prefix });
  const dp = new IptablesDataplane({ executor: exec, families: [4] });
  await dp.sync(desired(richServices()), noHint);
  const before = await exec.save(4, 'nat');
  // An invalid protocol in a plan makes iptables-restore refuse the input.
  const bad = richServices().map((p): ServicePlan => (p.name === 'web' ? { ...p, clusterEndpoints: [ep('not-an-ip', 8080)] } : p));
  await t.throwsAsync(dp.sync(desired(bad), noHint), { message: /partial sync failed/ });
  t.is((await exec.save(4, 'nat')).replace(/^#.*\n/gm, ''), before.replace(/^#.*\n/gm, ''));
  const r = await dp.sync(desired(richServices()), noHint);
  t.true(r.full);
});

kernelTest('backend detection follows the backend that holds rules', async (t) => {
  const prefix = await withNetns(t);
  t.is(await detectBackend(commands, prefix), 'nft');
  const legacy = new ExecIptables({ commands, backend: 'legacy', prefix });
  await new IptablesDataplane({ executor: legacy, families: [4] }).sync(desired([]), noHint);
  t.is(await detectBackend(commands, prefix), 'legacy');
  await new IptablesDataplane({ executor: legacy, cleanupExecutors: [legacy] }).cleanup();
});

for (const backend of BACKENDS) {
  kernelTest(`${backend}: pod traffic told by input interface (BridgeInterface, InterfaceNamePrefix), another masquerade bit, read back from the kernel`, async (t) => {
    const prefix = await withNetns(t);
    const exec = new ExecIptables({ commands, backend, prefix });
    const dp = new IptablesDataplane({ executor: exec, families: [4, 6] });
    await dp.sync(desired(richServices(), {
      v4: { clusterCIDRs: [], podInterface: { name: 'veth', prefix: true }, masqueradeMark: 0x8000 },
      v6: { clusterCIDRs: [], podInterface: { name: 'cbr0', prefix: false } },
    }), noHint);
    const nat4 = await exec.save(4, 'nat');
    t.regex(nat4, /! -i veth\+ .*-j SWITCHYARD-MARK-MASQ/);
    // --iptables-masquerade-bit 15; the traces below read it back from the kernel.
    t.regex(nat4, /-A SWITCHYARD-MARK-MASQ -j MARK --set-xmark 0x8000\/0x8000/);
    t.regex(await exec.save(6, 'nat'), /-A SWITCHYARD-MARK-MASQ -j MARK --set-xmark 0x4000\/0x4000/);
    t.notRegex(nat4, /10\.244\.0\.0/);
    t.regex(await exec.save(6, 'nat'), /! -i cbr0 .*-j SWITCHYARD-MARK-MASQ/);
    const trace = await traceKernel(exec);
    const clusterIP = { src: '10.244.1.20', dst: '10.96.0.10', proto: 'TCP', dport: 80 } as const;
    const both = ['10.244.1.5:8080', '10.244.2.7:8080'];
    t.deepEqual(trace({ ...clusterIP, from: 'pod', inIface: 'veth12ab' }), { verdict: 'dnat', endpoints: both, masquerade: false });
    t.deepEqual(trace({ ...clusterIP, from: 'external', inIface: 'eth0' }), { verdict: 'dnat', endpoints: both, masquerade: true });
    // eTP Local: a pod reaching the external IP goes to every endpoint, client IP kept.
    t.deepEqual(trace({ src: '10.244.1.20', dst: '198.51.100.4', proto: 'TCP', dport: 80, from: 'pod', inIface: 'veth9' }), { verdict: 'dnat', endpoints: ['10.244.1.7:80', '10.244.2.10:80'], masquerade: false });
    await dp.cleanup();
  });
}

for (const backend of BACKENDS) {
  kernelTest(`${backend}: localhost NodePorts (--nodeport-addresses 0.0.0.0/0): the rules the kernel takes, read back and traced`, async (t) => {
    const prefix = await withNetns(t);
    const exec = new ExecIptables({ commands, backend, prefix });
    const dp = new IptablesDataplane({ executor: exec, families: [4, 6] });
    const everywhere = { nodePortAddresses: [], nodePortOnAllLocal: true };
    await dp.sync(desired(richServices(), { v4: { ...everywhere, nodePortCIDRs: ['0.0.0.0/0'], localhostNodePorts: true }, v6: { ...everywhere, nodePortCIDRs: ['::/0'] } }), noHint);
    const filter4 = await exec.save(4, 'filter');
    // kube-proxy's "block incoming localnet connections", as iptables-save prints it back.
    t.regex(filter4, /-A SWITCHYARD-FIREWALL ! -s 127\.0\.0\.0\/8 -d 127\.0\.0\.0\/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT .*-j DROP/);
    t.regex(await exec.save(4, 'nat'), /-A SWITCHYARD-SERVICES -m addrtype --dst-type LOCAL .*-j SWITCHYARD-NODEPORTS/);
    t.regex(await exec.save(6, 'nat'), /-A SWITCHYARD-SERVICES ! -d ::1\/128 -m addrtype --dst-type LOCAL .*-j SWITCHYARD-NODEPORTS/);
    t.notRegex(await exec.save(6, 'filter'), /ctstate RELATED,ESTABLISHED,DNAT/);
    const trace = await traceKernel(exec);
    const web = ['10.244.1.5:8080', '10.244.2.7:8080'];
    t.deepEqual(trace({ src: '127.0.0.1', dst: '127.0.0.1', proto: 'TCP', dport: 30080, from: 'node' }), { verdict: 'dnat', endpoints: web, masquerade: true });
    t.deepEqual(trace({ src: '203.0.113.5', dst: '127.0.0.1', proto: 'TCP', dport: 22, from: 'external', inIface: 'eth0' }), { verdict: 'drop' });
    t.deepEqual(trace({ src: '127.0.0.1', dst: '127.0.0.1', proto: 'TCP', dport: 22, from: 'node' }), { verdict: 'accept' });
    t.deepEqual(trace({ src: '::1', dst: '::1', proto: 'TCP', dport: 30080, from: 'node' }), { verdict: 'accept' });

    // Turned off again (--iptables-localhost-nodeports=false): loopback left out, the guard gone.
    await dp.sync(desired(richServices(), { v4: { ...everywhere, nodePortCIDRs: ['0.0.0.0/0'] } }), noHint);
    t.notRegex(await exec.save(4, 'filter'), /ctstate RELATED,ESTABLISHED,DNAT/);
    t.regex(await exec.save(4, 'nat'), /-A SWITCHYARD-SERVICES ! -d 127\.0\.0\.0\/8 -m addrtype --dst-type LOCAL .*-j SWITCHYARD-NODEPORTS/);
    t.deepEqual((await traceKernel(exec))({ src: '127.0.0.1', dst: '127.0.0.1', proto: 'TCP', dport: 30080, from: 'node' }), { verdict: 'accept' });
    await dp.cleanup();
  });
}
