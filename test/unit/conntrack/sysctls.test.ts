import test from 'ava';
import { DEFAULTS, type ConntrackConfig } from '../../../lib/config/types.ts';
import { applyConntrackSysctls, conntrackSysctls, FakeKernelParams, HASHSIZE_PATH } from '../../../lib/conntrack/sysctls.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';

const base: ConntrackConfig = DEFAULTS.conntrack;
const NF = '/proc/sys/net/netfilter';

const cases: [string, ConntrackConfig, number, Record<string, number>][] = [
  ['defaults on 2 cores: min wins', base, 2, { 'net/netfilter/nf_conntrack_max': 131072, 'net/netfilter/nf_conntrack_tcp_timeout_established': 86400, 'net/netfilter/nf_conntrack_tcp_timeout_close_wait': 3600 }],
  ['defaults on 8 cores: per-core wins', base, 8, { 'net/netfilter/nf_conntrack_max': 262144, 'net/netfilter/nf_conntrack_tcp_timeout_established': 86400, 'net/netfilter/nf_conntrack_tcp_timeout_close_wait': 3600 }],
  ['all zero: nothing set', { maxPerCore: 0, min: 0, tcpEstablishedTimeoutMs: 0, tcpCloseWaitTimeoutMs: 0, tcpBeLiberal: false, udpTimeoutMs: 0, udpStreamTimeoutMs: 0 }, 4, {}],
  ['liberal and UDP timeouts', { ...base, maxPerCore: 0, tcpEstablishedTimeoutMs: 0, tcpCloseWaitTimeoutMs: 0, tcpBeLiberal: true, udpTimeoutMs: 30_000, udpStreamTimeoutMs: 120_000 }, 4, {
    'net/netfilter/nf_conntrack_tcp_be_liberal': 1,
    'net/netfilter/nf_conntrack_udp_timeout': 30,
    'net/netfilter/nf_conntrack_udp_timeout_stream': 120,
  }],
];
for (const [title, config, cores, expected] of cases) {
  test(`conntrackSysctls: ${title}`, (t) => {
    t.deepEqual(Object.fromEntries(conntrackSysctls(config, cores).map((s) => [s.name, s.value])), expected);
  });
}

const kernel = (): FakeKernelParams => {
  const k = new FakeKernelParams();
  k.values.set(`${NF}/nf_conntrack_max`, '65536');
  k.values.set(`${NF}/nf_conntrack_tcp_timeout_established`, '432000');
  k.values.set(`${NF}/nf_conntrack_tcp_timeout_close_wait`, '3600');
  k.values.set(HASHSIZE_PATH, '16384');
  return k;
};

test('applyConntrackSysctls: writes only what differs and raises hashsize to max/4', async (t) => {
  const k = kernel();
  const report = await applyConntrackSysctls(base, 2, k, recordingLogger());
  t.deepEqual(k.writes, [
    { path: `${NF}/nf_conntrack_max`, value: '131072' },
    { path: `${NF}/nf_conntrack_tcp_timeout_established`, value: '86400' },
    { path: HASHSIZE_PATH, value: '32768' },
  ]);
  t.deepEqual(report.unchanged, ['net/netfilter/nf_conntrack_tcp_timeout_close_wait']);
  t.deepEqual(report.warnings, []);
});

test('applyConntrackSysctls: a read-only sysctl (inside a netns) is a warning; the global hashsize is then left alone', async (t) => {
  const k = kernel();
  k.readOnly.add(`${NF}/nf_conntrack_max`);
  const logger = recordingLogger();
  const report = await applyConntrackSysctls(base, 2, k, logger);
  t.is(report.warnings.length, 1);
  t.regex(report.warnings[0] ?? '', /nf_conntrack_max/);
  t.false(k.writes.some((w) => w.path === HASHSIZE_PATH));
  t.true(k.writes.some((w) => w.path.endsWith('tcp_timeout_established')));
  t.true(logger.lines.some((l) => l.level === 'warn'));
});

test('applyConntrackSysctls: a missing sysctl file is a warning, not a throw', async (t) => {
  const k = new FakeKernelParams();
  const report = await applyConntrackSysctls(base, 2, k, recordingLogger());
  t.is(report.warnings.length, 3);
  t.deepEqual(report.written, []);
});
