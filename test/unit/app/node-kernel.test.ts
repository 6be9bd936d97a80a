import { createServer, type Server } from 'node:net';
import test from 'ava';
import { applyNodeKernelParams, applyOomScoreAdj, OOM_SCORE_ADJ_PATH, ROUTE_LOCALNET } from '../../../lib/app/node-kernel.ts';
import { NodeServices } from '../../../lib/app/node-services.ts';
import { runInitOnly } from '../../../lib/app/run-command.ts';
import { parseCommandLine, type Config } from '../../../lib/config/index.ts';
import { FakeConntrack } from '../../../lib/conntrack/conntrack.ts';
import { FakeKernelParams, PROC_SYS } from '../../../lib/conntrack/sysctls.ts';
import { isSwitchyardError } from '../../../lib/errors.ts';
import { TCP_MIGRATE_REQ } from '../../../lib/handover/migrate-sysctl.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';

const configOf = async (argv: readonly string[]): Promise<Config> =>
  (await parseCommandLine(['--manifests', '/nonexistent', ...argv], { readFile: () => Promise.reject(new Error('no files')) })).config;

/** A /proc with the parameters switchyard may touch, at a fresh kernel's values. */
const freshKernel = (): FakeKernelParams => {
  const params = new FakeKernelParams();
  for (const [name, value] of [
    ['net/netfilter/nf_conntrack_max', '65536'],
    ['net/netfilter/nf_conntrack_tcp_timeout_established', '432000'],
    ['net/netfilter/nf_conntrack_tcp_timeout_close_wait', '60'],
    ['net/ipv4/conf/all/arp_ignore', '0'],
    ['net/ipv4/conf/all/arp_announce', '0'],
    [TCP_MIGRATE_REQ, '0'],
    [ROUTE_LOCALNET.name, '0'],
  ]) params.values.set(`${PROC_SYS}/${name}`, value!);
  params.values.set('/sys/module/nf_conntrack/parameters/hashsize', '16384');
  params.values.set(OOM_SCORE_ADJ_PATH, '0');
  return params;
};

const written = (params: FakeKernelParams): string[] => params.writes.map((w) => `${w.path.replace(`${PROC_SYS}/`, '')}=${w.value}`);

/** [flags, the writes applyNodeKernelParams makes on a fresh kernel with 2 cores] */
const kernelCases: [readonly string[], readonly string[]][] = [
  [[], [`${TCP_MIGRATE_REQ}=1`, 'net/netfilter/nf_conntrack_max=131072', 'net/netfilter/nf_conntrack_tcp_timeout_established=86400', 'net/netfilter/nf_conntrack_tcp_timeout_close_wait=3600', '/sys/module/nf_conntrack/parameters/hashsize=32768']],
  [['--ingress-http-address=', '--ingress-https-address=', '--conntrack-max-per-core=0'], ['net/netfilter/nf_conntrack_tcp_timeout_established=86400', 'net/netfilter/nf_conntrack_tcp_timeout_close_wait=3600']],
  [['--proxy-mode=none'], [`${TCP_MIGRATE_REQ}=1`]],
  [['--proxy-mode=ipvs', '--ipvs-strict-arp', '--ingress-http-address=', '--ingress-https-address=', '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0'],
    ['net/ipv4/conf/all/arp_ignore=1', 'net/ipv4/conf/all/arp_announce=2']],
  // strictARP is IPVS mode's: the flag alone in another mode sets nothing (and warns at parse time).
  [['--ipvs-strict-arp', '--ingress-http-address=', '--ingress-https-address=', '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0'], []],
];
for (const [flags, expected] of kernelCases) {
  test(`kernel parameters at start: ${flags.join(' ') || 'defaults'}`, async (t) => {
    const params = freshKernel();
    await applyNodeKernelParams(await configOf(flags), params, 2, recordingLogger());
    t.deepEqual(written(params), [...expected]);
  });
}

/** Only the sysctls this feature is about: everything else off. */
const QUIET = ['--ingress-http-address=', '--ingress-https-address=', '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0'];

/** [flags, route_localnet written, localhost NodePorts allowed] — kube-proxy sets it in iptables mode only when loopback is a NodePort address. */
const localnetCases: [readonly string[], boolean][] = [
  [['--proxy-mode=iptables', '--nodeport-addresses=0.0.0.0/0'], true],
  [['--proxy-mode=iptables', '--nodeport-addresses=127.0.0.0/8,10.0.0.0/8'], true],
  [['--proxy-mode=iptables', '--nodeport-addresses=localhost'], true],
  [['--proxy-mode=iptables', '--nodeport-addresses=0.0.0.0/0', '--iptables-localhost-nodeports=false'], false],
  [['--proxy-mode=iptables', '--nodeport-addresses=10.0.0.0/8,::/0'], false],
  [['--proxy-mode=iptables'], false],
  [['--proxy-mode=iptables', '--nodeport-addresses=primary'], false],
  [['--proxy-mode=nftables', '--nodeport-addresses=0.0.0.0/0'], false],
  [['--proxy-mode=ipvs', '--nodeport-addresses=0.0.0.0/0'], false],
];
for (const [flags, expected] of localnetCases) {
  test(`route_localnet for localhost NodePorts: ${flags.join(' ')} → ${expected ? 'set' : 'left alone'}`, async (t) => {
    const params = freshKernel();
    const outcome = await applyNodeKernelParams(await configOf([...QUIET, ...flags]), params, 2, recordingLogger());
    t.deepEqual(written(params), expected ? [`${ROUTE_LOCALNET.name}=1`] : []);
    t.is(outcome.localhostNodePorts, expected);
  });
}

test('route_localnet already 1 is left; one that cannot be written turns localhost NodePorts off with a warning', async (t) => {
  const flags = [...QUIET, '--proxy-mode=iptables', '--nodeport-addresses=0.0.0.0/0'];
  const set = freshKernel();
  set.values.set(`${PROC_SYS}/${ROUTE_LOCALNET.name}`, '1');
  t.true((await applyNodeKernelParams(await configOf(flags), set, 2, recordingLogger())).localhostNodePorts);
  t.deepEqual(set.writes, []);

  const readOnly = freshKernel();
  readOnly.readOnly.add(`${PROC_SYS}/${ROUTE_LOCALNET.name}`);
  const logger = recordingLogger();
  t.false((await applyNodeKernelParams(await configOf(flags), readOnly, 2, logger)).localhostNodePorts);
  t.true(logger.lines.some((l) => l.level === 'warn' && l.msg?.includes('cannot set net/ipv4/conf/all/route_localnet to 1') && l.msg.includes('NodePorts will not answer on 127.0.0.1')));
});

test('strict ARP values already in place are not rewritten; a read-only one is a warning', async (t) => {
  const params = freshKernel();
  params.values.set(`${PROC_SYS}/net/ipv4/conf/all/arp_ignore`, '1');
  params.readOnly.add(`${PROC_SYS}/net/ipv4/conf/all/arp_announce`);
  const logger = recordingLogger();
  await applyNodeKernelParams(await configOf(['--proxy-mode=ipvs', '--ipvs-strict-arp', '--conntrack-max-per-core=0']), params, 2, logger);
  t.false(params.writes.some((w) => w.path.includes('arp_')));
  t.true(logger.lines.some((l) => l.level === 'warn' && l.msg?.includes('cannot set net/ipv4/conf/all/arp_announce to 2')));
});

test('oom_score_adj: written when it differs, left when equal, a warning when it cannot be written', async (t) => {
  const params = freshKernel();
  const logger = recordingLogger();
  t.true(await applyOomScoreAdj(-999, params, logger));
  t.deepEqual(written(params), [`${OOM_SCORE_ADJ_PATH}=-999`]);
  t.true(await applyOomScoreAdj(-999, params, logger));
  t.is(params.writes.length, 1);
  params.readOnly.add(OOM_SCORE_ADJ_PATH);
  t.false(await applyOomScoreAdj(-500, params, logger));
  t.true(logger.lines.some((l) => l.level === 'warn' && l.msg?.startsWith('cannot set oom_score_adj to -500')));
});

test('--init-only sets the kernel parameters and nothing else, and says so', async (t) => {
  const params = freshKernel();
  const logger = recordingLogger();
  t.is(await runInitOnly(await configOf(['--init-only', '--proxy-mode=ipvs', '--ipvs-strict-arp']), logger, params), 0);
  t.true(written(params).includes('net/ipv4/conf/all/arp_ignore=1'));
  t.false(written(params).some((w) => w.startsWith(OOM_SCORE_ADJ_PATH)), 'oom_score_adj belongs to the long-running process');
  t.true(logger.lines.some((l) => l.msg?.startsWith('init-only: kernel parameters set')));
});

const occupiedPort = async (): Promise<{ server: Server; port: number }> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
};

test('a metrics port in use: retried by default, fatal (ERR_BIND) with --bind-address-hard-fail, OOM score applied at start', async (t) => {
  const { server, port } = await occupiedPort();
  try {
    const flags = ['--healthz-bind-address=127.0.0.1:0', `--metrics-bind-address=127.0.0.1:${port}`, '--ingress-http-address=', '--ingress-https-address='];
    const params = freshKernel();
    const soft = new NodeServices(await configOf(flags), recordingLogger(), { conntrack: new FakeConntrack(), kernelParams: params, cores: 2, env: {} });
    await t.notThrowsAsync(soft.start());
    await soft.stop();
    t.true(written(params).includes(`${OOM_SCORE_ADJ_PATH}=-999`));

    const hard = new NodeServices(await configOf([...flags, '--bind-address-hard-fail']), recordingLogger(), { conntrack: new FakeConntrack(), kernelParams: freshKernel(), cores: 2, env: {} });
    const error = await t.throwsAsync(hard.start());
    t.true(isSwitchyardError(error) && error.code === 'ERR_BIND', String(error));
    t.regex(error!.message, /^metrics server: .*EADDRINUSE.*\(--bind-address-hard-fail\)$/);
    await hard.stop();
  } finally {
    server.close();
  }
});
