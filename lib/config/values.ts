/**
 * Parsers for the value forms flags and the config file share: Go durations, HOST:PORT bind addresses, CIDRs,
 * booleans and bounded integers. Each returns the typed value or throws ValueError saying what was expected; the
 * caller adds where the value came from (a flag name or a config-file field path).
 */
import ipaddr from 'ipaddr.js';

export class ValueError extends Error {
  readonly expected: string;
  constructor(expected: string) {
    super(expected);
    this.expected = expected;
    this.name = 'ValueError';
  }
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
const DURATION_EXPECTED = 'a non-negative Go duration such as 500ms, 30s, 1m30s or 1h';

/** A Go `time.Duration` string (`30s`, `1m30s`, `500ms`, `0`) → milliseconds. Negative durations are rejected. */
export const parseDuration = (text: string): number => {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '' || s.startsWith('-')) throw new ValueError(DURATION_EXPECTED);
  let total = 0;
  let at = s.startsWith('+') ? 1 : 0;
  if (at === s.length) throw new ValueError(DURATION_EXPECTED);
  while (at < s.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(s);
    if (!m) throw new ValueError(DURATION_EXPECTED);
    total += Number(m[1]) * (DURATION_UNITS_MS[m[2]!] ?? Number.NaN);
    at = DURATION_PART.lastIndex;
  }
  if (!Number.isFinite(total)) throw new ValueError(DURATION_EXPECTED);
  return Math.round(total * 1000) / 1000;
};

/** Milliseconds → a Go-style duration string, for help text and log lines (`90000` → `1m30s`). */
export const formatDuration = (ms: number): string => {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = ms;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  if (h) return `${h}h${m}m${s}s`;
  return m ? `${m}m${s}s` : `${s}s`;
};

/** A strict IP literal: dotted-quad IPv4 (no octal/short forms, which ipaddr.js alone would accept) or IPv6. */
export const isIPLiteral = (text: string): boolean =>
  ipaddr.IPv4.isValidFourPartDecimal(text) || (ipaddr.IPv6.isValid(text) && !text.includes('%'));

/** `ADDR/LEN` with a strict IP literal and an in-range prefix; returned as written (host bits allowed, as Go). */
export const parseCidr = (text: string): string => {
  const s = text.trim();
  const slash = s.indexOf('/');
  const expected = 'a CIDR such as 10.244.0.0/16 or fd00::/64';
  if (slash < 0) throw new ValueError(expected);
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len) || !isIPLiteral(addr)) throw new ValueError(expected);
  const max = ipaddr.IPv4.isValidFourPartDecimal(addr) ? 32 : 128;
  if (Number(len) > max) throw new ValueError(`${expected} (prefix length at most ${max})`);
  return `${addr}/${Number(len)}`;
};

/** Comma-separated list (flags) or YAML list (config file) of CIDRs. Empty entries are dropped. */
export const parseCidrList = (items: readonly string[]): readonly string[] =>
  items.map((x) => x.trim()).filter((x) => x !== '').map(parseCidr);

export const splitList = (text: string): string[] => text.split(',').map((x) => x.trim()).filter((x) => x !== '');

export interface HostPort {
  /** An IP literal without brackets (`0.0.0.0`, `::`, `127.0.0.1`). */
  readonly host: string;
  readonly port: number;
}

export const formatHostPort = (hp: HostPort): string =>
  hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;

const parsePort = (text: string): number => {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new ValueError('a port number 0-65535');
  return Number(text);
};

/**
 * `HOST:PORT` (`0.0.0.0:10256`, `[::]:80`, `127.0.0.1:0`). A bare IP takes `defaultPort`, as kube-proxy does for
 * its bind addresses. The empty string means "disabled" and yields undefined.
 */
export const parseHostPort = (text: string, defaultPort: number): HostPort | undefined => {
  const s = text.trim();
  if (s === '') return undefined;
  const expected = 'HOST:PORT with an IP host, e.g. 0.0.0.0:8080 or [::]:8080 (empty to disable)';
  if (isIPLiteral(s)) return { host: s, port: defaultPort };
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    const host = s.slice(1, close);
    if (close < 0 || s[close + 1] !== ':' || !ipaddr.IPv6.isValid(host)) throw new ValueError(expected);
    return { host, port: portOr(s.slice(close + 2), expected) };
  }
  const colon = s.lastIndexOf(':');
  const host = s.slice(0, colon);
  if (colon < 0 || !ipaddr.IPv4.isValidFourPartDecimal(host)) throw new ValueError(expected);
  return { host, port: portOr(s.slice(colon + 1), expected) };
};

const portOr = (text: string, expected: string): number => {
  try {
    return parsePort(text);
  } catch {
    throw new ValueError(expected);
  }
};

/** `true`/`false` the way Go's strconv.ParseBool reads them (kube-proxy accepts `--masquerade-all=false`). */
export const parseBool = (text: string): boolean => {
  const s = text.trim();
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(s)) return false;
  throw new ValueError('true or false');
};

export const parseIntInRange = (text: string, min: number, max: number): number => {
  const s = text.trim();
  if (!/^-?\d+$/.test(s) || Number(s) < min || Number(s) > max) throw new ValueError(`an integer ${min}-${max}`);
  return Number(s);
};

export const parseChoice = <T extends string>(text: string, choices: readonly T[]): T => {
  const s = text.trim();
  const found = choices.find((c) => c === s);
  if (found === undefined) throw new ValueError(`one of ${choices.join(', ')}`);
  return found;
};

/** A Linux interface name (IFNAMSIZ − 1 characters; the kernel refuses "/", ":" and whitespace in one). */
export const isInterfaceName = (text: string): boolean => text.length > 0 && text.length <= 15 && !/[\s/:]/.test(text);

/** A DNS-1123 subdomain, the shape of a Node name. */
export const isDnsSubdomain = (text: string): boolean =>
  text.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(text);
