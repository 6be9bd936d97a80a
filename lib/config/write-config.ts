/**
 * Config → KubeProxyConfiguration YAML, for --write-config-to (kube-proxy's flag of that name): the effective
 * settings as a file `--config` reads back to the same values. Pure. Switchyard's own settings have no field in
 * that kind; the document's header comment names the ones that differ from their defaults, so nothing is dropped
 * silently.
 */
import { Document } from 'yaml';
import { CONFIG_API_VERSION, CONFIG_KIND } from './config-file.ts';
import { logLevelForVerbosity } from './settings.ts';
import { DEFAULTS, type Config } from './types.ts';
import { formatDuration, formatHostPort, type HostPort } from './values.ts';

const d = formatDuration;

/** Settings a KubeProxyConfiguration cannot carry, as flags to pass beside `--config`, when not at their defaults. */
export const flagsWithoutField = (config: Config): string[] => {
  const out: string[] = [];
  const listener = (flag: string, value: HostPort | undefined, fallback: HostPort): void => {
    if (value === undefined) out.push(`${flag}=`);
    else if (formatHostPort(value) !== formatHostPort(fallback)) out.push(`${flag}=${formatHostPort(value)}`);
  };
  if (config.manifestsDir !== undefined) out.push(`--manifests=${config.manifestsDir}`);
  if (config.master !== undefined) out.push(`--master=${config.master}`);
  // An empty bind address in the file means "default", so a disabled listener needs its flag.
  if (config.healthzBindAddress === undefined) out.push('--healthz-bind-address=');
  if (config.metricsBindAddress === undefined) out.push('--metrics-bind-address=');
  listener('--ingress-http-address', config.ingressHttpAddress, DEFAULTS.ingressHttpAddress);
  listener('--ingress-https-address', config.ingressHttpsAddress, DEFAULTS.ingressHttpsAddress);
  if (config.ingressStatusAddress !== undefined) out.push(`--ingress-status-address=${config.ingressStatusAddress}`);
  if (config.ingressUpstream.connectTimeoutMs !== DEFAULTS.ingressUpstream.connectTimeoutMs) {
    out.push(`--ingress-upstream-connect-timeout=${d(config.ingressUpstream.connectTimeoutMs)}`);
  }
  if (config.ingressUpstream.timeoutMs !== DEFAULTS.ingressUpstream.timeoutMs) out.push(`--ingress-upstream-timeout=${d(config.ingressUpstream.timeoutMs)}`);
  if (config.ingressKeepAliveTimeoutMs !== DEFAULTS.ingressKeepAliveTimeoutMs) out.push(`--ingress-keepalive-timeout=${d(config.ingressKeepAliveTimeoutMs)}`);
  if (config.readyFile !== undefined) out.push(`--ready-file=${config.readyFile}`);
  if (config.logLevel !== logLevelForVerbosity(config.verbosity)) out.push(`--log-level=${config.logLevel}`);
  return out;
};

/** The KubeProxyConfiguration fields, in kube-proxy's own field order where it has one. */
export const kubeProxyConfiguration = (config: Config): Record<string, unknown> => {
  const sync = { syncPeriod: d(config.syncPeriodMs), minSyncPeriod: d(config.minSyncPeriodMs) };
  return {
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    bindAddressHardFail: config.bindAddressHardFail,
    clientConnection: { kubeconfig: config.kubeconfig ?? '' },
    clusterCIDR: config.clusterCIDRs.join(','),
    conntrack: {
      maxPerCore: config.conntrack.maxPerCore,
      min: config.conntrack.min,
      tcpBeLiberal: config.conntrack.tcpBeLiberal,
      tcpCloseWaitTimeout: d(config.conntrack.tcpCloseWaitTimeoutMs),
      tcpEstablishedTimeout: d(config.conntrack.tcpEstablishedTimeoutMs),
      udpStreamTimeout: d(config.conntrack.udpStreamTimeoutMs),
      udpTimeout: d(config.conntrack.udpTimeoutMs),
    },
    detectLocal: { bridgeInterface: config.podBridgeInterface ?? '', interfaceNamePrefix: config.podInterfaceNamePrefix ?? '' },
    detectLocalMode: config.detectLocalMode,
    featureGates: { ...config.featureGates },
    healthzBindAddress: config.healthzBindAddress ? formatHostPort(config.healthzBindAddress) : '',
    hostnameOverride: config.hostnameOverride ?? '',
    // The sync periods of iptables/nftables mode; IPVS mode has its own section.
    iptables: { localhostNodePorts: config.localhostNodePorts, masqueradeAll: config.masqueradeAll, masqueradeBit: config.masqueradeBit, ...sync },
    ipvs: {
      minSyncPeriod: d(config.ipvs.minSyncPeriodMs),
      scheduler: config.ipvs.scheduler,
      strictARP: config.ipvs.strictARP,
      syncPeriod: d(config.ipvs.syncPeriodMs),
      tcpFinTimeout: d(config.ipvs.tcpFinTimeoutMs),
      tcpTimeout: d(config.ipvs.tcpTimeoutMs),
      udpTimeout: d(config.ipvs.udpTimeoutMs),
    },
    logging: { verbosity: config.verbosity },
    metricsBindAddress: config.metricsBindAddress ? formatHostPort(config.metricsBindAddress) : '',
    mode: config.proxyMode,
    nftables: { masqueradeAll: config.masqueradeAll, masqueradeBit: config.masqueradeBit, ...sync },
    nodePortAddresses: config.nodePortAddresses === undefined ? null : config.nodePortAddresses === 'primary' ? ['primary'] : [...config.nodePortAddresses],
    oomScoreAdj: config.oomScoreAdj,
  };
};

export const renderKubeProxyConfiguration = (config: Config): string => {
  const doc = new Document(kubeProxyConfiguration(config));
  const lines = ['Written by switchyard --write-config-to; read it back with --config.'];
  const flags = flagsWithoutField(config);
  if (flags.length > 0) lines.push('Settings without a field here (pass them as flags beside --config):', ...flags.map((f) => `  ${f}`));
  doc.commentBefore = lines.map((l) => ` ${l}`).join('\n');
  return doc.toString();
};
