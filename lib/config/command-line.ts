/**
 * argv (+ optional --config file) → one validated ParsedCommand. Commander does the tokenising; every value goes
 * through the shared parsers so a flag and its config-file field accept the same forms. Commander never exits the
 * process except after printing --help; every other problem becomes one SwitchyardError line for the caller.
 */
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { SwitchyardError } from '../errors.ts';
import { COMPAT_FLAGS, compatFlagName, normalizeFlagNames, type CompatFlag } from './compat-flags.ts';
import { fileProxyMode, parseConfigFile, settingsFromFile } from './config-file.ts';
import { FLAG_SPECS, logLevelForVerbosity, type AnyFlagSpec, type SettingsPatch } from './settings.ts';
import { DEFAULTS, type Config } from './types.ts';
import { formatDuration, isDnsSubdomain, isInterfaceName, isIPLiteral, ValueError } from './values.ts';

export type ParsedCommand =
  | { readonly command: 'run'; readonly config: Config; readonly warnings: readonly string[] }
  | { readonly command: 'cleanup'; readonly config: Config; readonly warnings: readonly string[] }
  | {
      readonly command: 'plan';
      readonly config: Config;
      readonly output: 'table' | 'json';
      readonly warnings: readonly string[];
    }
  | { readonly command: 'demo'; readonly config: Config; readonly warnings: readonly string[] }
  | { readonly command: 'init-only'; readonly config: Config; readonly warnings: readonly string[] }
  | { readonly command: 'write-config'; readonly config: Config; readonly path: string; readonly warnings: readonly string[] }
  | { readonly command: 'version'; readonly config: Config; readonly warnings: readonly string[] };

export interface CommandLineIO {
  readFile(path: string): Promise<string>;
  /** Where --help goes (default: stdout). */
  writeOut?(text: string): void;
  /** Called after --help was printed (default: process.exit). */
  exit?(code: number): void;
}

const defaultIO: CommandLineIO = { readFile: (path) => readFile(path, 'utf8') };

const flagError = (message: string): SwitchyardError => new SwitchyardError('ERR_FLAG_INVALID', message);

/** The long name of a flag spec, e.g. `--proxy-mode`. */
const longName = (spec: AnyFlagSpec): string => /--[\w-]+/.exec(spec.flags)![0];

interface Invocation {
  command: 'run' | 'plan' | 'demo';
  output: string;
}

interface Program {
  readonly program: Command;
  readonly options: Map<AnyFlagSpec, Option>;
  readonly compat: Map<CompatFlag, Option>;
}

const buildProgram = (io: CommandLineIO, invocation: Invocation): Program => {
  const program = new Command('switchyard')
    .description('kube-proxy replacement (nftables, iptables, IPVS) with an embedded Ingress proxy')
    .usage('[flags] [plan|demo]')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => (io.writeOut ? io.writeOut(s) : process.stdout.write(s)),
      writeErr: () => undefined,
      outputError: () => undefined,
    });
  const options = new Map<AnyFlagSpec, Option>();
  for (const spec of FLAG_SPECS) {
    const option = new Option(spec.flags, spec.description).default(spec.defaultText, spec.defaultText);
    program.addOption(option);
    options.set(spec, option);
  }
  const compat = new Map<CompatFlag, Option>();
  for (const flag of COMPAT_FLAGS) {
    const option = new Option(flag.flags, `kube-proxy compatibility, no effect: ${flag.why}`).default(flag.defaultText, flag.defaultText);
    program.addOption(option);
    compat.set(flag, option);
  }
  program.action(() => {
    invocation.command = 'run';
  });
  program
    .command('plan')
    .description('print what would be programmed for the objects in --manifests DIR (no kernel changes), then exit')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table', 'table'))
    .addHelpText('after', '\nEvery switchyard flag (see switchyard --help) applies too, e.g. --manifests DIR, --hostname-override NAME.')
    .exitOverride()
    .action((opts: { output: string }) => {
      invocation.command = 'plan';
      invocation.output = opts.output;
    });
  program
    .command('demo')
    .description('run the example topology in network namespaces and show traffic being served, then exit')
    .exitOverride()
    .action(() => {
      invocation.command = 'demo';
    });
  return { program, options, compat };
};

const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** Commander's message, as one line without its "error: " prefix. */
const commanderMessage = (e: CommanderError): string => {
  const oneLine = e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
  if (e.code === 'commander.excessArguments' || e.code === 'commander.unknownCommand') {
    return `${oneLine} (commands: plan, demo; flags start with --)`;
  }
  return oneLine.replace(/^unknown option/, 'unknown flag');
};

/**
 * Parses the user arguments (`process.argv.slice(2)`: no node binary, no script path) and the --config file they
 * name. Throws SwitchyardError ERR_FLAG_INVALID / ERR_CONFIG_INVALID with one line naming the flag or file field.
 */
export async function parseCommandLine(
  argv: readonly string[],
  io: CommandLineIO = defaultIO,
): Promise<ParsedCommand> {
  const invocation: Invocation = { command: 'run', output: 'table' };
  const { program, options, compat } = buildProgram(io, invocation);
  try {
    // `switchyard help [plan]` reads as `switchyard [plan] --help`.
    const args = normalizeFlagNames(argv[0] === 'help' ? [...argv.slice(1), '--help'] : argv);
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (HELP_CODES.has(e.code)) {
      (io.exit ?? process.exit)(0);
    }
    throw flagError(commanderMessage(e));
  }

  // Flags given on the command line; the first spec in the table wins when a flag and its alias are both given.
  const cli: SettingsPatch = {};
  const values = program.opts();
  for (const [spec, option] of options) {
    const name = option.attributeName();
    if (program.getOptionValueSource(name) !== 'cli' || spec.key in cli) continue;
    const raw = values[name] as string | true;
    try {
      (cli as Record<string, unknown>)[spec.key] = spec.parse(raw);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      throw flagError(`invalid value for ${longName(spec)}: ${JSON.stringify(raw)} (expected ${err.expected})`);
    }
  }
  // Compatibility-only flags: the value is checked now, whether it matters once the config is known.
  const compatGiven: [CompatFlag, string][] = [];
  for (const [flag, option] of compat) {
    const name = option.attributeName();
    if (program.getOptionValueSource(name) !== 'cli') continue;
    const raw = values[name] === true ? 'true' : String(values[name]);
    try {
      flag.check(raw);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      throw flagError(`invalid value for ${compatFlagName(flag)}: ${JSON.stringify(raw)} (expected ${err.expected})`);
    }
    compatGiven.push([flag, raw]);
  }
  if (invocation.command === 'plan' && invocation.output !== 'table' && invocation.output !== 'json') {
    throw flagError(`invalid value for --output: ${JSON.stringify(invocation.output)} (expected table or json)`);
  }
  for (const [key, name] of [['cleanup', '--cleanup'], ['initOnly', '--init-only'], ['writeConfigTo', '--write-config-to']] as const) {
    if (cli[key] && invocation.command !== 'run') throw flagError(`${name} cannot be combined with the ${invocation.command} command`);
  }
  if (cli.configFile === '') throw flagError('invalid value for --config: "" (expected a file path)');
  if (cli.manifestsDir === '') throw flagError('invalid value for --manifests: "" (expected a directory)');

  const warnings: string[] = [];
  let file: SettingsPatch = {};
  let fileSet = new Set<string>();
  if (cli.configFile !== undefined) {
    const path = cli.configFile;
    let text: string;
    try {
      text = await io.readFile(path);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new SwitchyardError('ERR_CONFIG_INVALID', `cannot read --config ${path}: ${reason}`);
    }
    const parsed = parseConfigFile(path, text);
    warnings.push(...parsed.warnings);
    const mode = cli.proxyMode ?? fileProxyMode(path, parsed.file) ?? DEFAULTS.proxyMode;
    const mapped = settingsFromFile(path, parsed.file, mode);
    warnings.push(...mapped.warnings);
    file = mapped.patch;
    fileSet = new Set(Object.keys(file));
  }

  const config = buildConfig(cli, file, fileSet, warnings);
  for (const [flag, raw] of compatGiven) {
    if (flag.matters?.(raw, config) ?? true) {
      warnings.push(`${compatFlagName(flag)}=${raw} is accepted for kube-proxy compatibility and has no effect: ${flag.why}`);
    }
  }
  if (cli.version) return { command: 'version', config, warnings };
  if (config.writeConfigTo !== undefined) return { command: 'write-config', config, path: config.writeConfigTo, warnings };
  switch (invocation.command) {
    case 'plan':
      return { command: 'plan', config, output: invocation.output as 'table' | 'json', warnings };
    case 'demo':
      return { command: 'demo', config, warnings };
    default:
      if (config.cleanup) return { command: 'cleanup', config, warnings };
      return config.initOnly ? { command: 'init-only', config, warnings } : { command: 'run', config, warnings };
  }
}

/** Merges flags over the file over defaults, checks cross-field rules and appends warnings. */
const buildConfig = (cli: SettingsPatch, file: SettingsPatch, fromFile: ReadonlySet<string>, warnings: string[]): Config => {
  const s: SettingsPatch = { ...file, ...cli };
  /** Error with the right code for where the offending setting came from. */
  const fail = (keys: readonly (keyof SettingsPatch)[], message: string): never => {
    const byFlag = keys.some((k) => k in cli) || !keys.some((k) => fromFile.has(k));
    throw new SwitchyardError(byFlag ? 'ERR_FLAG_INVALID' : 'ERR_CONFIG_INVALID', message);
  };

  const proxyMode = s.proxyMode ?? DEFAULTS.proxyMode;
  const ipvsMode = proxyMode === 'ipvs';
  const syncPeriodMs = ipvsMode
    ? (cli.syncPeriodMs ?? s.ipvsSyncPeriodMs ?? s.syncPeriodMs ?? DEFAULTS.syncPeriodMs)
    : (s.syncPeriodMs ?? DEFAULTS.syncPeriodMs);
  const minSyncPeriodMs = ipvsMode
    ? (cli.minSyncPeriodMs ?? s.ipvsMinSyncPeriodMs ?? s.minSyncPeriodMs ?? DEFAULTS.ipvsMinSyncPeriodMs)
    : (s.minSyncPeriodMs ?? DEFAULTS.minSyncPeriodMs);
  if (syncPeriodMs <= 0) fail(['syncPeriodMs', 'ipvsSyncPeriodMs'], 'invalid value for --sync-period: must be greater than 0');
  if (minSyncPeriodMs > syncPeriodMs) {
    fail(
      ['minSyncPeriodMs', 'syncPeriodMs', 'ipvsMinSyncPeriodMs', 'ipvsSyncPeriodMs'],
      `min sync period ${formatDuration(minSyncPeriodMs)} is longer than sync period ${formatDuration(syncPeriodMs)} (--min-sync-period must not exceed --sync-period)`,
    );
  }

  const clusterCIDRs = s.clusterCIDRs ?? [];
  const families = clusterCIDRs.map((c) => (c.includes(':') ? 6 : 4));
  if (clusterCIDRs.length > 2 || (families.length === 2 && families[0] === families[1])) {
    fail(['clusterCIDRs'], `invalid value for --cluster-cidr: ${JSON.stringify(clusterCIDRs.join(','))} (expected one CIDR, or one IPv4 and one IPv6 CIDR)`);
  }

  let hostnameOverride = s.hostnameOverride?.trim().toLowerCase();
  if (hostnameOverride === '') hostnameOverride = undefined;
  if (hostnameOverride !== undefined && !isDnsSubdomain(hostnameOverride)) {
    fail(['hostnameOverride'], `invalid value for --hostname-override: ${JSON.stringify(s.hostnameOverride)} (expected a DNS subdomain, the shape of a Node name)`);
  }

  const statusAddress = s.ingressStatusAddress?.trim() || undefined;
  if (statusAddress !== undefined && !isIPLiteral(statusAddress) && !isDnsSubdomain(statusAddress.toLowerCase())) {
    fail(['ingressStatusAddress'], `invalid value for --ingress-status-address: ${JSON.stringify(statusAddress)} (expected an IP or a DNS name)`);
  }
  const connectTimeoutMs = s.ingressUpstreamConnectTimeoutMs ?? DEFAULTS.ingressUpstream.connectTimeoutMs;
  if (connectTimeoutMs <= 0) fail(['ingressUpstreamConnectTimeoutMs'], 'invalid value for --ingress-upstream-connect-timeout: must be greater than 0');

  const keepAliveTimeoutMs = s.ingressKeepAliveTimeoutMs ?? DEFAULTS.ingressKeepAliveTimeoutMs;
  if (keepAliveTimeoutMs <= 0) fail(['ingressKeepAliveTimeoutMs'], 'invalid value for --ingress-keepalive-timeout: must be greater than 0');

  const detectLocalMode = s.detectLocalMode ?? DEFAULTS.detectLocalMode;
  const podBridgeInterface = s.podBridgeInterface?.trim() || undefined;
  const podInterfaceNamePrefix = s.podInterfaceNamePrefix?.trim() || undefined;
  for (const [key, flag, value] of [
    ['podBridgeInterface', '--pod-bridge-interface', podBridgeInterface],
    ['podInterfaceNamePrefix', '--pod-interface-name-prefix', podInterfaceNamePrefix],
  ] as const) {
    if (value !== undefined && !isInterfaceName(value)) {
      fail([key], `invalid value for ${flag}: ${JSON.stringify(value)} (expected an interface name: at most 15 characters, no "/", whitespace or ":")`);
    }
  }
  if (detectLocalMode === 'BridgeInterface' && podBridgeInterface === undefined) {
    fail(['detectLocalMode', 'podBridgeInterface'], '--detect-local-mode BridgeInterface needs --pod-bridge-interface (detectLocal.bridgeInterface)');
  }
  if (detectLocalMode === 'InterfaceNamePrefix' && podInterfaceNamePrefix === undefined) {
    fail(['detectLocalMode', 'podInterfaceNamePrefix'], '--detect-local-mode InterfaceNamePrefix needs --pod-interface-name-prefix (detectLocal.interfaceNamePrefix)');
  }

  const masqueradeBit = s.masqueradeBit ?? DEFAULTS.masqueradeBit;
  if (proxyMode === 'ipvs' && masqueradeBit === 15) {
    fail(['masqueradeBit', 'proxyMode'], '--iptables-masquerade-bit 15 is the bit IPVS mode marks connections to drop with; pick another');
  }

  const verbosity = s.verbosity ?? DEFAULTS.verbosity;
  const featureGates = s.featureGates ?? {};
  if (Object.keys(featureGates).length > 0) {
    warnings.push(`feature gates are accepted for compatibility and ignored: ${Object.keys(featureGates).join(', ')}`);
  }
  if (cli.bindAddress) warnings.push(`--bind-address ${cli.bindAddress} is not used by switchyard; ignored`);
  if (s.manifestsDir !== undefined && (s.kubeconfig !== undefined || s.master !== undefined)) {
    warnings.push('--kubeconfig/--master are ignored with --manifests (no API server is used)');
  }
  const ipvsOnly = ['ipvsScheduler', 'ipvsStrictARP', 'ipvsTcpTimeoutMs', 'ipvsTcpFinTimeoutMs', 'ipvsUdpTimeoutMs'] as const;
  if (proxyMode !== 'ipvs' && ipvsOnly.some((key) => cli[key] !== undefined)) {
    warnings.push(`--ipvs-* flags have no effect in ${proxyMode} mode`);
  }

  return {
    proxyMode,
    manifestsDir: s.manifestsDir,
    kubeconfig: s.kubeconfig || undefined,
    master: s.master || undefined,
    hostnameOverride,
    clusterCIDRs,
    detectLocalMode,
    podBridgeInterface,
    podInterfaceNamePrefix,
    nodePortAddresses: s.nodePortAddresses,
    masqueradeAll: s.masqueradeAll ?? false,
    masqueradeBit,
    localhostNodePorts: s.localhostNodePorts ?? true,
    healthzBindAddress: 'healthzBindAddress' in s ? s.healthzBindAddress : DEFAULTS.healthzBindAddress,
    metricsBindAddress: 'metricsBindAddress' in s ? s.metricsBindAddress : DEFAULTS.metricsBindAddress,
    ingressHttpAddress: 'ingressHttpAddress' in s ? s.ingressHttpAddress : DEFAULTS.ingressHttpAddress,
    ingressHttpsAddress: 'ingressHttpsAddress' in s ? s.ingressHttpsAddress : DEFAULTS.ingressHttpsAddress,
    ingressStatusAddress: statusAddress,
    readyFile: s.readyFile?.trim() || undefined,
    ingressUpstream: {
      connectTimeoutMs,
      timeoutMs: s.ingressUpstreamTimeoutMs ?? DEFAULTS.ingressUpstream.timeoutMs,
    },
    ingressKeepAliveTimeoutMs: keepAliveTimeoutMs,
    syncPeriodMs,
    minSyncPeriodMs,
    conntrack: {
      maxPerCore: s.conntrackMaxPerCore ?? DEFAULTS.conntrack.maxPerCore,
      min: s.conntrackMin ?? DEFAULTS.conntrack.min,
      tcpEstablishedTimeoutMs: s.conntrackTcpEstablishedTimeoutMs ?? DEFAULTS.conntrack.tcpEstablishedTimeoutMs,
      tcpCloseWaitTimeoutMs: s.conntrackTcpCloseWaitTimeoutMs ?? DEFAULTS.conntrack.tcpCloseWaitTimeoutMs,
      tcpBeLiberal: s.conntrackTcpBeLiberal ?? DEFAULTS.conntrack.tcpBeLiberal,
      udpTimeoutMs: s.conntrackUdpTimeoutMs ?? DEFAULTS.conntrack.udpTimeoutMs,
      udpStreamTimeoutMs: s.conntrackUdpStreamTimeoutMs ?? DEFAULTS.conntrack.udpStreamTimeoutMs,
    },
    ipvs: {
      scheduler: s.ipvsScheduler ?? DEFAULTS.ipvsScheduler,
      syncPeriodMs: ipvsMode ? syncPeriodMs : (s.ipvsSyncPeriodMs ?? DEFAULTS.syncPeriodMs),
      minSyncPeriodMs: ipvsMode ? minSyncPeriodMs : (s.ipvsMinSyncPeriodMs ?? DEFAULTS.ipvsMinSyncPeriodMs),
      strictARP: s.ipvsStrictARP ?? false,
      tcpTimeoutMs: s.ipvsTcpTimeoutMs ?? 0,
      tcpFinTimeoutMs: s.ipvsTcpFinTimeoutMs ?? 0,
      udpTimeoutMs: s.ipvsUdpTimeoutMs ?? 0,
    },
    verbosity,
    logLevel: s.logLevel ?? logLevelForVerbosity(verbosity),
    cleanup: s.cleanup ?? false,
    initOnly: s.initOnly ?? false,
    writeConfigTo: s.writeConfigTo?.trim() || undefined,
    oomScoreAdj: s.oomScoreAdj ?? DEFAULTS.oomScoreAdj,
    bindAddressHardFail: s.bindAddressHardFail ?? false,
    featureGates,
  };
};

/** This node's name: --hostname-override, else the OS hostname, trimmed and lowercased as kube-proxy does. */
export const resolveNodeName = (config: Pick<Config, 'hostnameOverride'>, osHostname: string): string =>
  (config.hostnameOverride ?? osHostname).trim().toLowerCase();
