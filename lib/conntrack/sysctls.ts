/**
 * The conntrack sysctls kube-proxy sets from KubeProxyConfiguration.conntrack, and setSysctl, which every sysctl
 * switchyard sets goes through. A value that cannot be written (several are read-only outside the initial network
 * namespace, /proc/sys may be mounted read-only) is a warning, never fatal.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { ConntrackConfig } from '../config/types.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export const PROC_SYS = '/proc/sys';
export const CONNTRACK_MAX = 'net/netfilter/nf_conntrack_max';
/** Global, not per namespace: only written when nf_conntrack_max was (i.e. in the initial namespace). */
export const HASHSIZE_PATH = '/sys/module/nf_conntrack/parameters/hashsize';

export interface SysctlSetting {
  /** Relative to /proc/sys. */
  readonly name: string;
  readonly value: number;
}

/** What to set (pure). nf_conntrack_max = max(maxPerCore × cores, min); a zero setting leaves the kernel alone. */
export const conntrackSysctls = (config: ConntrackConfig, cores: number): SysctlSetting[] => {
  const out: SysctlSetting[] = [];
  if (config.maxPerCore > 0) out.push({ name: CONNTRACK_MAX, value: Math.max(config.maxPerCore * cores, config.min) });
  const seconds = (ms: number): number => Math.floor(ms / 1000);
  if (config.tcpEstablishedTimeoutMs > 0) {
    out.push({ name: 'net/netfilter/nf_conntrack_tcp_timeout_established', value: seconds(config.tcpEstablishedTimeoutMs) });
  }
  if (config.tcpCloseWaitTimeoutMs > 0) {
    out.push({ name: 'net/netfilter/nf_conntrack_tcp_timeout_close_wait', value: seconds(config.tcpCloseWaitTimeoutMs) });
  }
  if (config.tcpBeLiberal) out.push({ name: 'net/netfilter/nf_conntrack_tcp_be_liberal', value: 1 });
  if (config.udpTimeoutMs > 0) out.push({ name: 'net/netfilter/nf_conntrack_udp_timeout', value: seconds(config.udpTimeoutMs) });
  if (config.udpStreamTimeoutMs > 0) {
    out.push({ name: 'net/netfilter/nf_conntrack_udp_timeout_stream', value: seconds(config.udpStreamTimeoutMs) });
  }
  return out;
};

/** Reading and writing kernel parameter files (absolute paths). */
export interface KernelParams {
  read(path: string): Promise<string>;
  write(path: string, value: string): Promise<void>;
}

export const procKernelParams: KernelParams = {
  read: (path) => readFile(path, 'utf8'),
  write: (path, value) => writeFile(path, value),
};

/** An in-memory KernelParams; paths in `readOnly` reject writes with EROFS/EACCES like the kernel. */
export class FakeKernelParams implements KernelParams {
  readonly values = new Map<string, string>();
  readonly readOnly = new Set<string>();
  readonly writes: { path: string; value: string }[] = [];

  read(path: string): Promise<string> {
    const value = this.values.get(path);
    return value === undefined ? Promise.reject(Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })) : Promise.resolve(`${value}\n`);
  }

  write(path: string, value: string): Promise<void> {
    if (this.readOnly.has(path) || !this.values.has(path)) {
      return Promise.reject(Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' }));
    }
    this.values.set(path, value);
    this.writes.push({ path, value });
    return Promise.resolve();
  }
}

export interface SysctlReport {
  readonly written: readonly string[];
  readonly unchanged: readonly string[];
  readonly warnings: readonly string[];
}

export type SysctlOutcome = { readonly result: 'written' | 'unchanged' } | { readonly result: 'failed'; readonly warning: string };

/**
 * Sets one sysctl when its value differs, logging what it did; a failure is a logged warning, never a throw.
 * `why` follows the info line; `atStake` (default: leaving it as it is) follows the warning.
 */
export const setSysctl = async (
  params: KernelParams,
  { name, value }: SysctlSetting,
  logger: Logger,
  words: { readonly why?: string; readonly atStake?: string } = {},
): Promise<SysctlOutcome> => {
  const path = `${PROC_SYS}/${name}`;
  try {
    const current = Number((await params.read(path)).trim());
    if (current === value) return { result: 'unchanged' };
    await params.write(path, String(value));
    logger.info({ sysctl: name, value, previous: current }, `set ${name} to ${value}${words.why ? `: ${words.why}` : ''}`);
    return { result: 'written' };
  } catch (e) {
    const warning = `cannot set ${name} to ${value} (${describeError(e)}); ${words.atStake ?? 'leaving it as it is'}`;
    logger.warn({ sysctl: name, value, err: describeError(e) }, warning);
    return { result: 'failed', warning };
  }
};

/** Applies the settings, writing only values that differ; every failure becomes a logged warning. */
export const applyConntrackSysctls = async (
  config: ConntrackConfig,
  cores: number,
  params: KernelParams,
  logger: Logger,
): Promise<SysctlReport> => {
  const written: string[] = [];
  const unchanged: string[] = [];
  const warnings: string[] = [];
  let maxWritten = false;
  for (const setting of conntrackSysctls(config, cores)) {
    const outcome = await setSysctl(params, setting, logger);
    if (outcome.result === 'failed') {
      warnings.push(outcome.warning);
      continue;
    }
    (outcome.result === 'written' ? written : unchanged).push(setting.name);
    if (setting.name === CONNTRACK_MAX) maxWritten = true;
  }
  // kube-proxy keeps the hash table at least max/4 buckets; the parameter is global, so only when max itself could
  // be written (initial network namespace).
  const max = conntrackSysctls(config, cores).find((s) => s.name === CONNTRACK_MAX)?.value;
  if (max !== undefined && maxWritten) {
    try {
      const hashsize = Number((await params.read(HASHSIZE_PATH)).trim());
      if (hashsize < Math.floor(max / 4)) {
        await params.write(HASHSIZE_PATH, String(Math.floor(max / 4)));
        written.push(HASHSIZE_PATH);
      }
    } catch (e) {
      const warning = `cannot raise ${HASHSIZE_PATH} to ${Math.floor(max / 4)} (${describeError(e)})`;
      warnings.push(warning);
      logger.warn({ err: describeError(e) }, warning);
    }
  }
  return { written, unchanged, warnings };
};
