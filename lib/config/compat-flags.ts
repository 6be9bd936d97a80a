/**
 * kube-proxy flags that switchyard accepts so that a kube-proxy DaemonSet's command line keeps working when only the
 * image is swapped, but that change nothing here. A malformed value is still refused (as kube-proxy would), and a
 * warning names the flag when the value asks for something switchyard does not do; values that would change nothing
 * in kube-proxy's place either (its defaults, log formatting knobs) pass quietly.
 */
import type { Config } from './types.ts';
import { parseBool, parseChoice, parseCidrList, parseDuration, parseIntInRange, splitList, ValueError } from './values.ts';

export interface CompatFlag {
  /** Commander syntax; `[bool]` flags also take `--flag=false`. */
  readonly flags: string;
  readonly defaultText: string;
  /** Why it changes nothing here: help text and warning. */
  readonly why: string;
  /** Throws ValueError for a malformed value. */
  readonly check: (raw: string) => void;
  /** Whether this value asks for something switchyard does not do (then a warning); omitted = always. */
  readonly matters?: (raw: string, config: Config) => boolean;
}

const never = (): boolean => false;
const anyText = (): void => undefined;
const duration = (raw: string): void => void parseDuration(raw);
const boolean = (raw: string): void => void parseBool(raw);
const nonNegative = (raw: string): void => void parseIntInRange(raw, 0, 2 ** 31 - 1);
const nonEmpty = (raw: string): boolean => raw.trim() !== '';

const qps = (raw: string): void => {
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(raw.trim())) throw new ValueError('a non-negative number');
};

const FILES = 'logs are JSON lines on stderr, never written to files';
const HEADERS = 'JSON log lines carry no klog header';
const API = 'the API is only read through list/watch streams (and Ingress status writes), which switchyard does not rate-limit';

export const COMPAT_FLAGS: readonly CompatFlag[] = [
  { flags: '--config-sync-period <duration>', defaultText: '15m0s', why: 'watches are continuous; there is no periodic re-list to tune', check: duration, matters: never },
  { flags: '--kube-api-qps <qps>', defaultText: '5', why: API, check: qps, matters: never },
  { flags: '--kube-api-burst <n>', defaultText: '10', why: API, check: nonNegative, matters: never },
  { flags: '--kube-api-content-type <type>', defaultText: 'application/vnd.kubernetes.protobuf', why: 'the API is read as JSON', check: anyText, matters: never },
  { flags: '--profiling [bool]', defaultText: 'false', why: 'there are no pprof endpoints (profile with node --cpu-prof)', check: boolean, matters: parseBool },
  { flags: '--show-hidden-metrics-for-version <version>', defaultText: 'none', why: 'no metric is hidden', check: anyText, matters: never },
  {
    flags: '--ipvs-exclude-cidrs <cidrs>',
    defaultText: 'none',
    why: 'switchyard only ever removes IPVS virtual servers on addresses it assigned itself',
    check: (raw) => void parseCidrList(splitList(raw)),
    matters: never,
  },
  // klog's flags, which kube-proxy still registers (pflag also reads them with underscores: --log_file).
  { flags: '--logtostderr [bool]', defaultText: 'true', why: FILES, check: boolean, matters: (raw) => !parseBool(raw) },
  { flags: '--alsologtostderr [bool]', defaultText: 'false', why: FILES, check: boolean, matters: never },
  { flags: '--log-dir <dir>', defaultText: 'none', why: FILES, check: anyText, matters: nonEmpty },
  { flags: '--log-file <file>', defaultText: 'none', why: FILES, check: anyText, matters: nonEmpty },
  { flags: '--log-file-max-size <mb>', defaultText: '1800', why: FILES, check: nonNegative, matters: never },
  { flags: '--stderrthreshold <severity>', defaultText: '2', why: FILES, check: anyText, matters: never },
  { flags: '--skip-headers [bool]', defaultText: 'false', why: HEADERS, check: boolean, matters: never },
  { flags: '--skip-log-headers [bool]', defaultText: 'false', why: HEADERS, check: boolean, matters: never },
  { flags: '--add-dir-header [bool]', defaultText: 'false', why: HEADERS, check: boolean, matters: never },
  { flags: '--one-output [bool]', defaultText: 'false', why: FILES, check: boolean, matters: never },
  { flags: '--log-backtrace-at <file:line>', defaultText: 'none', why: 'no stack traces are logged on demand', check: anyText, matters: nonEmpty },
  { flags: '--vmodule <pattern=N,...>', defaultText: 'none', why: 'there is no per-file verbosity: use --v or --log-level', check: anyText, matters: nonEmpty },
  { flags: '--log-flush-frequency <duration>', defaultText: '5s', why: 'log lines are written as they happen', check: duration, matters: never },
  {
    flags: '--logging-format <format>',
    defaultText: 'text',
    why: 'logs are always JSON lines',
    check: (raw) => void parseChoice(raw, ['text', 'json']),
    matters: (raw) => raw.trim() === 'text',
  },
  { flags: '--log-json-split-stream [bool]', defaultText: 'false', why: 'all log lines go to stderr', check: boolean, matters: never },
  { flags: '--log-json-info-buffer-size <size>', defaultText: '0', why: 'log lines are written as they happen', check: anyText, matters: never },
  { flags: '--log-text-split-stream [bool]', defaultText: 'false', why: 'all log lines go to stderr', check: boolean, matters: never },
  { flags: '--log-text-info-buffer-size <size>', defaultText: '0', why: 'log lines are written as they happen', check: anyText, matters: never },
  { flags: '--boot-id-file <files>', defaultText: '/proc/sys/kernel/random/boot_id', why: 'the boot id is not used', check: anyText, matters: never },
];

/** The long name of a flag, e.g. `--kube-api-qps`. */
export const compatFlagName = (flag: CompatFlag): string => /--[\w-]+/.exec(flag.flags)![0];

/**
 * kube-proxy reads `--log_file` as `--log-file` (pflag's word-separator normalisation); so do we. Only flag names are
 * rewritten, never values, and nothing after a bare `--`.
 */
export const normalizeFlagNames = (argv: readonly string[]): string[] => {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => {
    if ((end >= 0 && i >= end) || !arg.startsWith('--') || arg === '--') return arg;
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    return name.replaceAll('_', '-') + (eq < 0 ? '' : arg.slice(eq));
  });
};
