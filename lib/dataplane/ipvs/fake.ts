/**
 * A fake IPVS kernel: virtual servers with real servers (from `ipvsadm -R` lines, applied one by one like the
 * real tool, stopping at the first error), ipsets (`ipset restore`: create/flush/add/del/swap/destroy), and the
 * dummy interface's addresses. `supported` = false models a kernel without IP_VS.
 */
import { SwitchyardError } from '../../errors.ts';
import type { L4 } from '../iptables/model.ts';
import type { IpvsKernel, IpvsTimeouts } from './kernel.ts';
import { parseIpvsSave } from './kernel.ts';
import { vsKey, type IpsetDef, type IpsetType, type VirtualServer } from './model.ts';

const fail = (msg: string): never => {
  throw new SwitchyardError('ERR_DATAPLANE_APPLY', msg);
};

export class FakeIpvsKernel implements IpvsKernel {
  supported = true;
  readonly servers = new Map<string, VirtualServer>();
  readonly sets = new Map<string, { type: IpsetType; entries: Set<string> }>();
  readonly addresses = new Set<string>();
  interfaceExists = false;
  readonly ipvsScripts: string[] = [];
  readonly ipsetScripts: string[] = [];
  /** Every `ipvsadm --set` call. */
  readonly timeoutCalls: IpvsTimeouts[] = [];
  /** Makes setTimeouts fail (as ipvsadm would without the module). */
  failTimeouts = false;

  unsupportedReason(): Promise<string | undefined> {
    return Promise.resolve(this.supported ? undefined : 'the kernel has no IPVS (/proc/net/ip_vs is missing)');
  }

  listVirtualServers(): Promise<VirtualServer[]> {
    return Promise.resolve([...this.servers.values()]);
  }

  applyIpvs(script: string): Promise<void> {
    this.ipvsScripts.push(script);
    try {
      for (const line of script.split('\n')) if (line.trim() !== '') this.ipvsLine(line);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private ipvsLine(line: string): void {
    const tok = line.split(' ');
    const proto: L4 = tok[1] === '-t' ? 'tcp' : tok[1] === '-u' ? 'udp' : 'sctp';
    // Reuse the save parser for the address forms: one line is a complete -A or -a statement.
    const asVirtual = parseIpvsSave(`-A ${tok[1]} ${tok[2]} -s x`)[0]!;
    const key = vsKey({ addr: asVirtual.addr, proto, port: asVirtual.port });
    const opt = (k: string): string | undefined => (tok.indexOf(k) < 0 ? undefined : tok[tok.indexOf(k) + 1]);
    const vs = this.servers.get(key);
    switch (tok[0]) {
      case '-A':
      case '-E': {
        if (tok[0] === '-A' && vs !== undefined) fail(`ipvsadm: Service already exists: ${line}`);
        if (tok[0] === '-E' && vs === undefined) fail(`ipvsadm: No such service: ${line}`);
        const p = opt('-p');
        this.servers.set(key, { addr: asVirtual.addr, proto, port: asVirtual.port, scheduler: opt('-s') ?? 'wlc', persistence: p === undefined ? undefined : Number(p), reals: vs?.reals ?? [] });
        return;
      }
      case '-D':
        if (vs === undefined) fail(`ipvsadm: No such service: ${line}`);
        this.servers.delete(key);
        return;
      case '-a':
      case '-e':
      case '-d': {
        if (vs === undefined) return fail(`ipvsadm: No such service: ${line}`);
        const r = parseIpvsSave(`-A ${tok[1]} ${opt('-r')} -s x`)[0]!;
        const others = vs.reals.filter((x) => !(x.addr === r.addr && x.port === r.port));
        const exists = others.length !== vs.reals.length;
        if (tok[0] === '-a' && exists) fail(`ipvsadm: Destination already exists: ${line}`);
        if (tok[0] !== '-a' && !exists) fail(`ipvsadm: No such destination: ${line}`);
        const reals = tok[0] === '-d' ? others : [...others, { addr: r.addr, port: r.port, weight: Number(opt('-w') ?? 1) }];
        this.servers.set(key, { ...vs, reals });
        return;
      }
      default:
        fail(`ipvsadm: unknown command: ${line}`);
    }
  }

  applyIpsets(script: string): Promise<void> {
    this.ipsetScripts.push(script);
    try {
      for (const line of script.split('\n')) if (line.trim() !== '') this.ipsetLine(line);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private ipsetLine(line: string): void {
    const tok = line.split(' ');
    const [cmd, name, arg] = tok;
    if (name === undefined) return fail(`ipset: bad line: ${line}`);
    const s = this.sets.get(name);
    const exist = tok.includes('-exist');
    switch (cmd) {
      case 'create':
        if (s !== undefined && !exist) fail(`ipset: set ${name} already exists`);
        if (s === undefined) this.sets.set(name, { type: arg as IpsetType, entries: new Set() });
        return;
      case 'flush':
      case 'destroy':
        if (s === undefined) return fail(`ipset: no set ${name}`);
        if (cmd === 'flush') s.entries.clear();
        else this.sets.delete(name);
        return;
      case 'add':
      case 'del':
        if (s === undefined || arg === undefined) return fail(`ipset: no set ${name}`);
        if (cmd === 'add') {
          if (s.entries.has(arg) && !exist) fail(`ipset: element already added: ${line}`);
          s.entries.add(arg);
        } else {
          if (!s.entries.has(arg) && !exist) fail(`ipset: element not found: ${line}`);
          s.entries.delete(arg);
        }
        return;
      case 'swap': {
        const other = arg === undefined ? undefined : this.sets.get(arg);
        if (s === undefined || other === undefined || arg === undefined) return fail(`ipset: swap needs two sets: ${line}`);
        this.sets.set(name, other);
        this.sets.set(arg, s);
        return;
      }
      default:
        fail(`ipset: unknown command: ${line}`);
    }
  }

  listAddresses(): Promise<string[]> {
    this.interfaceExists = true;
    return Promise.resolve([...this.addresses]);
  }

  setAddresses(add: readonly string[], remove: readonly string[]): Promise<void> {
    for (const a of remove) this.addresses.delete(a);
    for (const a of add) this.addresses.add(a);
    return Promise.resolve();
  }

  setTimeouts(timeouts: IpvsTimeouts): Promise<void> {
    if (this.failTimeouts) return Promise.reject(new SwitchyardError('ERR_DATAPLANE_APPLY', 'ipvsadm --set failed (exit 2): Protocol not available'));
    this.timeoutCalls.push(timeouts);
    return Promise.resolve();
  }

  removeInterface(): Promise<void> {
    this.interfaceExists = false;
    this.addresses.clear();
    return Promise.resolve();
  }

  /** Sets as IpsetDefs (for the tracer). */
  setDefs(): IpsetDef[] {
    return [...this.sets].map(([name, s]) => ({ name, type: s.type, entries: [...s.entries].sort() }));
  }
}
