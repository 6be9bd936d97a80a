/**
 * IP and CIDR parsing for the pure layers. Addresses are normalised to one canonical text form so that equal
 * addresses compare equal as strings (kube-proxy does the same by printing the parsed net.IP).
 */
import ipaddr from 'ipaddr.js';
import type { IPFamily } from './types.ts';

export interface ParsedIP {
  readonly ip: string;
  readonly family: IPFamily;
}

export interface ParsedCIDR {
  /** Network address / prefix length, e.g. `10.0.0.0/8`. */
  readonly cidr: string;
  readonly family: IPFamily;
  readonly prefixLength: number;
}

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Dotted-quad IPv4 (leading zeros read as decimal, like Go's ParseIPSloppy) or IPv6 without a zone. IPv4-mapped
 * IPv6 addresses are refused: Go would silently turn them into IPv4, which would change their family.
 */
export const parseIP = (text: string): ParsedIP | undefined => {
  const quad = DOTTED_QUAD.exec(text);
  if (quad) {
    const octets = quad.slice(1).map((o) => Number.parseInt(o, 10));
    return octets.every((o) => o <= 255) ? { ip: octets.join('.'), family: 4 } : undefined;
  }
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) return undefined;
  return { ip: v6.toString(), family: 6 };
};

export const isValidIP = (text: string): boolean => parseIP(text) !== undefined;

/** A CIDR (host bits cleared) or a bare IP, which becomes a /32 or /128. Surrounding blanks are ignored. */
export const parseCIDR = (raw: string): ParsedCIDR | undefined => {
  const text = raw.trim();
  const slash = text.indexOf('/');
  const address = parseIP(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const maxBits = address.family === 4 ? 32 : 128;
  let prefixLength = maxBits;
  if (slash >= 0) {
    const bits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits)) return undefined;
    prefixLength = Number.parseInt(bits, 10);
    if (prefixLength > maxBits) return undefined;
  }
  const network = ipaddr.parse(address.ip);
  const bytes = network.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - i * 8));
    bytes[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  const networkText = ipaddr.fromByteArray(bytes).toString();
  return { cidr: `${networkText}/${prefixLength}`, family: address.family, prefixLength };
};

export const isValidCIDR = (text: string): boolean => parseCIDR(text) !== undefined;

/** Whether `ip` lies inside `cidr` (both already valid; different families never match). */
export const cidrContains = (cidr: string, ip: string): boolean => {
  const range = parseCIDR(cidr);
  const address = parseIP(ip);
  if (!range || !address || range.family !== address.family) return false;
  const [network, bits] = ipaddr.parseCIDR(range.cidr);
  return ipaddr.parse(address.ip).match(network, bits);
};

/** Whether two CIDRs share an address (different families never do). */
export const cidrsOverlap = (a: string, b: string): boolean => {
  const x = parseCIDR(a);
  const y = parseCIDR(b);
  if (!x || !y || x.family !== y.family) return false;
  const networkOf = (c: ParsedCIDR): string => c.cidr.slice(0, c.cidr.indexOf('/'));
  return cidrContains(x.cidr, networkOf(y)) || cidrContains(y.cidr, networkOf(x));
};

/** Whether every address of `inner` lies in `outer`. */
export const cidrWithin = (inner: string, outer: string): boolean => {
  const i = parseCIDR(inner);
  const o = parseCIDR(outer);
  return i !== undefined && o !== undefined && i.prefixLength >= o.prefixLength && cidrContains(o.cidr, i.cidr.slice(0, i.cidr.indexOf('/')));
};

export const IPV4_LOOPBACK = '127.0.0.0/8';

/** kube-proxy's endpoint string: `ip:port`, IPv6 in brackets. Used as the dedupe key and for sorting. */
export const joinHostPort = (ip: string, port: number): string =>
  ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
