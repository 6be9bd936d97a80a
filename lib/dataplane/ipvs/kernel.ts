/**
 * The IPVS kernel side behind a small interface, and the real implementation over ipvsadm, ipset and ip.
 *
 * Why `ipvsadm -R` and not netlink: IPVS is configured over generic netlink (family "IPVS"), and Node has no
 * AF_NETLINK sockets without a native addon (none is installed; adding one means a compiled dependency on every
 * node). `ipvsadm -R` reads the same commands from stdin in one process, so a sync costs one exec whatever its
 * size. It is not atomic — commands apply one by one — so the dataplane orders them to stay safe midway (new
 * virtual servers and real servers first, deletions last; a virtual server is edited in place, never recreated)
 * and treats any failure as "kernel state unknown": the next sync lists the kernel and diffs from that.
 */
import { readFile } from 'node:fs/promises';
import { SwitchyardError } from '../../errors.ts';
import type { CommandRunner } from '../../exec/command.ts';
import type { IPFamily } from '../../model/types.ts';
import type { L4 } from '../iptables/model.ts';
import { DUMMY_INTERFACE, type VirtualServer } from './model.ts';

export interface IpvsKernel {
  /** undefined when IPVS can be used here, else why not (checked without loading modules). */
  unsupportedReason(): Promise<string | undefined>;
  /** Every virtual server in the kernel (ours and others'). */
  listVirtualServers(): Promise<VirtualServer[]>;
  /** `ipvsadm -R` input. */
  applyIpvs(script: string): Promise<void>;
  /** `ipset restore` input. */
  applyIpsets(script: string): Promise<void>;
  /** Addresses on the dummy interface (created when missing). */
  listAddresses(): Promise<string[]>;
  setAddresses(add: readonly string[], remove: readonly string[]): Promise<void>;
  /** Deletes the dummy interface (its addresses go with it). */
  removeInterface(): Promise<void>;
  /** `ipvsadm --set`: connection timeouts in seconds; 0 leaves that one as it is. */
  setTimeouts(timeouts: IpvsTimeouts): Promise<void>;
}

/** IPVS connection timeouts, seconds (kube-proxy's ipvs.tcpTimeout, tcpFinTimeout, udpTimeout); 0 = unchanged. */
export interface IpvsTimeouts {
  readonly tcp: number;
  readonly tcpFin: number;
  readonly udp: number;
}

export interface ExecIpvsKernelOptions {
  readonly commands: CommandRunner;
  readonly prefix?: readonly string[];
  /** Where the kernel lists IPVS when the module is loaded. */
  readonly procPath?: string;
}

const IPVSADM = '/usr/sbin/ipvsadm';
const IPSET = '/usr/sbin/ipset';
const IP = '/usr/sbin/ip';

/** Parses `ipvsadm -S -n` output (the restore format) into virtual servers. */
export const parseIpvsSave = (text: string): VirtualServer[] => {
  const servers = new Map<string, { addr: string; proto: L4; port: number; scheduler: string; persistence: number | undefined; reals: { addr: string; port: number; weight: number }[] }>();
  const hostPortOf = (s: string): [string, number] => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
    if (m === null) throw new SwitchyardError('ERR_EXEC', `cannot parse ipvsadm address "${s}"`);
    return [m[1]!, Number(m[2])];
  };
  for (const line of text.split('\n')) {
    const tok = line.trim().split(/\s+/);
    if (tok.length < 3) continue;
    const proto: L4 | undefined = tok[1] === '-t' ? 'tcp' : tok[1] === '-u' ? 'udp' : tok[1] === '--sctp-service' ? 'sctp' : undefined;
    if (proto === undefined) continue;
    const [addr, port] = hostPortOf(tok[2]!);
    const key = `${proto}|${tok[2]}`;
    const opt = (k: string): string | undefined => (tok.indexOf(k) < 0 ? undefined : tok[tok.indexOf(k) + 1]);
    if (tok[0] === '-A') {
      const p = opt('-p');
      servers.set(key, { addr, proto, port, scheduler: opt('-s') ?? 'wlc', persistence: p === undefined ? undefined : Number(p), reals: [] });
    } else if (tok[0] === '-a') {
      const [raddr, rport] = hostPortOf(opt('-r') ?? '');
      servers.get(key)?.reals.push({ addr: raddr, port: rport, weight: Number(opt('-w') ?? 1) });
    }
  }
  return [...servers.values()];
};

export class ExecIpvsKernel implements IpvsKernel {
  private readonly commands: CommandRunner;
  private readonly prefix: readonly string[];
  private readonly procPath: string;

  constructor(options: ExecIpvsKernelOptions) {
    this.commands = options.commands;
    this.prefix = options.prefix ?? [];
    this.procPath = options.procPath ?? '/proc/net/ip_vs';
  }

  private async run(argv: readonly string[], input?: string): Promise<string> {
    const r = await this.commands.run([...this.prefix, ...argv], { input, timeoutMs: 120_000 });
    if (r.code !== 0) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `${argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(0, 4).join(' | ')}`);
    return r.stdout;
  }

  async unsupportedReason(): Promise<string | undefined> {
    try {
      await readFile(this.procPath, 'utf8');
      return undefined;
    } catch {
      return `the kernel has no IPVS (${this.procPath} is missing: the ip_vs module is not loaded or not built)`;
    }
  }

  async listVirtualServers(): Promise<VirtualServer[]> {
    return parseIpvsSave(await this.run([IPVSADM, '-S', '-n']));
  }

  async applyIpvs(script: string): Promise<void> {
    if (script !== '') await this.run([IPVSADM, '-R'], script);
  }

  async applyIpsets(script: string): Promise<void> {
    if (script !== '') await this.run([IPSET, 'restore'], script);
  }

  async listAddresses(): Promise<string[]> {
    const show = await this.commands.run([...this.prefix, IP, '-o', 'addr', 'show', 'dev', DUMMY_INTERFACE]);
    if (show.code !== 0) {
      await this.run([IP, 'link', 'add', DUMMY_INTERFACE, 'type', 'dummy']);
      return [];
    }
    return [...show.stdout.matchAll(/\binet6? ([^/\s]+)\//g)].map((m) => m[1]!);
  }

  async setAddresses(add: readonly string[], remove: readonly string[]): Promise<void> {
    for (const a of remove) await this.run([IP, 'addr', 'del', `${a}/${a.includes(':') ? 128 : 32}`, 'dev', DUMMY_INTERFACE]);
    for (const a of add) await this.run([IP, 'addr', 'add', `${a}/${a.includes(':') ? 128 : 32}`, 'dev', DUMMY_INTERFACE]);
  }

  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    await this.run([IPVSADM, '--set', String(t.tcp), String(t.tcpFin), String(t.udp)]);
  }

  async removeInterface(): Promise<void> {
    const r = await this.commands.run([...this.prefix, IP, 'link', 'del', DUMMY_INTERFACE]);
    if (r.code !== 0 && !/Cannot find device/.test(r.stderr)) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `ip link del ${DUMMY_INTERFACE}: ${r.stderr.trim()}`);
  }
}

export const familyOf = (addr: string): IPFamily => (addr.includes(':') ? 6 : 4);
