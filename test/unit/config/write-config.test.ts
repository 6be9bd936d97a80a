import test from 'ava';
import { parseDocument } from 'yaml';
import { parseCommandLine, renderKubeProxyConfiguration, type Config } from '../../../lib/config/index.ts';

const noFiles = { readFile: async (path: string): Promise<string> => { throw new Error(`ENOENT: ${path}`); } };

/** Parses argv, renders the config, reads the rendering back through --config: the two configs must agree. */
const roundTrip = async (argv: readonly string[]): Promise<{ before: Config; after: Config; text: string; warnings: readonly string[] }> => {
  const before = (await parseCommandLine(argv, noFiles)).config;
  const text = renderKubeProxyConfiguration(before);
  const reread = await parseCommandLine(['--config', '/written.yaml'], { readFile: async () => text });
  return { before, after: reread.config, text, warnings: reread.warnings };
};

/** The settings a KubeProxyConfiguration carries (the rest are named in the header comment instead). */
const kubeProxyPart = (c: Config): Partial<Config> => {
  const { manifestsDir, master, ingressHttpAddress, ingressHttpsAddress, ingressStatusAddress, ingressUpstream, ingressKeepAliveTimeoutMs, readyFile, writeConfigTo, ...rest } = c;
  void [manifestsDir, master, ingressHttpAddress, ingressHttpsAddress, ingressStatusAddress, ingressUpstream, ingressKeepAliveTimeoutMs, readyFile, writeConfigTo];
  return rest;
};

const cases: [string, readonly string[]][] = [
  ['defaults', []],
  ['kube-proxy settings', [
    '--proxy-mode=iptables', '--hostname-override=node-7', '--cluster-cidr=10.244.0.0/16,fd00:244::/56', '--detect-local-mode=NodeCIDR',
    '--nodeport-addresses=192.168.50.0/24', '--masquerade-all', '--iptables-masquerade-bit=12', '--healthz-bind-address=127.0.0.1:20256', '--metrics-bind-address=[::]:9100',
    '--sync-period=1m', '--min-sync-period=5s', '--conntrack-max-per-core=0', '--conntrack-min=1000', '--conntrack-tcp-timeout-established=2h',
    '--conntrack-tcp-timeout-close-wait=30s', '--conntrack-tcp-be-liberal', '--conntrack-udp-timeout=30s', '--conntrack-udp-timeout-stream=2m',
    '--oom-score-adj=-998', '--bind-address-hard-fail', '--v=4', '--feature-gates=A=true,B=false', '--kubeconfig=/etc/kube/proxy.conf',
  ]],
  ['ipvs', ['--proxy-mode=ipvs', '--ipvs-scheduler=lc', '--ipvs-sync-period=10s', '--ipvs-min-sync-period=2s', '--ipvs-strict-arp',
    '--ipvs-tcp-timeout=15m', '--ipvs-tcpfin-timeout=30s', '--ipvs-udp-timeout=5m']],
  ['nodePortAddresses primary', ['--nodeport-addresses=primary']],
  ['detect-local by interface', ['--detect-local-mode=InterfaceNamePrefix', '--pod-interface-name-prefix=veth', '--pod-bridge-interface=cbr0']],
];
for (const [name, argv] of cases) {
  test(`--write-config-to output reads back to the same settings: ${name}`, async (t) => {
    const { before, after, warnings } = await roundTrip(argv);
    t.deepEqual(kubeProxyPart(after), kubeProxyPart(before));
    t.deepEqual(warnings.filter((w) => w.includes('config file')), [], 'no unknown or ineffective fields');
  });
}

test('settings without a KubeProxyConfiguration field are listed as flags in the header comment', async (t) => {
  const { text } = await roundTrip([
    '--ingress-http-address=127.0.0.1:8080', '--ingress-https-address=', '--healthz-bind-address=', '--manifests=/etc/objects',
    '--ready-file=/run/ready', '--ingress-keepalive-timeout=30s', '--log-level=warn',
  ]);
  const header = parseDocument(text).commentBefore ?? '';
  for (const flag of ['--ingress-http-address=127.0.0.1:8080', '--ingress-https-address=', '--healthz-bind-address=', '--manifests=/etc/objects',
    '--ready-file=/run/ready', '--ingress-keepalive-timeout=30s', '--log-level=warn']) {
    t.true(header.includes(`  ${flag}\n`) || header.endsWith(`  ${flag}`), `${flag} in:\n${header}`);
  }
  t.false(header.includes('--metrics-bind-address'), 'a listener at its default needs no flag');
  const plain = renderKubeProxyConfiguration((await parseCommandLine([], noFiles)).config);
  t.false(plain.includes('without a field'));
  t.regex(plain, /^# Written by switchyard --write-config-to/);
  t.regex(plain, /\nkind: KubeProxyConfiguration\n/);
});
