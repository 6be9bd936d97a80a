/**
 * KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) → SettingsPatch. Structure is checked with zod, values
 * with the same parsers the flags use. Zero values that kube-proxy's defaulting replaces (empty strings, `0s`
 * sync periods, as kubeadm writes them) count as "not set". Unknown fields are warnings, not errors, so a config
 * written for a newer kube-proxy still loads.
 */
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { SwitchyardError } from '../errors.ts';
import { parseNodePortAddresses, type SettingsPatch } from './settings.ts';
import { DEFAULTS, DETECT_LOCAL_MODES, IPVS_SCHEDULERS, PROXY_MODES, type ProxyMode } from './types.ts';
import { parseChoice, parseCidrList, parseDuration, parseHostPort, splitList, ValueError } from './values.ts';

export const CONFIG_API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
export const CONFIG_KIND = 'KubeProxyConfiguration';

const str = z.string().nullish();
const bool = z.boolean().nullish();
const int = z.number().int().nullish();
const strings = z.array(z.string()).nullish();
const section = <T extends z.ZodRawShape>(shape: T) => z.object(shape).nullish();

const syncSection = { syncPeriod: str, minSyncPeriod: str, masqueradeAll: bool, masqueradeBit: int };

const FILE_SCHEMA = z.object({
  apiVersion: str,
  kind: str,
  featureGates: z.record(z.string(), z.boolean()).nullish(),
  clientConnection: section({ kubeconfig: str, acceptContentTypes: str, contentType: str, qps: z.number().nullish(), burst: int }),
  logging: section({ verbosity: int, format: str, flushFrequency: z.unknown().optional(), options: z.unknown().optional(), vmodule: z.unknown().optional() }),
  hostnameOverride: str,
  bindAddress: str,
  healthzBindAddress: str,
  metricsBindAddress: str,
  bindAddressHardFail: bool,
  enableProfiling: bool,
  showHiddenMetricsForVersion: str,
  mode: str,
  iptables: section({ ...syncSection, localhostNodePorts: bool, snatNodeInternalIP: bool }),
  nftables: section(syncSection),
  ipvs: section({
    syncPeriod: str,
    minSyncPeriod: str,
    scheduler: str,
    excludeCIDRs: strings,
    strictARP: bool,
    tcpTimeout: str,
    tcpFinTimeout: str,
    udpTimeout: str,
  }),
  winkernel: z.unknown().optional(),
  detectLocalMode: str,
  detectLocal: section({ bridgeInterface: str, interfaceNamePrefix: str }),
  clusterCIDR: str,
  nodePortAddresses: strings,
  oomScoreAdj: int,
  conntrack: section({
    maxPerCore: int,
    min: int,
    tcpEstablishedTimeout: str,
    tcpCloseWaitTimeout: str,
    tcpBeLiberal: bool,
    udpTimeout: str,
    udpStreamTimeout: str,
  }),
  configSyncPeriod: str,
  portRange: str,
  windowsRunAsService: bool,
});
type ConfigFile = z.infer<typeof FILE_SCHEMA>;

export interface ConfigFileResult {
  /** The file's settings, with the sync periods still per dataplane section (see settingsForMode). */
  readonly file: ConfigFile;
  readonly warnings: readonly string[];
}

const invalid = (where: string, message: string): SwitchyardError =>
  new SwitchyardError('ERR_CONFIG_INVALID', `config file ${where}: ${message}`);

/** Unwraps optional/nullable to reach an object schema, if the field is one. */
const objectShape = (schema: z.ZodType): z.ZodRawShape | undefined => {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? s.shape : undefined;
};

const unknownFields = (value: unknown, shape: z.ZodRawShape, path: string): string[] => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const fieldPath = path ? `${path}.${key}` : key;
    const childSchema = shape[key];
    if (childSchema === undefined) return [fieldPath];
    const childShape = objectShape(childSchema as z.ZodType);
    return childShape ? unknownFields(child, childShape, fieldPath) : [];
  });
};

/** Parses and structurally validates the file; throws ERR_CONFIG_INVALID naming the file and field. */
export const parseConfigFile = (path: string, text: string): ConfigFileResult => {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) throw invalid(path, `invalid YAML: ${yamlError.message.split('\n')[0]}`);
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid(path, `expected a ${CONFIG_KIND} mapping, got ${raw === null ? 'an empty document' : typeof raw}`);
  }
  const top = raw as Record<string, unknown>;
  if (top['apiVersion'] !== CONFIG_API_VERSION) {
    throw invalid(path, `field apiVersion: ${JSON.stringify(top['apiVersion'] ?? null)} is not ${CONFIG_API_VERSION}`);
  }
  if (top['kind'] !== CONFIG_KIND) {
    throw invalid(path, `field kind: ${JSON.stringify(top['kind'] ?? null)} is not ${CONFIG_KIND}`);
  }
  const parsed = FILE_SCHEMA.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const got = issue.path.reduce<unknown>((o, k) => (o as Record<PropertyKey, unknown> | undefined)?.[k], raw);
    throw invalid(path, `field ${issue.path.join('.')}: ${JSON.stringify(got)}: ${issue.message}`);
  }
  const warnings = unknownFields(raw, FILE_SCHEMA.shape, '').map(
    (field) => `config file ${path}: unknown field ${field} ignored`,
  );
  return { file: parsed.data, warnings };
};

/** The proxy mode the file asks for ("" = unset), validated. */
export const fileProxyMode = (path: string, file: ConfigFile): ProxyMode | undefined =>
  file.mode ? field(path, 'mode', file.mode, (v) => parseChoice(v, PROXY_MODES)) : undefined;

const field = <T>(path: string, name: string, value: string, parse: (v: string) => T): T => {
  try {
    return parse(value);
  } catch (e) {
    if (e instanceof ValueError) throw invalid(path, `field ${name}: invalid value ${JSON.stringify(value)} (expected ${e.expected})`);
    throw e;
  }
};

/**
 * Maps the file onto settings for the effective proxy mode (flags may have changed the mode, and the sync periods
 * come from that mode's section: nftables (also for `none`), iptables or ipvs).
 */
export const settingsFromFile = (
  path: string,
  file: ConfigFile,
  mode: ProxyMode,
): { readonly patch: SettingsPatch; readonly warnings: readonly string[] } => {
  const patch: SettingsPatch = {};
  const warnings: string[] = [];
  const f = <T>(name: string, value: string, parse: (v: string) => T): T => field(path, name, value, parse);
  /** A duration where 0 means "use the default", as kube-proxy's defaulting treats it. */
  const periodOrUnset = (name: string, value: string | null | undefined): number | undefined => {
    if (!value) return undefined;
    const ms = f(name, value, parseDuration);
    return ms === 0 ? undefined : ms;
  };
  const durationOrUnset = (name: string, value: string | null | undefined): number | undefined =>
    value ? f(name, value, parseDuration) : undefined;

  const set = <K extends keyof SettingsPatch>(key: K, value: SettingsPatch[K] | undefined): void => {
    if (value !== undefined) patch[key] = value;
  };

  if (file.clientConnection?.kubeconfig) set('kubeconfig', file.clientConnection.kubeconfig);
  if (file.hostnameOverride) set('hostnameOverride', file.hostnameOverride.trim());
  if (file.mode) set('proxyMode', fileProxyMode(path, file));
  if (file.bindAddress && !['0.0.0.0', '::'].includes(file.bindAddress)) {
    warnings.push(`config file ${path}: field bindAddress (${file.bindAddress}) is not used by switchyard; ignored`);
  }
  // Empty bind addresses in the file mean "default" (kubeadm writes them empty), unlike an empty flag.
  if (file.healthzBindAddress) {
    set('healthzBindAddress', f('healthzBindAddress', file.healthzBindAddress, (v) => parseHostPort(v, DEFAULTS.healthzBindAddress.port)));
  }
  if (file.metricsBindAddress) {
    set('metricsBindAddress', f('metricsBindAddress', file.metricsBindAddress, (v) => parseHostPort(v, DEFAULTS.metricsBindAddress.port)));
  }
  if (file.clusterCIDR) set('clusterCIDRs', f('clusterCIDR', file.clusterCIDR, (v) => parseCidrList(splitList(v))));
  if (file.nodePortAddresses && file.nodePortAddresses.length > 0) {
    const list = file.nodePortAddresses;
    set('nodePortAddresses', f('nodePortAddresses', list.join(','), () => parseNodePortAddresses(list)));
  }
  if (file.iptables?.masqueradeAll || file.nftables?.masqueradeAll) set('masqueradeAll', true);
  if (file.iptables?.localhostNodePorts != null) set('localhostNodePorts', file.iptables.localhostNodePorts);
  // kube-proxy reads the bit from iptables for iptables and IPVS modes, from nftables for nftables mode.
  const bitSection = mode === 'nftables' || mode === 'none' ? 'nftables' : 'iptables';
  const bit = file[bitSection]?.masqueradeBit;
  if (bit != null) {
    if (bit < 0 || bit > 31) throw invalid(path, `field ${bitSection}.masqueradeBit: invalid value ${bit} (expected an integer 0-31)`);
    set('masqueradeBit', bit);
  }

  const syncSectionName = mode === 'iptables' ? 'iptables' : mode === 'ipvs' ? 'ipvs' : 'nftables';
  const syncSource = file[syncSectionName];
  set('syncPeriodMs', periodOrUnset(`${syncSectionName}.syncPeriod`, syncSource?.syncPeriod));
  set('minSyncPeriodMs', periodOrUnset(`${syncSectionName}.minSyncPeriod`, syncSource?.minSyncPeriod));

  if (file.ipvs) {
    if (file.ipvs.scheduler) set('ipvsScheduler', f('ipvs.scheduler', file.ipvs.scheduler, (v) => parseChoice(v, IPVS_SCHEDULERS)));
    set('ipvsSyncPeriodMs', periodOrUnset('ipvs.syncPeriod', file.ipvs.syncPeriod));
    set('ipvsMinSyncPeriodMs', durationOrUnset('ipvs.minSyncPeriod', file.ipvs.minSyncPeriod));
    if (file.ipvs.strictARP != null) set('ipvsStrictARP', file.ipvs.strictARP);
    set('ipvsTcpTimeoutMs', durationOrUnset('ipvs.tcpTimeout', file.ipvs.tcpTimeout));
    set('ipvsTcpFinTimeoutMs', durationOrUnset('ipvs.tcpFinTimeout', file.ipvs.tcpFinTimeout));
    set('ipvsUdpTimeoutMs', durationOrUnset('ipvs.udpTimeout', file.ipvs.udpTimeout));
  }

  const ct = file.conntrack;
  if (ct) {
    const nonNegative = (name: string, v: number | null | undefined): number | undefined => {
      if (v == null) return undefined;
      if (v < 0) throw invalid(path, `field ${name}: invalid value ${v} (expected an integer >= 0)`);
      return v;
    };
    set('conntrackMaxPerCore', nonNegative('conntrack.maxPerCore', ct.maxPerCore));
    set('conntrackMin', nonNegative('conntrack.min', ct.min));
    set('conntrackTcpEstablishedTimeoutMs', durationOrUnset('conntrack.tcpEstablishedTimeout', ct.tcpEstablishedTimeout));
    set('conntrackTcpCloseWaitTimeoutMs', durationOrUnset('conntrack.tcpCloseWaitTimeout', ct.tcpCloseWaitTimeout));
    if (ct.tcpBeLiberal != null) set('conntrackTcpBeLiberal', ct.tcpBeLiberal);
    set('conntrackUdpTimeoutMs', durationOrUnset('conntrack.udpTimeout', ct.udpTimeout));
    set('conntrackUdpStreamTimeoutMs', durationOrUnset('conntrack.udpStreamTimeout', ct.udpStreamTimeout));
  }

  if (file.detectLocalMode) set('detectLocalMode', f('detectLocalMode', file.detectLocalMode, (v) => parseChoice(v, DETECT_LOCAL_MODES)));
  if (file.detectLocal?.bridgeInterface) set('podBridgeInterface', file.detectLocal.bridgeInterface);
  if (file.detectLocal?.interfaceNamePrefix) set('podInterfaceNamePrefix', file.detectLocal.interfaceNamePrefix);
  if (file.logging?.verbosity != null) {
    const v = file.logging.verbosity;
    if (v < 0) throw invalid(path, `field logging.verbosity: invalid value ${v} (expected an integer >= 0)`);
    set('verbosity', Math.min(v, 10));
  }
  if (file.featureGates && Object.keys(file.featureGates).length > 0) set('featureGates', file.featureGates);
  if (file.oomScoreAdj != null) {
    const v = file.oomScoreAdj;
    if (v < -1000 || v > 1000) throw invalid(path, `field oomScoreAdj: invalid value ${v} (expected an integer -1000-1000)`);
    set('oomScoreAdj', v);
  }
  if (file.bindAddressHardFail != null) set('bindAddressHardFail', file.bindAddressHardFail);
  warnings.push(...fieldsWithoutEffect(file).map((what) => `config file ${path}: ${what}`));
  return { patch, warnings };
};

/**
 * kube-proxy fields switchyard reads but does not act on, named when their value asks for something (kubeadm writes
 * most of them with zero or default values, which pass quietly). The matching flags: lib/config/compat-flags.ts.
 */
const fieldsWithoutEffect = (file: ConfigFile): string[] => {
  const out: string[] = [];
  const noEffect = (field: string, value: unknown, why: string): void => {
    out.push(`field ${field} (${JSON.stringify(value)}) has no effect: ${why}`);
  };
  if (file.enableProfiling) noEffect('enableProfiling', true, 'there are no pprof endpoints');
  if (file.logging?.format === 'text') noEffect('logging.format', 'text', 'logs are always JSON lines');
  if (file.portRange) noEffect('portRange', file.portRange, "it belonged to kube-proxy's removed userspace mode");
  return out;
};
