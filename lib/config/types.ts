/**
 * The validated, merged configuration (defaults < --config file < flags). Plain readonly data; durations are
 * milliseconds, bind addresses are parsed. Built only by lib/config/command-line.ts.
 */
import type { HostPort } from './values.ts';

export type { HostPort } from './values.ts';

export const PROXY_MODES = ['nftables', 'iptables', 'ipvs', 'none'] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * How "traffic from a pod" is recognised (kube-proxy's local-traffic detectors): source in --cluster-cidr, source in
 * the Node's podCIDRs, arriving on --pod-bridge-interface, or on an interface named --pod-interface-name-prefix….
 */
export const DETECT_LOCAL_MODES = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'] as const;
export type DetectLocalMode = (typeof DETECT_LOCAL_MODES)[number];

export const IPVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'sed', 'nq', 'mh'] as const;
export type IpvsScheduler = (typeof IPVS_SCHEDULERS)[number];

export interface ConntrackConfig {
  /** nf_conntrack_max = max(maxPerCore × cores, min); 0 leaves the kernel's limit (and min) alone. */
  readonly maxPerCore: number;
  readonly min: number;
  /** 0 = leave the sysctl as it is. */
  readonly tcpEstablishedTimeoutMs: number;
  readonly tcpCloseWaitTimeoutMs: number;
  readonly tcpBeLiberal: boolean;
  readonly udpTimeoutMs: number;
  readonly udpStreamTimeoutMs: number;
}

export interface IpvsConfig {
  readonly scheduler: IpvsScheduler;
  readonly syncPeriodMs: number;
  readonly minSyncPeriodMs: number;
  readonly strictARP: boolean;
  /** IPVS connection timeouts (ipvsadm --set); 0 = leave the kernel's. */
  readonly tcpTimeoutMs: number;
  readonly tcpFinTimeoutMs: number;
  readonly udpTimeoutMs: number;
}

export interface IngressUpstreamConfig {
  readonly connectTimeoutMs: number;
  /** Whole-response timeout towards the backend (headers and body inactivity). */
  readonly timeoutMs: number;
}

export interface Config {
  readonly proxyMode: ProxyMode;
  /** Standalone mode: read objects from this directory instead of an API server. */
  readonly manifestsDir: string | undefined;
  readonly kubeconfig: string | undefined;
  readonly master: string | undefined;
  /** Already lowercased; undefined = use the OS hostname (see resolveNodeName). */
  readonly hostnameOverride: string | undefined;
  /** Pod CIDRs (0, 1 or one per family). */
  readonly clusterCIDRs: readonly string[];
  readonly detectLocalMode: DetectLocalMode;
  /** --pod-bridge-interface (detectLocal.bridgeInterface): read by detectLocalMode BridgeInterface. */
  readonly podBridgeInterface: string | undefined;
  /** --pod-interface-name-prefix (detectLocal.interfaceNamePrefix): read by detectLocalMode InterfaceNamePrefix. */
  readonly podInterfaceNamePrefix: string | undefined;
  /** CIDRs NodePorts answer on; 'primary' = the Node's InternalIPs; undefined = the default (same as 'primary'). */
  readonly nodePortAddresses: readonly string[] | 'primary' | undefined;
  readonly masqueradeAll: boolean;
  /** The fwmark bit (0-31) that marks connections for masquerading (kube-proxy's --iptables-masquerade-bit). */
  readonly masqueradeBit: number;
  /**
   * iptables mode: NodePorts also answer on IPv4 loopback when nodePortAddresses covers it (kube-proxy's
   * --iptables-localhost-nodeports, default true). See localhostNodePortsWanted.
   */
  readonly localhostNodePorts: boolean;
  /** undefined = the listener is disabled (flag given as an empty string). */
  readonly healthzBindAddress: HostPort | undefined;
  readonly metricsBindAddress: HostPort | undefined;
  readonly ingressHttpAddress: HostPort | undefined;
  readonly ingressHttpsAddress: HostPort | undefined;
  /** IP or hostname to publish in Ingress status.loadBalancer; undefined = publish nothing. */
  readonly ingressStatusAddress: string | undefined;
  readonly ingressUpstream: IngressUpstreamConfig;
  /** How long an idle client keep-alive connection stays open. */
  readonly ingressKeepAliveTimeoutMs: number;
  /**
   * A file this process creates once it has programmed the node, for an exec startup probe: during a surge
   * rollout both pods answer on the shared /healthz port, this file is the pod's own.
   */
  readonly readyFile: string | undefined;
  /** Full-resync period of the dataplane for the chosen mode. */
  readonly syncPeriodMs: number;
  /** Minimum time between two syncs (bursts of changes are coalesced). */
  readonly minSyncPeriodMs: number;
  readonly conntrack: ConntrackConfig;
  readonly ipvs: IpvsConfig;
  /** klog-style verbosity 0-10 (kept for log fields; logLevel is what the logger uses). */
  readonly verbosity: number;
  readonly logLevel: LogLevel;
  readonly cleanup: boolean;
  /** --init-only: set the privileged kernel parameters, then exit. */
  readonly initOnly: boolean;
  /** --write-config-to: where to write the effective configuration (then exit); undefined = run. */
  readonly writeConfigTo: string | undefined;
  /** Written to /proc/self/oom_score_adj at start (kube-proxy's default keeps the node's proxy alive under OOM). */
  readonly oomScoreAdj: number;
  /** A healthz/metrics bind failure ends the process instead of being retried. */
  readonly bindAddressHardFail: boolean;
  /** Feature gates as given (accepted for compatibility, not acted on). */
  readonly featureGates: Readonly<Record<string, boolean>>;
}

/** At least one ingress listener is configured (both flags given as "" turn the ingress off). */
export const ingressEnabled = (config: Pick<Config, 'ingressHttpAddress' | 'ingressHttpsAddress'>): boolean =>
  config.ingressHttpAddress !== undefined || config.ingressHttpsAddress !== undefined;

/** kube-proxy's defaults where kube-proxy has the setting. */
export const DEFAULTS = {
  proxyMode: 'nftables',
  healthzBindAddress: { host: '0.0.0.0', port: 10256 },
  metricsBindAddress: { host: '127.0.0.1', port: 10249 },
  ingressHttpAddress: { host: '0.0.0.0', port: 80 },
  ingressHttpsAddress: { host: '0.0.0.0', port: 443 },
  syncPeriodMs: 30_000,
  /** kube-proxy's default for nftables and iptables; ipvs mode defaults to 0. */
  minSyncPeriodMs: 1_000,
  ipvsMinSyncPeriodMs: 0,
  conntrack: {
    maxPerCore: 32_768,
    min: 131_072,
    tcpEstablishedTimeoutMs: 24 * 3_600_000,
    tcpCloseWaitTimeoutMs: 3_600_000,
    tcpBeLiberal: false,
    udpTimeoutMs: 0,
    udpStreamTimeoutMs: 0,
  },
  ipvsScheduler: 'rr',
  masqueradeBit: 14,
  /** kube-proxy's (qos.KubeProxyOOMScoreAdj). */
  oomScoreAdj: -999,
  detectLocalMode: 'ClusterCIDR',
  verbosity: 0,
  ingressUpstream: { connectTimeoutMs: 5_000, timeoutMs: 60_000 },
  // nginx's keepalive_timeout (and ingress-nginx's keep-alive): longer than common clients' idle pools, so the client,
  // not the proxy, closes an idle connection — a proxy closing first races a request being sent on it.
  ingressKeepAliveTimeoutMs: 75_000,
} as const satisfies Record<string, unknown>;
