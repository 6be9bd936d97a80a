import test from 'ava';
import { parseCommandLine, resolveNodeName, type Config, type ParsedCommand } from '../../../lib/config/index.ts';
import { FLAG_SPECS } from '../../../lib/config/settings.ts';
import { isSwitchyardError } from '../../../lib/errors.ts';

const noFiles = { readFile: async (path: string): Promise<string> => { throw new Error(`ENOENT: no such file, open '${path}'`); } };
const parse = (argv: readonly string[]): Promise<ParsedCommand> => parseCommandLine(argv, noFiles);
const config = async (argv: readonly string[]): Promise<Config> => (await parse(argv)).config;

/** Reads a dotted path out of the config. */
const at = (c: Config, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c);

test('defaults are kube-proxy defaults', async (t) => {
  const r = await parse([]);
  t.is(r.command, 'run');
  t.deepEqual(r.warnings, []);
  t.deepEqual(r.config, {
    proxyMode: 'nftables',
    manifestsDir: undefined,
    kubeconfig: undefined,
    master: undefined,
    hostnameOverride: undefined,
    clusterCIDRs: [],
    detectLocalMode: 'ClusterCIDR',
    podBridgeInterface: undefined,
    podInterfaceNamePrefix: undefined,
    nodePortAddresses: undefined,
    masqueradeAll: false,
    masqueradeBit: 14,
    localhostNodePorts: true,
    healthzBindAddress: { host: '0.0.0.0', port: 10256 },
    metricsBindAddress: { host: '127.0.0.1', port: 10249 },
    ingressHttpAddress: { host: '0.0.0.0', port: 80 },
    ingressHttpsAddress: { host: '0.0.0.0', port: 443 },
    ingressStatusAddress: undefined,
    ingressUpstream: { connectTimeoutMs: 5000, timeoutMs: 60_000 },
    ingressKeepAliveTimeoutMs: 75_000,
    readyFile: undefined,
    syncPeriodMs: 30_000,
    minSyncPeriodMs: 1000,
    conntrack: {
      maxPerCore: 32768,
      min: 131072,
      tcpEstablishedTimeoutMs: 86_400_000,
      tcpCloseWaitTimeoutMs: 3_600_000,
      tcpBeLiberal: false,
      udpTimeoutMs: 0,
      udpStreamTimeoutMs: 0,
    },
    ipvs: { scheduler: 'rr', syncPeriodMs: 30_000, minSyncPeriodMs: 0, strictARP: false, tcpTimeoutMs: 0, tcpFinTimeoutMs: 0, udpTimeoutMs: 0 },
    verbosity: 0,
    logLevel: 'info',
    cleanup: false,
    initOnly: false,
    writeConfigTo: undefined,
    oomScoreAdj: -999,
    bindAddressHardFail: false,
    featureGates: {},
  });
});

/** [argv, config path, expected value] — every flag, each overriding its default. */
const flagCases: [readonly string[], string, unknown][] = [
  [['--kubeconfig', '/etc/kube/proxy.conf'], 'kubeconfig', '/etc/kube/proxy.conf'],
  [['--master=https://10.0.0.1:6443'], 'master', 'https://10.0.0.1:6443'],
  [['--manifests', 'examples'], 'manifestsDir', 'examples'],
  [['--proxy-mode', 'iptables'], 'proxyMode', 'iptables'],
  [['--proxy-mode=ipvs'], 'proxyMode', 'ipvs'],
  [['--proxy-mode', 'none'], 'proxyMode', 'none'],
  [['--hostname-override', 'Node-A'], 'hostnameOverride', 'node-a'],
  [['--cluster-cidr', '10.244.0.0/16'], 'clusterCIDRs', ['10.244.0.0/16']],
  [['--cluster-cidr', '10.244.0.0/16,fd00:244::/56'], 'clusterCIDRs', ['10.244.0.0/16', 'fd00:244::/56']],
  [['--detect-local-mode', 'NodeCIDR'], 'detectLocalMode', 'NodeCIDR'],
  [['--detect-local-mode', 'BridgeInterface', '--pod-bridge-interface', 'cbr0'], 'podBridgeInterface', 'cbr0'],
  [['--detect-local-mode=InterfaceNamePrefix', '--pod-interface-name-prefix=veth'], 'podInterfaceNamePrefix', 'veth'],
  // Read only by its mode, as in kube-proxy; given alone it is kept, quietly.
  [['--pod-bridge-interface', 'br0'], 'detectLocalMode', 'ClusterCIDR'],
  [['--nodeport-addresses', 'primary'], 'nodePortAddresses', 'primary'],
  [['--nodeport-addresses', '192.168.50.0/24,fd00::/64'], 'nodePortAddresses', ['192.168.50.0/24', 'fd00::/64']],
  [['--nodeport-addresses', 'all'], 'nodePortAddresses', ['0.0.0.0/0', '::/0']],
  [['--masquerade-all'], 'masqueradeAll', true],
  [['--masquerade-all=true'], 'masqueradeAll', true],
  [['--masquerade-all=false'], 'masqueradeAll', false],
  [['--iptables-masquerade-bit', '15'], 'masqueradeBit', 15],
  [['--iptables-localhost-nodeports=false'], 'localhostNodePorts', false],
  [['--iptables-localhost-nodeports'], 'localhostNodePorts', true],
  [['--healthz-bind-address', '127.0.0.1:20256'], 'healthzBindAddress', { host: '127.0.0.1', port: 20256 }],
  [['--healthz-bind-address', '[::]:10256'], 'healthzBindAddress', { host: '::', port: 10256 }],
  [['--healthz-bind-address='], 'healthzBindAddress', undefined],
  [['--metrics-bind-address', '0.0.0.0:9100'], 'metricsBindAddress', { host: '0.0.0.0', port: 9100 }],
  [['--metrics-bind-address', '0.0.0.0'], 'metricsBindAddress', { host: '0.0.0.0', port: 10249 }],
  [['--ingress-http-address', '127.0.0.1:8080'], 'ingressHttpAddress', { host: '127.0.0.1', port: 8080 }],
  [['--ingress-https-address', '[::1]:8443'], 'ingressHttpsAddress', { host: '::1', port: 8443 }],
  [['--ingress-https-address', ''], 'ingressHttpsAddress', undefined],
  [['--ingress-status-address', '192.168.60.100'], 'ingressStatusAddress', '192.168.60.100'],
  [['--ingress-status-address', 'lb.example.test'], 'ingressStatusAddress', 'lb.example.test'],
  [['--ready-file', '/tmp/switchyard-ready'], 'readyFile', '/tmp/switchyard-ready'],
  [['--ready-file', ''], 'readyFile', undefined],
  [['--ingress-upstream-connect-timeout', '2s'], 'ingressUpstream.connectTimeoutMs', 2000],
  [['--ingress-upstream-timeout', '1m30s'], 'ingressUpstream.timeoutMs', 90_000],
  [['--ingress-keepalive-timeout', '30s'], 'ingressKeepAliveTimeoutMs', 30_000],
  [['--sync-period', '1m'], 'syncPeriodMs', 60_000],
  [['--min-sync-period', '0s'], 'minSyncPeriodMs', 0],
  [['--min-sync-period', '500ms'], 'minSyncPeriodMs', 500],
  [['--iptables-sync-period', '45s'], 'syncPeriodMs', 45_000],
  [['--iptables-min-sync-period', '2s'], 'minSyncPeriodMs', 2000],
  [['--conntrack-max-per-core', '0'], 'conntrack.maxPerCore', 0],
  [['--conntrack-min', '262144'], 'conntrack.min', 262_144],
  [['--conntrack-tcp-timeout-established', '1h'], 'conntrack.tcpEstablishedTimeoutMs', 3_600_000],
  [['--conntrack-tcp-timeout-close-wait', '30s'], 'conntrack.tcpCloseWaitTimeoutMs', 30_000],
  [['--conntrack-tcp-be-liberal'], 'conntrack.tcpBeLiberal', true],
  [['--conntrack-udp-timeout', '30s'], 'conntrack.udpTimeoutMs', 30_000],
  [['--conntrack-udp-timeout-stream', '5m'], 'conntrack.udpStreamTimeoutMs', 300_000],
  [['--proxy-mode', 'ipvs', '--ipvs-scheduler', 'wrr'], 'ipvs.scheduler', 'wrr'],
  [['--ipvs-sync-period', '10s'], 'ipvs.syncPeriodMs', 10_000],
  [['--ipvs-min-sync-period', '1s'], 'ipvs.minSyncPeriodMs', 1000],
  [['--proxy-mode', 'ipvs', '--ipvs-strict-arp'], 'ipvs.strictARP', true],
  [['--proxy-mode', 'ipvs', '--ipvs-tcp-timeout', '15m'], 'ipvs.tcpTimeoutMs', 900_000],
  [['--proxy-mode', 'ipvs', '--ipvs-tcpfin-timeout', '30s'], 'ipvs.tcpFinTimeoutMs', 30_000],
  [['--proxy-mode', 'ipvs', '--ipvs-udp-timeout', '5m'], 'ipvs.udpTimeoutMs', 300_000],
  [['--proxy-mode', 'ipvs', '--ipvs-sync-period', '10s'], 'syncPeriodMs', 10_000],
  [['--proxy-mode', 'ipvs'], 'minSyncPeriodMs', 0],
  [['--proxy-mode', 'ipvs', '--sync-period', '20s', '--ipvs-sync-period', '10s'], 'syncPeriodMs', 20_000],
  [['-v', '4'], 'verbosity', 4],
  [['--v=2'], 'logLevel', 'info'],
  [['--v=4'], 'logLevel', 'debug'],
  [['-v6'], 'logLevel', 'trace'],
  [['--log-level', 'warn'], 'logLevel', 'warn'],
  [['--v=6', '--log-level', 'error'], 'logLevel', 'error'],
  [['--cleanup'], 'cleanup', true],
  [['--init-only'], 'initOnly', true],
  [['--write-config-to', '/tmp/kube-proxy.yaml'], 'writeConfigTo', '/tmp/kube-proxy.yaml'],
  [['--oom-score-adj=-998'], 'oomScoreAdj', -998],
  [['--oom-score-adj', '0'], 'oomScoreAdj', 0],
  [['--bind-address-hard-fail'], 'bindAddressHardFail', true],
  // pflag's normalisation: underscores in flag names read as dashes (values untouched).
  [['--ready_file', '/run/switchyard_ready'], 'readyFile', '/run/switchyard_ready'],
  [['--oom_score_adj=-500'], 'oomScoreAdj', -500],
  [['--feature-gates', 'Foo=true,Bar=false'], 'featureGates', { Foo: true, Bar: false }],
];
for (const [argv, path, expected] of flagCases) {
  test(`flag ${argv.join(' ')} → ${path}`, async (t) => {
    t.deepEqual(at(await config(argv), path), expected);
  });
}

test('every flag in the table is exercised by a test case', (t) => {
  const exercised = new Set(flagCases.flatMap(([argv]) => argv.map((a) => a.split('=')[0])));
  for (const name of ['--config', '--bind-address', '--version']) exercised.add(name); // covered below
  const missing = FLAG_SPECS.map((s) => /--[\w-]+/.exec(s.flags)![0]).filter((f) => !exercised.has(f) && !(f === '--v' && exercised.has('-v')));
  t.deepEqual(missing, []);
});

/** [argv, error code, text the one-line message must contain] */
const badCases: [readonly string[], string, string][] = [
  [['--bogus'], 'ERR_FLAG_INVALID', "unknown flag '--bogus'"],
  [['--proxy-mode', 'userspace'], 'ERR_FLAG_INVALID', '--proxy-mode: "userspace" (expected one of nftables, iptables, ipvs, none)'],
  [['--proxy-mode'], 'ERR_FLAG_INVALID', '--proxy-mode'],
  [['--cluster-cidr', '10.244.0.0'], 'ERR_FLAG_INVALID', '--cluster-cidr: "10.244.0.0"'],
  [['--cluster-cidr', '10.0.0.0/8,10.1.0.0/16'], 'ERR_FLAG_INVALID', '--cluster-cidr'],
  [['--nodeport-addresses', 'primary,10.0.0.0/8'], 'ERR_FLAG_INVALID', '--nodeport-addresses'],
  [['--nodeport-addresses', 'eth0'], 'ERR_FLAG_INVALID', '--nodeport-addresses: "eth0"'],
  [['--masquerade-all=maybe'], 'ERR_FLAG_INVALID', '--masquerade-all: "maybe"'],
  [['--healthz-bind-address', 'localhost:10256'], 'ERR_FLAG_INVALID', '--healthz-bind-address: "localhost:10256"'],
  [['--metrics-bind-address', '0.0.0.0:99999'], 'ERR_FLAG_INVALID', '--metrics-bind-address'],
  [['--ingress-http-address', '[::]80'], 'ERR_FLAG_INVALID', '--ingress-http-address'],
  [['--sync-period', '30'], 'ERR_FLAG_INVALID', '--sync-period: "30" (expected a non-negative Go duration'],
  [['--sync-period', '0s'], 'ERR_FLAG_INVALID', '--sync-period: must be greater than 0'],
  [['--min-sync-period', '1m'], 'ERR_FLAG_INVALID', 'min sync period 1m0s is longer than sync period 30s'],
  [['--conntrack-min', '-1'], 'ERR_FLAG_INVALID', '--conntrack-min: "-1"'],
  [['--conntrack-max-per-core', 'lots'], 'ERR_FLAG_INVALID', '--conntrack-max-per-core'],
  [['--ipvs-scheduler', 'fastest'], 'ERR_FLAG_INVALID', '--ipvs-scheduler: "fastest"'],
  [['-v', '11'], 'ERR_FLAG_INVALID', '--v: "11" (expected an integer 0-10)'],
  [['--log-level', 'loud'], 'ERR_FLAG_INVALID', '--log-level: "loud"'],
  [['--hostname-override', 'not a name'], 'ERR_FLAG_INVALID', '--hostname-override'],
  [['--ingress-status-address', 'bad address!'], 'ERR_FLAG_INVALID', '--ingress-status-address'],
  [['--ingress-upstream-connect-timeout', '0s'], 'ERR_FLAG_INVALID', '--ingress-upstream-connect-timeout'],
  [['--ingress-keepalive-timeout', '0s'], 'ERR_FLAG_INVALID', '--ingress-keepalive-timeout: must be greater than 0'],
  [['--feature-gates', 'Foo'], 'ERR_FLAG_INVALID', '--feature-gates: "Foo"'],
  [['--detect-local-mode', 'BridgeInterface'], 'ERR_FLAG_INVALID', '--detect-local-mode BridgeInterface needs --pod-bridge-interface'],
  [['--detect-local-mode', 'InterfaceNamePrefix', '--pod-bridge-interface', 'cbr0'], 'ERR_FLAG_INVALID', '--detect-local-mode InterfaceNamePrefix needs --pod-interface-name-prefix'],
  [['--detect-local-mode', 'BridgeInterface', '--pod-bridge-interface', 'a-name-far-too-long'], 'ERR_FLAG_INVALID', '--pod-bridge-interface: "a-name-far-too-long" (expected an interface name'],
  [['--detect-local-mode', 'Hostname'], 'ERR_FLAG_INVALID', '--detect-local-mode: "Hostname" (expected one of ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix)'],
  [['--manifests', ''], 'ERR_FLAG_INVALID', '--manifests'],
  [['serve'], 'ERR_FLAG_INVALID', 'commands: plan, demo'],
  [['plan', '-o', 'yaml'], 'ERR_FLAG_INVALID', '--output: "yaml" (expected table or json)'],
  [['demo', 'extra'], 'ERR_FLAG_INVALID', 'too many arguments'],
  [['plan', '--cleanup'], 'ERR_FLAG_INVALID', '--cleanup cannot be combined with the plan command'],
  [['--config', '/missing.yaml'], 'ERR_CONFIG_INVALID', 'cannot read --config /missing.yaml: ENOENT'],
  [['--oom-score-adj', '-1001'], 'ERR_FLAG_INVALID', '--oom-score-adj: "-1001" (expected an integer -1000-1000)'],
  [['plan', '--init-only'], 'ERR_FLAG_INVALID', '--init-only cannot be combined with the plan command'],
  [['demo', '--write-config-to', 'x.yaml'], 'ERR_FLAG_INVALID', '--write-config-to cannot be combined with the demo command'],
  // Compatibility-only flags still refuse malformed values, as kube-proxy does.
  [['--kube-api-qps', 'fast'], 'ERR_FLAG_INVALID', '--kube-api-qps: "fast" (expected a non-negative number)'],
  [['--proxy-mode', 'ipvs', '--iptables-masquerade-bit', '15'], 'ERR_FLAG_INVALID', '--iptables-masquerade-bit 15 is the bit IPVS mode marks connections to drop with'],
  [['--iptables-masquerade-bit', '32'], 'ERR_FLAG_INVALID', '--iptables-masquerade-bit: "32" (expected an integer 0-31)'],
  [['--config-sync-period', '15'], 'ERR_FLAG_INVALID', '--config-sync-period: "15"'],
  [['--ipvs-exclude-cidrs', '10.0.0.0'], 'ERR_FLAG_INVALID', '--ipvs-exclude-cidrs: "10.0.0.0"'],
  [['--logtostderr=sometimes'], 'ERR_FLAG_INVALID', '--logtostderr: "sometimes" (expected true or false)'],
  [['--logging-format', 'xml'], 'ERR_FLAG_INVALID', '--logging-format: "xml" (expected one of text, json)'],
  // Flags kube-proxy itself removed stay unknown.
  [['--healthz-port', '10256'], 'ERR_FLAG_INVALID', "unknown flag '--healthz-port'"],
  [['--resource-container='], 'ERR_FLAG_INVALID', "unknown flag '--resource-container='"],
];
for (const [argv, code, fragment] of badCases) {
  test(`rejects ${JSON.stringify(argv.join(' '))} with ${code}`, async (t) => {
    const error = await t.throwsAsync(parse(argv));
    t.true(isSwitchyardError(error));
    t.is((error as { code?: string }).code, code);
    t.true(error!.message.includes(fragment), error!.message);
    t.false(error!.message.includes('\n'), 'one line');
  });
}

test('subcommands: plan (with global flags after it), demo, cleanup', async (t) => {
  const plan = await parse(['plan', '--manifests', 'examples', '--hostname-override', 'node-a', '-o', 'json']);
  t.is(plan.command, 'plan');
  t.is(plan.command === 'plan' && plan.output, 'json');
  t.is(plan.config.manifestsDir, 'examples');
  t.is(plan.config.hostnameOverride, 'node-a');
  const planDefault = await parse(['--manifests', 'examples', 'plan']);
  t.is(planDefault.command === 'plan' && planDefault.output, 'table');
  t.is((await parse(['demo'])).command, 'demo');
  t.is((await parse(['--cleanup'])).command, 'cleanup');
  t.is((await parse(['--cleanup=false'])).command, 'run');
});

test('--help prints every flag with its default and exits 0 through io.exit', async (t) => {
  let out = '';
  let exitCode: number | undefined;
  await t.throwsAsync(
    parseCommandLine(['--help'], {
      ...noFiles,
      writeOut: (s) => (out += s),
      exit: (code) => {
        exitCode = code;
        throw new Error('exited');
      },
    }),
    { message: 'exited' },
  );
  t.is(exitCode, 0);
  for (const spec of FLAG_SPECS) {
    const name = /--[\w-]+/.exec(spec.flags)![0];
    t.regex(out, new RegExp(`${name}\\b[^\\n]*\\(default: ${spec.defaultText.replace(/[().*+?[\]|$^]/g, '\\$&')}\\)`), name);
  }
  t.regex(out, /--proxy-mode <mode>.*\(default: nftables\)/);
  t.regex(out, /--healthz-bind-address <host:port>.*\(default: 0\.0\.0\.0:10256\)/);
  t.regex(out, /plan \[options\]/);
});

test('warnings: feature gates, bind address, kubeconfig with manifests, ipvs flags in another mode', async (t) => {
  const r = await parse(['--feature-gates', 'A=true', '--bind-address', '10.0.0.1', '--manifests', 'd', '--kubeconfig', 'k', '--ipvs-strict-arp']);
  t.is(r.warnings.length, 4);
  t.true(r.warnings.some((w) => w.includes('feature gates') && w.includes('A')));
  t.true(r.warnings.some((w) => w.includes('--bind-address 10.0.0.1')));
  t.true(r.warnings.some((w) => w.includes('--kubeconfig/--master are ignored with --manifests')));
  t.true(r.warnings.some((w) => w.includes('--ipvs-* flags have no effect in nftables mode')));
});

test('resolveNodeName prefers the override and lowercases like kube-proxy', (t) => {
  t.is(resolveNodeName({ hostnameOverride: 'node-a' }, 'Host-1'), 'node-a');
  t.is(resolveNodeName({ hostnameOverride: undefined }, ' Host-1.Example.COM\n'), 'host-1.example.com');
});

test('`help` and `help plan` print help like --help', async (t) => {
  for (const [argv, expected] of [[['help'], /Usage: switchyard \[flags\]/], [['help', 'plan'], /Usage: switchyard plan[\s\S]*--output/]] as const) {
    let out = '';
    await t.throwsAsync(
      parseCommandLine(argv, { ...noFiles, writeOut: (s) => (out += s), exit: () => { throw new Error('exited'); } }),
      { message: 'exited' },
    );
    t.regex(out, expected);
  }
});

test('commands: --version, --write-config-to and --init-only, and which one wins', async (t) => {
  t.is((await parse(['--version'])).command, 'version');
  t.is((await parse(['--version=raw'])).command, 'version');
  t.is((await parse(['--version=false'])).command, 'run');
  t.is((await parse(['--version', '--cleanup'])).command, 'version');
  const write = await parse(['--write-config-to', '/tmp/c.yaml', '--cleanup']);
  t.is(write.command, 'write-config');
  t.is(write.command === 'write-config' && write.path, '/tmp/c.yaml');
  t.is((await parse(['--init-only'])).command, 'init-only');
  t.is((await parse(['--init-only', '--cleanup'])).command, 'cleanup');
});

/**
 * Command lines of kube-proxy DaemonSets as distributions ship them (flags only; the binary swapped): each one
 * parses, and only values asking for something switchyard does not do are named in a warning.
 */
const kubeProxyCommandLines: [string, readonly string[], readonly string[]][] = [
  ['kubeadm', ['--config=/var/lib/kube-proxy/config.conf', '--hostname-override=node-1'], []],
  [
    'GCE-style, klog to a file',
    ['--v=2', '--iptables-sync-period=1m', '--iptables-min-sync-period=10s', '--detect-local-mode=NodeCIDR', '--oom-score-adj=-998',
      '--logtostderr=false', '--alsologtostderr', '--log-file=/var/log/kube-proxy.log', '--cluster-cidr=10.64.0.0/14'],
    ['--logtostderr=false', '--log-file=/var/log/kube-proxy.log'],
  ],
  [
    'kops-style',
    ['--conntrack-max-per-core=131072', '--hostname-override=node-2', '--kubeconfig=/var/lib/kube-proxy/kubeconfig',
      '--master=https://api.internal.example', '--oom-score-adj=-998', '--v=2', '--kube-api-qps=5', '--kube-api-burst=10'],
    [],
  ],
  ['underscored klog flags', ['--log_dir=/var/log', '--log_file_max_size=100', '--skip_headers', '--one_output'], ['--log-dir=/var/log']],
  ['defaults spelled out', ['--profiling=false', '--iptables-masquerade-bit=14', '--config-sync-period=15m', '--logging-format=json', '--ipvs-tcp-timeout=0s'], []],
  [
    'values switchyard does not honour',
    ['--proxy-mode=iptables', '--iptables-masquerade-bit=15', '--iptables-localhost-nodeports=true', '--profiling', '--vmodule=proxier=4'],
    ['--profiling=true', '--vmodule=proxier=4'],
  ],
  ['IPVS mode', ['--proxy-mode=ipvs', '--ipvs-tcp-timeout=900s', '--ipvs-udp-timeout=0s', '--ipvs-exclude-cidrs=10.0.0.0/8'], []],
];
for (const [name, argv, warned] of kubeProxyCommandLines) {
  test(`kube-proxy command line (${name}) parses; warnings name ${warned.length ? warned.join(' ') : 'nothing'}`, async (t) => {
    const fileIO = { readFile: async () => 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n' };
    const r = await parseCommandLine(argv, fileIO);
    t.is(r.command, 'run');
    const compat = r.warnings.filter((w) => w.includes('accepted for kube-proxy compatibility'));
    t.deepEqual(compat.map((w) => w.split(' ')[0]).sort(), [...warned].sort(), r.warnings.join('\n'));
  });
}

test('--help lists the compatibility-only flags with their defaults and what they do not do', async (t) => {
  let out = '';
  await t.throwsAsync(
    parseCommandLine(['--help'], { ...noFiles, writeOut: (s) => (out += s), exit: () => { throw new Error('exited'); } }),
    { message: 'exited' },
  );
  t.regex(out, /--kube-api-qps <qps>\s+kube-proxy compatibility, no effect: [^\n]*\(default: 5\)/);
  t.regex(out, /--ipvs-exclude-cidrs <cidrs>\s+kube-proxy compatibility, no effect: [^\n]*\(default: none\)/);
});
