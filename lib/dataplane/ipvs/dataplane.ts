/**
 * The IPVS Dataplane: virtual/real servers through the IpvsKernel, ipsets, service addresses on the dummy
 * interface, and helper iptables rules through the same restore machinery as iptables mode. Refuses to start
 * (ERR_DATAPLANE_UNSUPPORTED) on a kernel without IPVS. Full syncs (first, after a failure, forced) diff against
 * what the kernel lists; partial syncs against the last applied state.
 */
import { SwitchyardError, describeError } from '../../errors.ts';
import type { IPFamily } from '../../model/types.ts';
import type { DesiredState } from '../../plan/types.ts';
import type { Dataplane, SyncHint, SyncResult } from '../types.ts';
import type { IptablesExecutor } from '../iptables/exec.ts';
import { renderRule, tokenize, type Rule } from '../iptables/model.ts';
import { isOurChain } from '../iptables/names.ts';
import { restoreInput, savedChains, TABLE_ORDER } from '../iptables/restore.ts';
import type { Tables } from '../iptables/rules.ts';
import { IptablesDataplane } from '../iptables/dataplane.ts';
import { buildIpvs, IPVS_JUMP_RULES } from './build.ts';
import { ipsetScript, ipvsScript } from './diff.ts';
import { familyOf, type IpvsKernel, type IpvsTimeouts } from './kernel.ts';
import type { IpvsFamilyState, VirtualServer } from './model.ts';

export interface IpvsDataplaneOptions {
  readonly kernel: IpvsKernel;
  readonly iptables: IptablesExecutor;
  /** Every iptables backend cleanup() clears; default just `iptables`. */
  readonly cleanupExecutors?: readonly IptablesExecutor[];
  /** Config.ipvs.scheduler. */
  readonly scheduler: string;
  readonly families?: readonly IPFamily[];
  /** This node's addresses (NodePort virtual servers on "all local addresses"); default none. */
  readonly localAddresses?: () => Promise<readonly string[]>;
  readonly now?: () => number;
  /** Config.ipvs timeouts, set once before the first sync when any is non-zero. */
  readonly timeouts?: IpvsTimeouts;
  /** Problems that do not stop syncing (timeouts the kernel refused). */
  readonly onWarning?: (message: string) => void;
}

const NO_SETTINGS = { clusterCIDRs: [], nodePortAddresses: [], nodePortOnAllLocal: false } as const;
const EMPTY_STATE: DesiredState = { nodeName: '', masqueradeAll: false, families: { 4: NO_SETTINGS, 6: NO_SETTINGS }, services: [] };

const renderTables = (t: Tables<Rule>): Tables<string> => ({
  filter: new Map([...t.filter].map(([k, v]) => [k, v.map(renderRule)])),
  nat: new Map([...t.nat].map(([k, v]) => [k, v.map(renderRule)])),
  mangle: new Map([...t.mangle].map(([k, v]) => [k, v.map(renderRule)])),
});

export class IpvsDataplane implements Dataplane {
  readonly mode = 'ipvs' as const;
  private readonly o: IpvsDataplaneOptions;
  private readonly families: readonly IPFamily[];
  private readonly now: () => number;
  private checked = false;
  private needFull = true;
  private applied: Map<IPFamily, { state: IpvsFamilyState; rendered: Tables<string> }> | undefined;

  constructor(options: IpvsDataplaneOptions) {
    this.o = options;
    this.families = options.families ?? [4, 6];
    this.now = options.now ?? (() => performance.now());
  }

  /** kube-proxy sets them at start and goes on if the kernel refuses: the services work with its defaults. */
  async #setTimeouts(): Promise<void> {
    const t = this.o.timeouts;
    if (t === undefined || (t.tcp === 0 && t.tcpFin === 0 && t.udp === 0)) return;
    try {
      await this.o.kernel.setTimeouts(t);
    } catch (e) {
      this.o.onWarning?.(`cannot set IPVS timeouts (tcp ${t.tcp} s, tcpfin ${t.tcpFin} s, udp ${t.udp} s): ${describeError(e)}; the kernel's stay`);
    }
  }

  /** What the kernel holds as far as we know (for tracing and diagnostics). */
  appliedState(family: IPFamily): IpvsFamilyState | undefined {
    return this.applied?.get(family)?.state;
  }

  async sync(state: DesiredState, hint: SyncHint): Promise<SyncResult> {
    if (!this.checked) {
      const reason = await this.o.kernel.unsupportedReason();
      if (reason !== undefined) throw new SwitchyardError('ERR_DATAPLANE_UNSUPPORTED', `--proxy-mode ipvs cannot run here: ${reason}; use --proxy-mode nftables or iptables`);
      this.checked = true;
      await this.#setTimeouts();
    }
    const t0 = this.now();
    const full = hint.forceFull || this.needFull || this.applied === undefined;
    const local = (await this.o.localAddresses?.()) ?? [];
    const next = new Map<IPFamily, { state: IpvsFamilyState; rendered: Tables<string> }>();
    for (const f of this.families) {
      const s = buildIpvs(state, f, { scheduler: this.o.scheduler, localAddresses: local });
      next.set(f, { state: s, rendered: renderTables(s.tables) });
    }
    const wantedAddrs = [...next.values()].flatMap((x) => x.state.addresses);
    const wantedVS = [...next.values()].flatMap((x) => x.state.virtualServers);
    let bytes = 0;
    let changed = 0;
    const t1 = this.now();
    try {
      const kernelAddrs = full ? (await this.o.kernel.listAddresses()).filter((a) => this.families.includes(familyOf(a))) : [...(this.applied?.values() ?? [])].flatMap((x) => x.state.addresses);
      const have = new Set(kernelAddrs);
      const want = new Set(wantedAddrs);
      // Addresses first: a virtual server on a service address is only reached once the address is local.
      await this.o.kernel.setAddresses(wantedAddrs.filter((a) => !have.has(a)), []);
      for (const f of this.families) {
        const prev = full ? undefined : this.applied?.get(f);
        const n = next.get(f)!;
        const sets = ipsetScript(f, n.state.sets, prev?.state.sets);
        await this.o.kernel.applyIpsets(sets);
        const stale = full ? Object.fromEntries(await Promise.all(TABLE_ORDER.map(async (t) => [t, savedChains(await this.o.iptables.save(f, t), isOurChain)]))) : {};
        const rules = restoreInput(n.rendered, prev?.rendered, stale).text;
        await this.o.iptables.restore(f, rules);
        if (full) await this.ensureJumps(f);
        bytes += sets.length + rules.length;
      }
      // Ours: virtual servers on our service addresses (old or new) or on the addresses we put NodePorts on.
      const ours = new Set([...kernelAddrs, ...wantedAddrs, ...wantedVS.map((v) => v.addr), ...[...(this.applied?.values() ?? [])].flatMap((x) => x.state.virtualServers.map((v) => v.addr))]);
      const current: VirtualServer[] = full
        ? (await this.o.kernel.listVirtualServers()).filter((v) => ours.has(v.addr) && this.families.includes(familyOf(v.addr)))
        : [...(this.applied?.values() ?? [])].flatMap((x) => x.state.virtualServers);
      const ipvs = ipvsScript(current, wantedVS);
      await this.o.kernel.applyIpvs(ipvs.text);
      await this.o.kernel.setAddresses([], kernelAddrs.filter((a) => !want.has(a)));
      bytes += ipvs.text.length;
      changed = full ? state.services.filter((p) => this.families.includes(p.family)).length : ipvs.changed;
    } catch (e) {
      this.needFull = true;
      throw new SwitchyardError('ERR_DATAPLANE_APPLY', `ipvs ${full ? 'full' : 'partial'} sync failed: ${describeError(e)}`, { cause: e });
    }
    const t2 = this.now();
    this.applied = next;
    this.needFull = false;
    return { full, changedServices: changed, durationMs: t2 - t0, computeMs: t1 - t0, applyMs: t2 - t1, bytes };
  }

  private async ensureJumps(family: IPFamily): Promise<void> {
    for (const j of [...IPVS_JUMP_RULES].reverse()) {
      const args = tokenize(renderRule(j.rule));
      if ((await this.o.iptables.command(family, j.table, ['-C', j.chain, ...args])).code === 0) continue;
      const r = await this.o.iptables.command(family, j.table, ['-I', j.chain, ...args]);
      if (r.code !== 0) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `cannot insert jump rule into ${j.table}/${j.chain}: ${r.stderr.trim()}`);
    }
  }

  /** Our virtual servers, ipsets, dummy interface and helper rules (iptables cleanup is shared with iptables mode). */
  cleanup(): Promise<void> {
    return this.#remove(true);
  }

  /**
   * Everything of ours except the iptables chains: what iptables mode removes when it takes over a node, since
   * both modes' chains are `SWITCHYARD-` and its own full sync already deletes the chains it does not render.
   */
  cleanupKernelObjects(): Promise<void> {
    return this.#remove(false);
  }

  async #remove(withChains: boolean): Promise<void> {
    const problems: string[] = [];
    if ((await this.o.kernel.unsupportedReason()) === undefined) {
      try {
        const addrs = new Set([...(await this.o.kernel.listAddresses()), ...[...(this.applied?.values() ?? [])].flatMap((x) => x.state.virtualServers.map((v) => v.addr))]);
        const ours = (await this.o.kernel.listVirtualServers()).filter((v) => addrs.has(v.addr));
        await this.o.kernel.applyIpvs(ipvsScript(ours, []).text);
      } catch (e) {
        problems.push(`virtual servers: ${describeError(e)}`);
      }
    }
    try {
      await this.o.kernel.removeInterface();
    } catch (e) {
      problems.push(`interface: ${describeError(e)}`);
    }
    if (withChains) {
      try {
        await new IptablesDataplane({ executor: this.o.iptables, cleanupExecutors: this.o.cleanupExecutors ?? [this.o.iptables] }).cleanup();
      } catch (e) {
        problems.push(describeError(e));
      }
    }
    // Sets last (iptables rules referencing them are gone now): every name we ever create, present or not.
    for (const f of [4, 6] as const) {
      for (const s of buildIpvs(EMPTY_STATE, f, { scheduler: 'rr', localAddresses: [] }).sets) {
        try {
          await this.o.kernel.applyIpsets(`destroy ${s.name}\n`);
        } catch (e) {
          if (!/does not exist|no set/i.test(describeError(e))) problems.push(`ipset ${s.name}: ${describeError(e)}`);
        }
      }
    }
    this.applied = undefined;
    this.needFull = true;
    if (problems.length > 0) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `ipvs cleanup failed: ${problems.join('; ')}`);
  }
}
