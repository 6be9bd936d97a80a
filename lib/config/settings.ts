/**
 * The flat setting set both the config file and the flags feed, and the table of flags (kube-proxy's names).
 * Merging is per setting: flag given on the command line > config file > default.
 */
import type { DetectLocalMode, HostPort, IpvsScheduler, LogLevel, ProxyMode } from './types.ts';
import { DEFAULTS, DETECT_LOCAL_MODES, IPVS_SCHEDULERS, LOG_LEVELS, PROXY_MODES } from './types.ts';
import {
  formatDuration,
  formatHostPort,
  parseBool,
  parseChoice,
  parseCidrList,
  parseDuration,
  parseHostPort,
  parseIntInRange,
  splitList,
  ValueError,
} from './values.ts';

export interface Settings {
  readonly configFile: string;
  readonly kubeconfig: string;
  readonly master: string;
  readonly manifestsDir: string;
  readonly proxyMode: ProxyMode;
  readonly hostnameOverride: string;
  readonly clusterCIDRs: readonly string[];
  readonly detectLocalMode: DetectLocalMode;
  readonly podBridgeInterface: string;
  readonly podInterfaceNamePrefix: string;
  readonly nodePortAddresses: readonly string[] | 'primary';
  readonly masqueradeAll: boolean;
  readonly masqueradeBit: number;
  readonly localhostNodePorts: boolean;
  readonly healthzBindAddress: HostPort | undefined;
  readonly metricsBindAddress: HostPort | undefined;
  readonly ingressHttpAddress: HostPort | undefined;
  readonly ingressHttpsAddress: HostPort | undefined;
  readonly ingressStatusAddress: string;
  readonly readyFile: string;
  readonly ingressUpstreamConnectTimeoutMs: number;
  readonly ingressUpstreamTimeoutMs: number;
  readonly ingressKeepAliveTimeoutMs: number;
  readonly syncPeriodMs: number;
  readonly minSyncPeriodMs: number;
  readonly conntrackMaxPerCore: number;
  readonly conntrackMin: number;
  readonly conntrackTcpEstablishedTimeoutMs: number;
  readonly conntrackTcpCloseWaitTimeoutMs: number;
  readonly conntrackTcpBeLiberal: boolean;
  readonly conntrackUdpTimeoutMs: number;
  readonly conntrackUdpStreamTimeoutMs: number;
  readonly ipvsScheduler: IpvsScheduler;
  readonly ipvsSyncPeriodMs: number;
  readonly ipvsMinSyncPeriodMs: number;
  readonly ipvsStrictARP: boolean;
  readonly ipvsTcpTimeoutMs: number;
  readonly ipvsTcpFinTimeoutMs: number;
  readonly ipvsUdpTimeoutMs: number;
  readonly verbosity: number;
  readonly logLevel: LogLevel;
  readonly cleanup: boolean;
  readonly initOnly: boolean;
  readonly writeConfigTo: string;
  readonly version: boolean;
  readonly oomScoreAdj: number;
  readonly bindAddressHardFail: boolean;
  readonly bindAddress: string;
  readonly featureGates: Readonly<Record<string, boolean>>;
}

export type SettingsPatch = { -readonly [K in keyof Settings]?: Settings[K] };

interface FlagSpec<K extends keyof Settings> {
  /** Commander flag syntax, e.g. `--proxy-mode <mode>`; `[bool]` flags also take `--flag=false`. */
  readonly flags: string;
  readonly key: K;
  readonly description: string;
  /** Shown as "(default: …)" in --help. */
  readonly defaultText: string;
  /** Raw value is `true` for a `[bool]` flag given without a value. */
  readonly parse: (raw: string | true) => Settings[K];
}
export type AnyFlagSpec = { [K in keyof Settings]: FlagSpec<K> }[keyof Settings];

const flag = <K extends keyof Settings>(spec: FlagSpec<K>): FlagSpec<K> => spec;
const text = (raw: string | true): string => (raw === true ? '' : raw);
const str = (raw: string | true): string => text(raw).trim();
const bool = (raw: string | true): boolean => (raw === true ? true : parseBool(raw));
const duration = (raw: string | true): number => parseDuration(text(raw));
const count = (raw: string | true): number => parseIntInRange(text(raw), 0, 2 ** 31 - 1);
const bind = (port: number) => (raw: string | true) => parseHostPort(text(raw), port);

/** `primary` alone, `all`, `localhost`, or a CIDR list (keywords other than primary expand to CIDRs). */
export const parseNodePortAddresses = (items: readonly string[]): readonly string[] | 'primary' => {
  const trimmed = items.map((x) => x.trim()).filter((x) => x !== '');
  if (trimmed.length === 0) return 'primary';
  if (trimmed.includes('primary')) {
    if (trimmed.length > 1) throw new ValueError("'primary' alone, or a list of CIDRs (all, localhost allowed)");
    return 'primary';
  }
  return parseCidrList(
    trimmed.flatMap((x) => (x === 'all' ? ['0.0.0.0/0', '::/0'] : x === 'localhost' ? ['127.0.0.0/8', '::1/128'] : [x])),
  );
};

/** `Name=true,Other=false`. */
export const parseFeatureGates = (raw: string): Readonly<Record<string, boolean>> => {
  const gates: Record<string, boolean> = {};
  for (const item of splitList(raw)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ValueError('a comma list of Name=true|false');
    gates[item.slice(0, eq).trim()] = parseBool(item.slice(eq + 1));
  }
  return gates;
};

const d = formatDuration;
const hp = (x: HostPort) => formatHostPort(x);

export const FLAG_SPECS: readonly AnyFlagSpec[] = [
  flag({ flags: '--config <file>', key: 'configFile', description: 'KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) YAML file; flags override it', defaultText: 'none', parse: str }),
  flag({ flags: '--kubeconfig <file>', key: 'kubeconfig', description: 'kubeconfig file for the API server', defaultText: 'in-cluster config, else $KUBECONFIG or ~/.kube/config', parse: str }),
  flag({ flags: '--master <url>', key: 'master', description: 'API server URL (overrides the kubeconfig server)', defaultText: 'from kubeconfig', parse: str }),
  flag({ flags: '--manifests <dir>', key: 'manifestsDir', description: 'standalone mode: read objects from *.yaml/*.yml/*.json in DIR instead of an API server', defaultText: 'none (use the API server)', parse: str }),
  flag({ flags: '--proxy-mode <mode>', key: 'proxyMode', description: `dataplane: ${PROXY_MODES.join('|')} (none = ingress only, no kernel rules)`, defaultText: DEFAULTS.proxyMode, parse: (raw) => parseChoice(text(raw), PROXY_MODES) }),
  flag({ flags: '--hostname-override <name>', key: 'hostnameOverride', description: "this node's name (EndpointSlice nodeName, Node object)", defaultText: 'the OS hostname', parse: str }),
  flag({ flags: '--cluster-cidr <cidrs>', key: 'clusterCIDRs', description: 'pod CIDR(s), comma-separated (one per family), to tell local traffic', defaultText: 'none', parse: (raw) => parseCidrList(splitList(text(raw))) }),
  flag({ flags: '--detect-local-mode <mode>', key: 'detectLocalMode', description: `how pod traffic is recognised: ${DETECT_LOCAL_MODES.join('|')}`, defaultText: DEFAULTS.detectLocalMode, parse: (raw) => parseChoice(text(raw), DETECT_LOCAL_MODES) }),
  flag({ flags: '--pod-bridge-interface <name>', key: 'podBridgeInterface', description: 'with --detect-local-mode BridgeInterface: traffic arriving on this bridge is from pods', defaultText: 'none', parse: str }),
  flag({ flags: '--pod-interface-name-prefix <prefix>', key: 'podInterfaceNamePrefix', description: 'with --detect-local-mode InterfaceNamePrefix: traffic arriving on interfaces named PREFIX… is from pods', defaultText: 'none', parse: str }),
  flag({ flags: '--nodeport-addresses <cidrs>', key: 'nodePortAddresses', description: "where NodePorts answer: comma list of CIDRs (or all, localhost), or 'primary'", defaultText: "primary (the Node's InternalIPs)", parse: (raw) => parseNodePortAddresses(splitList(text(raw))) }),
  flag({ flags: '--masquerade-all [bool]', key: 'masqueradeAll', description: 'SNAT all traffic sent to ClusterIPs', defaultText: 'false', parse: bool }),
  flag({ flags: '--iptables-masquerade-bit <bit>', key: 'masqueradeBit', description: 'the fwmark bit (0-31) that marks connections for masquerading, in every proxy mode (pick another when something else on the node uses bit 14)', defaultText: String(DEFAULTS.masqueradeBit), parse: (raw) => parseIntInRange(text(raw), 0, 31) }),
  flag({ flags: '--iptables-localhost-nodeports [bool]', key: 'localhostNodePorts', description: 'iptables mode, IPv4: NodePorts also answer on 127.0.0.1 when --nodeport-addresses covers it (sets route_localnet=1 and drops other traffic to 127.0.0.0/8 from outside)', defaultText: 'true', parse: bool }),
  flag({ flags: '--healthz-bind-address <host:port>', key: 'healthzBindAddress', description: '/healthz and /livez listener ("" disables)', defaultText: hp(DEFAULTS.healthzBindAddress), parse: bind(DEFAULTS.healthzBindAddress.port) }),
  flag({ flags: '--metrics-bind-address <host:port>', key: 'metricsBindAddress', description: 'Prometheus /metrics listener ("" disables)', defaultText: hp(DEFAULTS.metricsBindAddress), parse: bind(DEFAULTS.metricsBindAddress.port) }),
  flag({ flags: '--ingress-http-address <host:port>', key: 'ingressHttpAddress', description: 'Ingress HTTP listener ("" disables)', defaultText: hp(DEFAULTS.ingressHttpAddress), parse: bind(DEFAULTS.ingressHttpAddress.port) }),
  flag({ flags: '--ingress-https-address <host:port>', key: 'ingressHttpsAddress', description: 'Ingress HTTPS listener ("" disables)', defaultText: hp(DEFAULTS.ingressHttpsAddress), parse: bind(DEFAULTS.ingressHttpsAddress.port) }),
  flag({ flags: '--ingress-status-address <address>', key: 'ingressStatusAddress', description: 'IP or hostname published in Ingress status.loadBalancer', defaultText: 'none (status not written)', parse: str }),
  flag({ flags: '--ready-file <path>', key: 'readyFile', description: 'created once this process has programmed the node (rules written; ingress serving), removed at start and exit: for an exec startup probe in a surge rollout', defaultText: 'none', parse: str }),
  flag({ flags: '--ingress-upstream-connect-timeout <duration>', key: 'ingressUpstreamConnectTimeoutMs', description: 'Ingress: time allowed to connect to a backend', defaultText: d(DEFAULTS.ingressUpstream.connectTimeoutMs), parse: duration }),
  flag({ flags: '--ingress-upstream-timeout <duration>', key: 'ingressUpstreamTimeoutMs', description: 'Ingress: time allowed for a backend to answer (0 = none)', defaultText: d(DEFAULTS.ingressUpstream.timeoutMs), parse: duration }),
  flag({ flags: '--ingress-keepalive-timeout <duration>', key: 'ingressKeepAliveTimeoutMs', description: 'Ingress: how long an idle client keep-alive connection stays open', defaultText: d(DEFAULTS.ingressKeepAliveTimeoutMs), parse: duration }),
  flag({ flags: '--sync-period <duration>', key: 'syncPeriodMs', description: 'full dataplane resync period (Go duration)', defaultText: d(DEFAULTS.syncPeriodMs), parse: duration }),
  flag({ flags: '--min-sync-period <duration>', key: 'minSyncPeriodMs', description: 'minimum time between syncs; changes within it are batched', defaultText: `${d(DEFAULTS.minSyncPeriodMs)} (ipvs mode: ${d(DEFAULTS.ipvsMinSyncPeriodMs)})`, parse: duration }),
  flag({ flags: '--iptables-sync-period <duration>', key: 'syncPeriodMs', description: 'deprecated alias of --sync-period', defaultText: d(DEFAULTS.syncPeriodMs), parse: duration }),
  flag({ flags: '--iptables-min-sync-period <duration>', key: 'minSyncPeriodMs', description: 'deprecated alias of --min-sync-period', defaultText: d(DEFAULTS.minSyncPeriodMs), parse: duration }),
  flag({ flags: '--conntrack-max-per-core <n>', key: 'conntrackMaxPerCore', description: 'conntrack entries per CPU core (0 = leave the limit and --conntrack-min alone)', defaultText: String(DEFAULTS.conntrack.maxPerCore), parse: count }),
  flag({ flags: '--conntrack-min <n>', key: 'conntrackMin', description: 'minimum conntrack entries regardless of --conntrack-max-per-core', defaultText: String(DEFAULTS.conntrack.min), parse: count }),
  flag({ flags: '--conntrack-tcp-timeout-established <duration>', key: 'conntrackTcpEstablishedTimeoutMs', description: 'idle timeout of established TCP conntrack entries (0 = leave as is)', defaultText: d(DEFAULTS.conntrack.tcpEstablishedTimeoutMs), parse: duration }),
  flag({ flags: '--conntrack-tcp-timeout-close-wait <duration>', key: 'conntrackTcpCloseWaitTimeoutMs', description: 'timeout of CLOSE_WAIT TCP conntrack entries (0 = leave as is)', defaultText: d(DEFAULTS.conntrack.tcpCloseWaitTimeoutMs), parse: duration }),
  flag({ flags: '--conntrack-tcp-be-liberal [bool]', key: 'conntrackTcpBeLiberal', description: 'do not mark out-of-window TCP packets INVALID', defaultText: 'false', parse: bool }),
  flag({ flags: '--conntrack-udp-timeout <duration>', key: 'conntrackUdpTimeoutMs', description: 'timeout of unreplied UDP conntrack entries (0 = leave as is)', defaultText: d(DEFAULTS.conntrack.udpTimeoutMs), parse: duration }),
  flag({ flags: '--conntrack-udp-timeout-stream <duration>', key: 'conntrackUdpStreamTimeoutMs', description: 'timeout of assured UDP conntrack entries (0 = leave as is)', defaultText: d(DEFAULTS.conntrack.udpStreamTimeoutMs), parse: duration }),
  flag({ flags: '--ipvs-scheduler <name>', key: 'ipvsScheduler', description: `IPVS scheduler: ${IPVS_SCHEDULERS.join('|')}`, defaultText: DEFAULTS.ipvsScheduler, parse: (raw) => parseChoice(text(raw) || 'rr', IPVS_SCHEDULERS) }),
  flag({ flags: '--ipvs-sync-period <duration>', key: 'ipvsSyncPeriodMs', description: 'IPVS full resync period (ipvs mode, unless --sync-period is given)', defaultText: d(DEFAULTS.syncPeriodMs), parse: duration }),
  flag({ flags: '--ipvs-min-sync-period <duration>', key: 'ipvsMinSyncPeriodMs', description: 'IPVS minimum time between syncs (ipvs mode, unless --min-sync-period is given)', defaultText: d(DEFAULTS.ipvsMinSyncPeriodMs), parse: duration }),
  flag({ flags: '--ipvs-strict-arp [bool]', key: 'ipvsStrictARP', description: 'set arp_ignore=1 and arp_announce=2 (needed by some LB setups)', defaultText: 'false', parse: bool }),
  flag({ flags: '--ipvs-tcp-timeout <duration>', key: 'ipvsTcpTimeoutMs', description: 'IPVS idle timeout of established TCP connections (0 = leave as is)', defaultText: '0s', parse: duration }),
  flag({ flags: '--ipvs-tcpfin-timeout <duration>', key: 'ipvsTcpFinTimeoutMs', description: 'IPVS timeout of TCP connections after a FIN (0 = leave as is)', defaultText: '0s', parse: duration }),
  flag({ flags: '--ipvs-udp-timeout <duration>', key: 'ipvsUdpTimeoutMs', description: 'IPVS timeout of UDP flows (0 = leave as is)', defaultText: '0s', parse: duration }),
  flag({ flags: '-v, --v <level>', key: 'verbosity', description: 'klog-style verbosity 0-10 (0-2 info, 3-4 debug, 5+ trace) unless --log-level is given', defaultText: String(DEFAULTS.verbosity), parse: (raw) => parseIntInRange(text(raw), 0, 10) }),
  flag({ flags: '--log-level <level>', key: 'logLevel', description: `log level: ${LOG_LEVELS.join('|')}`, defaultText: 'from --v (info)', parse: (raw) => parseChoice(text(raw), LOG_LEVELS) }),
  flag({ flags: '--cleanup [bool]', key: 'cleanup', description: 'remove every rule switchyard owns in this network namespace and exit', defaultText: 'false', parse: bool }),
  flag({ flags: '--init-only [bool]', key: 'initOnly', description: 'set the kernel parameters that need full root (conntrack, IPVS and route_localnet sysctls) and exit, as kube-proxy does for an init container', defaultText: 'false', parse: bool }),
  flag({ flags: '--write-config-to <file>', key: 'writeConfigTo', description: 'write the effective configuration as a KubeProxyConfiguration to FILE and exit (switchyard-only settings such as --ingress-* have no field there)', defaultText: 'none', parse: str }),
  flag({ flags: '--version [bool]', key: 'version', description: 'print the version and exit', defaultText: 'false', parse: (raw) => (raw === 'raw' ? true : bool(raw)) }),
  flag({ flags: '--oom-score-adj <n>', key: 'oomScoreAdj', description: 'oom_score_adj of this process, -1000 to 1000', defaultText: String(DEFAULTS.oomScoreAdj), parse: (raw) => parseIntInRange(text(raw), -1000, 1000) }),
  flag({ flags: '--bind-address-hard-fail [bool]', key: 'bindAddressHardFail', description: 'exit when the healthz or metrics listener cannot bind, instead of retrying', defaultText: 'false', parse: bool }),
  flag({ flags: '--bind-address <ip>', key: 'bindAddress', description: 'accepted for kube-proxy compatibility; ignored', defaultText: 'none', parse: str }),
  flag({ flags: '--feature-gates <gates>', key: 'featureGates', description: 'accepted for kube-proxy compatibility (Name=true,...); ignored with a warning', defaultText: 'none', parse: (raw) => parseFeatureGates(text(raw)) }),
];

/** klog verbosity → our log level: 0-2 info (v=2 is the usual production setting), 3-4 debug, 5+ trace. */
export const logLevelForVerbosity = (v: number): LogLevel => (v >= 5 ? 'trace' : v >= 3 ? 'debug' : 'info');
