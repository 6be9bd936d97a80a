/** Small address helpers shared by the rule builder and the tracer. Pure. */
import ipaddr from 'ipaddr.js';

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

const parseAddr = (s: string): Parsed | undefined => {
  try {
    return ipaddr.parse(s);
  } catch {
    return undefined;
  }
};

const parseRange = (s: string): [Parsed, number] | undefined => {
  try {
    if (s.includes('/')) return ipaddr.parseCIDR(s);
    const a = ipaddr.parse(s);
    return [a, a.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
};

/** `value` is an address or CIDR; true when `ip` lies inside it. */
export const addrMatches = (ip: string, value: string): boolean => {
  const a = parseAddr(ip);
  const r = parseRange(value);
  if (a === undefined || r === undefined || a.kind() !== r[0].kind()) return false;
  return a.match(r);
};

export const sameAddr = (x: string, y: string): boolean => {
  const a = parseAddr(x);
  const b = parseAddr(y);
  return a !== undefined && b !== undefined && a.kind() === b.kind() && a.toNormalizedString() === b.toNormalizedString();
};

/** CIDRs reduced to network addresses, duplicates and CIDRs covered by another dropped (nft interval sets refuse overlaps). */
export const normalizeCidrs = (cidrs: readonly string[]): string[] => {
  const ranges: [Parsed, number, string][] = [];
  for (const c of cidrs) {
    const r = parseRange(c);
    if (r === undefined) continue;
    const net = r[0].kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${r[0].toString()}/${r[1]}`) : ipaddr.IPv6.networkAddressFromCIDR(`${r[0].toString()}/${r[1]}`);
    ranges.push([net, r[1], `${net.toString()}/${r[1]}`]);
  }
  ranges.sort((x, y) => x[1] - y[1]);
  const kept: [Parsed, number, string][] = [];
  for (const r of ranges) {
    if (kept.some((k) => k[0].kind() === r[0].kind() && r[0].match([k[0], k[1]] as [Parsed, number]))) continue;
    kept.push(r);
  }
  return kept.map((k) => k[2]).sort();
};
