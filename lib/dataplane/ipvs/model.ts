/**
 * IPVS mode's kernel objects as plain data: virtual servers with real servers, ipsets, and the service addresses
 * bound to the dummy interface; with their renderings (`ipvsadm -R` and `ipset restore` lines). Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import type { L4, Rule } from '../iptables/model.ts';
import type { Tables } from '../iptables/rules.ts';

export const DUMMY_INTERFACE = 'switchyard-ipvs0';
/** Bit 15, so --iptables-masquerade-bit may not be 15 in IPVS mode (lib/config refuses it). */
export const DROP_MARK = 0x8000;

export interface RealServer {
  readonly addr: string;
  readonly port: number;
  readonly weight: number;
}

export interface VirtualServer {
  readonly addr: string;
  readonly proto: L4;
  readonly port: number;
  readonly scheduler: string;
  /** `-p seconds` (ClientIP session affinity); undefined = none. */
  readonly persistence: number | undefined;
  readonly reals: readonly RealServer[];
}

export type IpsetType = 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'bitmap:port';

export interface IpsetDef {
  readonly name: string;
  readonly type: IpsetType;
  /** Entries in ipset's own syntax (`10.96.0.10,tcp:80`, `30080`, …), sorted. */
  readonly entries: readonly string[];
}

export interface IpvsFamilyState {
  readonly family: IPFamily;
  /** Sorted by key. */
  readonly virtualServers: readonly VirtualServer[];
  readonly sets: readonly IpsetDef[];
  /** Addresses bound to the dummy interface (service IPs), sorted. */
  readonly addresses: readonly string[];
  /** Helper rules (nat/filter) in SWITCHYARD- chains. */
  readonly tables: Tables<Rule>;
}

export const hostPort = (addr: string, port: number): string => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

export const vsKey = (v: Pick<VirtualServer, 'addr' | 'proto' | 'port'>): string => `${v.proto}|${hostPort(v.addr, v.port)}`;

const serviceFlag = (proto: L4): string => (proto === 'tcp' ? '-t' : proto === 'udp' ? '-u' : '--sctp-service');

/** `ipvsadm -R` lines: -A/-E a virtual server. */
export const renderVirtual = (op: '-A' | '-E' | '-D', v: VirtualServer): string => {
  const head = `${op} ${serviceFlag(v.proto)} ${hostPort(v.addr, v.port)}`;
  if (op === '-D') return head;
  return `${head} -s ${v.scheduler}${v.persistence !== undefined ? ` -p ${v.persistence}` : ''}`;
};

/** `ipvsadm -R` lines: -a/-e/-d a real server (masquerading forward method, as kube-proxy). */
export const renderReal = (op: '-a' | '-e' | '-d', v: VirtualServer, r: RealServer): string => {
  const head = `${op} ${serviceFlag(v.proto)} ${hostPort(v.addr, v.port)} -r ${hostPort(r.addr, r.port)}`;
  return op === '-d' ? head : `${head} -m -w ${r.weight}`;
};

export const ipsetFamily = (family: IPFamily): string => (family === 4 ? 'inet' : 'inet6');

export const renderSetCreate = (s: IpsetDef, family: IPFamily, name = s.name): string =>
  s.type === 'bitmap:port' ? `create ${name} bitmap:port range 0-65535 -exist` : `create ${name} ${s.type} family ${ipsetFamily(family)} -exist`;
