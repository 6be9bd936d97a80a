import test from 'ava';
import { parseCommandLine, type Config, type ParsedCommand } from '../../../lib/config/index.ts';
import { isSwitchyardError } from '../../../lib/errors.ts';

const HEADER = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';

const withFile = (text: string, argv: readonly string[] = []): Promise<ParsedCommand> =>
  parseCommandLine(['--config', '/etc/switchyard/config.yaml', ...argv], {
    readFile: async (path) => {
      if (path !== '/etc/switchyard/config.yaml') throw new Error(`unexpected read of ${path}`);
      return text;
    },
  });

const at = (c: Config, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c);

/** [file body (after apiVersion/kind), config path, expected] */
const fieldCases: [string, string, unknown][] = [
  ['clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n', 'kubeconfig', '/var/lib/kube-proxy/kubeconfig.conf'],
  ['hostnameOverride: Node-B\n', 'hostnameOverride', 'node-b'],
  ['healthzBindAddress: 127.0.0.1:10256\n', 'healthzBindAddress', { host: '127.0.0.1', port: 10256 }],
  ['healthzBindAddress: ""\n', 'healthzBindAddress', { host: '0.0.0.0', port: 10256 }],
  ['metricsBindAddress: 0.0.0.0:10249\n', 'metricsBindAddress', { host: '0.0.0.0', port: 10249 }],
  ['clusterCIDR: 10.244.0.0/16,fd00:244::/56\n', 'clusterCIDRs', ['10.244.0.0/16', 'fd00:244::/56']],
  ['mode: iptables\n', 'proxyMode', 'iptables'],
  ['mode: ""\n', 'proxyMode', 'nftables'],
  ['nodePortAddresses: [primary]\n', 'nodePortAddresses', 'primary'],
  ['nodePortAddresses: [192.168.50.0/24]\n', 'nodePortAddresses', ['192.168.50.0/24']],
  ['nodePortAddresses: null\n', 'nodePortAddresses', undefined],
  ['iptables:\n  masqueradeAll: true\n', 'masqueradeAll', true],
  ['nftables:\n  masqueradeAll: true\n', 'masqueradeAll', true],
  ['nftables:\n  syncPeriod: 1m\n  minSyncPeriod: 5s\n', 'syncPeriodMs', 60_000],
  ['nftables:\n  syncPeriod: 1m\n  minSyncPeriod: 5s\n', 'minSyncPeriodMs', 5000],
  // kubeadm writes zero values; kube-proxy's defaulting turns them into defaults.
  ['iptables:\n  syncPeriod: 0s\n  minSyncPeriod: 0s\nnftables:\n  syncPeriod: 0s\n', 'minSyncPeriodMs', 1000],
  ['mode: iptables\niptables:\n  syncPeriod: 20s\nnftables:\n  syncPeriod: 50s\n', 'syncPeriodMs', 20_000],
  ['mode: ipvs\nipvs:\n  syncPeriod: 15s\n  minSyncPeriod: 2s\n  scheduler: lc\n  strictARP: true\n', 'syncPeriodMs', 15_000],
  ['mode: ipvs\nipvs:\n  syncPeriod: 15s\n  minSyncPeriod: 2s\n  scheduler: lc\n  strictARP: true\n', 'ipvs', { scheduler: 'lc', syncPeriodMs: 15_000, minSyncPeriodMs: 2000, strictARP: true, tcpTimeoutMs: 0, tcpFinTimeoutMs: 0, udpTimeoutMs: 0 }],
  ['mode: ipvs\nipvs:\n  tcpTimeout: 15m\n  tcpFinTimeout: 30s\n  udpTimeout: 0s\n', 'ipvs.tcpTimeoutMs', 900_000],
  ['mode: ipvs\nipvs:\n  tcpTimeout: 15m\n  tcpFinTimeout: 30s\n  udpTimeout: 0s\n', 'ipvs.tcpFinTimeoutMs', 30_000],
  ['ipvs:\n  scheduler: ""\n', 'ipvs.scheduler', 'rr'],
  [
    'conntrack:\n  maxPerCore: 0\n  min: 100\n  tcpEstablishedTimeout: 2h\n  tcpCloseWaitTimeout: 30s\n  tcpBeLiberal: true\n  udpTimeout: 30s\n  udpStreamTimeout: 2m\n',
    'conntrack',
    { maxPerCore: 0, min: 100, tcpEstablishedTimeoutMs: 7_200_000, tcpCloseWaitTimeoutMs: 30_000, tcpBeLiberal: true, udpTimeoutMs: 30_000, udpStreamTimeoutMs: 120_000 },
  ],
  ['conntrack:\n  maxPerCore: null\n  min: null\n', 'conntrack.maxPerCore', 32768],
  ['detectLocalMode: NodeCIDR\n', 'detectLocalMode', 'NodeCIDR'],
  ['detectLocalMode: BridgeInterface\ndetectLocal:\n  bridgeInterface: cbr0\n', 'podBridgeInterface', 'cbr0'],
  ['detectLocalMode: InterfaceNamePrefix\ndetectLocal:\n  interfaceNamePrefix: eni\n', 'podInterfaceNamePrefix', 'eni'],
  ['logging:\n  verbosity: 4\n  format: text\n', 'logLevel', 'debug'],
  ['featureGates:\n  SomeGate: true\n', 'featureGates', { SomeGate: true }],
  ['oomScoreAdj: -998\n', 'oomScoreAdj', -998],
  // kube-proxy reads the bit from the nftables section in nftables mode, from iptables in iptables and IPVS modes.
  ['iptables:\n  masqueradeBit: 12\nnftables:\n  masqueradeBit: 13\n', 'masqueradeBit', 13],
  ['mode: ipvs\niptables:\n  masqueradeBit: 12\nnftables:\n  masqueradeBit: 13\n', 'masqueradeBit', 12],
  ['nftables:\n  masqueradeBit: null\n', 'masqueradeBit', 14],
  ['oomScoreAdj: null\n', 'oomScoreAdj', -999],
  ['bindAddressHardFail: true\n', 'bindAddressHardFail', true],
];
for (const [body, path, expected] of fieldCases) {
  test(`config file ${JSON.stringify(body.trim())} → ${path}`, async (t) => {
    t.deepEqual(at((await withFile(HEADER + body)).config, path), expected);
  });
}

test('flags override the file', async (t) => {
  const body = 'mode: iptables\nhostnameOverride: from-file\nclusterCIDR: 10.0.0.0/8\niptables:\n  syncPeriod: 20s\n';
  const c = (await withFile(HEADER + body, ['--proxy-mode', 'nftables', '--hostname-override', 'from-flag', '--sync-period', '40s'])).config;
  t.is(c.proxyMode, 'nftables');
  t.is(c.hostnameOverride, 'from-flag');
  t.deepEqual(c.clusterCIDRs, ['10.0.0.0/8']);
  t.is(c.syncPeriodMs, 40_000);
});

test('the mode chosen by a flag picks the file section for sync periods', async (t) => {
  const body = 'mode: nftables\niptables:\n  syncPeriod: 20s\nnftables:\n  syncPeriod: 50s\n';
  t.is((await withFile(HEADER + body, ['--proxy-mode', 'iptables'])).config.syncPeriodMs, 20_000);
});

test('a kubeadm-style full config loads without warnings', async (t) => {
  const kubeadm = `${HEADER}bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: ""
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
`;
  const r = await withFile(kubeadm);
  t.deepEqual(r.warnings, []);
  t.is(r.config.kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf');
  t.deepEqual(r.config.clusterCIDRs, ['10.244.0.0/16']);
  t.is(r.config.syncPeriodMs, 30_000);
  t.is(r.config.minSyncPeriodMs, 1000);
  t.deepEqual(r.config.healthzBindAddress, { host: '0.0.0.0', port: 10256 });
  t.is(r.config.conntrack.maxPerCore, 32768);
});

test('unknown fields are warnings naming the field path', async (t) => {
  const r = await withFile(`${HEADER}futureThing: 1\niptables:\n  newKnob: true\n  syncPeriod: 10s\nconntrack:\n  maxPerCore: 5\n`);
  t.deepEqual(r.warnings, [
    'config file /etc/switchyard/config.yaml: unknown field futureThing ignored',
    'config file /etc/switchyard/config.yaml: unknown field iptables.newKnob ignored',
  ]);
  t.is(r.config.conntrack.maxPerCore, 5);
});

test('unsupported values that kube-proxy has are warnings', async (t) => {
  const r = await withFile(`${HEADER}bindAddress: 10.0.0.5\nfeatureGates:\n  X: true\n`);
  t.is(r.warnings.length, 2);
  t.true(r.warnings.some((w) => w.includes('bindAddress (10.0.0.5)')));
  t.true(r.warnings.some((w) => w.includes('feature gates') && w.includes('X')));
});

test('kube-proxy fields switchyard does not act on are warnings only when their value asks for something', async (t) => {
  const asking = `${HEADER}mode: iptables
enableProfiling: true
portRange: 30000-32767
logging:
  format: text
iptables:
  masqueradeBit: 15
  localhostNodePorts: true
ipvs:
  tcpTimeout: 15m
`;
  const r = await withFile(asking);
  const prefix = 'config file /etc/switchyard/config.yaml: field ';
  t.deepEqual(r.warnings.map((w) => w.slice(prefix.length).split(' ')[0]), [
    'enableProfiling',
    'logging.format',
    'portRange',
  ]);
  t.true(r.warnings.every((w) => w.startsWith(prefix) && w.includes('has no effect: ')), r.warnings.join('\n'));
});

test('iptables.localhostNodePorts: kube-proxy\'s default true, false turns localhost NodePorts off', async (t) => {
  t.true((await withFile(`${HEADER}mode: iptables\n`)).config.localhostNodePorts);
  t.true((await withFile(`${HEADER}mode: iptables\niptables:\n  localhostNodePorts: null\n`)).config.localhostNodePorts);
  const off = await withFile(`${HEADER}mode: iptables\niptables:\n  localhostNodePorts: false\n`);
  t.false(off.config.localhostNodePorts);
  t.deepEqual(off.warnings, []);
});

/** [whole file text, message fragment] — all ERR_CONFIG_INVALID naming the file. */
const badFiles: [string, string][] = [
  ['apiVersion: kubeproxy.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n', 'field apiVersion: "kubeproxy.config.k8s.io/v1beta1" is not kubeproxy.config.k8s.io/v1alpha1'],
  ['apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n', 'field kind: "KubeletConfiguration" is not KubeProxyConfiguration'],
  ['kind: KubeProxyConfiguration\n', 'field apiVersion: null'],
  ['', 'expected a KubeProxyConfiguration mapping, got an empty document'],
  ['- a\n- b\n', 'expected a KubeProxyConfiguration mapping'],
  [`${HEADER}mode: [\n`, 'invalid YAML'],
  [`${HEADER}mode: userspace\n`, 'field mode: invalid value "userspace" (expected one of nftables, iptables, ipvs, none)'],
  [`${HEADER}iptables:\n  syncPeriod: 30\n`, 'field iptables.syncPeriod: 30:'],
  [`${HEADER}mode: iptables\niptables:\n  syncPeriod: soon\n`, 'field iptables.syncPeriod: invalid value "soon"'],
  [`${HEADER}healthzBindAddress: localhost:1\n`, 'field healthzBindAddress: invalid value "localhost:1"'],
  [`${HEADER}clusterCIDR: 10.0.0.0/40\n`, 'field clusterCIDR: invalid value "10.0.0.0/40"'],
  [`${HEADER}conntrack:\n  maxPerCore: -3\n`, 'field conntrack.maxPerCore: invalid value -3'],
  [`${HEADER}conntrack:\n  maxPerCore: many\n`, 'field conntrack.maxPerCore: "many"'],
  [`${HEADER}ipvs:\n  scheduler: best\n`, 'field ipvs.scheduler: invalid value "best"'],
  [`${HEADER}detectLocalMode: Magic\n`, 'field detectLocalMode: invalid value "Magic"'],
  [`${HEADER}nodePortAddresses: [primary, 10.0.0.0/8]\n`, 'field nodePortAddresses'],
  [`${HEADER}nftables:\n  syncPeriod: 10s\n  minSyncPeriod: 20s\n`, 'min sync period 20s is longer than sync period 10s'],
  [`${HEADER}mode: iptables\nmode: ipvs\n`, "invalid YAML: Map keys must be unique"],
  [`${HEADER}detectLocalMode: InterfaceNamePrefix\n`, 'needs --pod-interface-name-prefix (detectLocal.interfaceNamePrefix)'],
  [`${HEADER}nftables:\n  masqueradeBit: 32\n`, 'field nftables.masqueradeBit: invalid value 32 (expected an integer 0-31)'],
  [`${HEADER}oomScoreAdj: 2000\n`, 'field oomScoreAdj: invalid value 2000 (expected an integer -1000-1000)'],
  [`${HEADER}mode: ipvs\nipvs:\n  tcpTimeout: forever\n`, 'field ipvs.tcpTimeout: invalid value "forever"'],
];
for (const [text, fragment] of badFiles) {
  test(`bad config file: ${fragment}`, async (t) => {
    const error = await t.throwsAsync(withFile(text));
    t.true(isSwitchyardError(error));
    t.is((error as { code?: string }).code, 'ERR_CONFIG_INVALID');
    t.true(error!.message.includes(fragment), error!.message);
    // Cross-field rules are checked after flags and file are merged: their message names the settings, not the file.
    if (!fragment.startsWith('min sync') && !fragment.startsWith('needs')) t.true(error!.message.includes('/etc/switchyard/config.yaml'), error!.message);
    t.false(error!.message.includes('\n'));
  });
}

test('a bad flag value is still ERR_FLAG_INVALID when a file is given', async (t) => {
  const error = await t.throwsAsync(withFile(`${HEADER}nftables:\n  syncPeriod: 10s\n`, ['--min-sync-period', '20s']));
  t.is((error as { code?: string }).code, 'ERR_FLAG_INVALID');
});
