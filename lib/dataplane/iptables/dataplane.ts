/**
 * The iptables Dataplane: renders DesiredState into per-service rule groups, assembles whole tables, and hands
 * `iptables-restore --noflush` only the chains that changed since the last accepted sync (plus `-X` of chains that
 * are gone), split into several inputs when many chains change (restoreChunks). Full syncs (first, after any
 * failure, forced, or when the canary chain vanished) rewrite every chain, rebuild the hairpin ipsets and install
 * the jump rules from the built-in chains idempotently (`-C`, then `-I`). Hairpin members appear before the rules
 * that DNAT to them and disappear after.
 */
import { SwitchyardError, describeError } from '../../errors.ts';
import type { IPFamily } from '../../model/types.ts';
import type { DesiredState } from '../../plan/types.ts';
import type { Dataplane, SyncHint, SyncResult } from '../types.ts';
import type { IptablesExecutor } from './exec.ts';
import { BUILTIN_CHAINS, renderRule, tokenize, type TableName } from './model.ts';
import { addScript, countMembers, delScript, fullScript, hairpinMaxelem, shiftMembers } from './hairpin.ts';
import { CANARY, hairpinSet, hairpinSetScratch, isOurChain } from './names.ts';
import { restoreChunks, savedChains, savedRules, TABLE_ORDER } from './restore.ts';
import { assemble, buildBase, buildService, JUMP_RULES, mapBase, mapGroup, type RuleGroup, type Tables } from './rules.ts';

export interface IptablesDataplaneOptions {
  readonly executor: IptablesExecutor;
  /** Every backend cleanup() clears (iptables-nft and iptables-legacy); default just `executor`. */
  readonly cleanupExecutors?: readonly IptablesExecutor[];
  /** Families to program; default both. */
  readonly families?: readonly IPFamily[];
  readonly now?: () => number;
  /**
   * Chains per `iptables-restore` input when a sync changes more (see restoreChunks); default 1000 on the nft
   * backend (its cost per input grows faster than linearly) and unlimited on legacy (every input rewrites the table).
   */
  readonly restoreChunkChains?: number;
}

interface FamilyApplied {
  readonly tables: Tables<string>;
  readonly groups: ReadonlyMap<string, RuleGroup<string>>;
  /** Hairpin set member → groups using it (updated in place by partial syncs; rebuilt by full ones). */
  readonly hairpin: Map<string, number>;
  readonly maxelem: number;
}

interface FamilyPlan {
  readonly family: IPFamily;
  readonly inputs: readonly string[];
  /** ipset scripts run before and after the restores. */
  readonly setsBefore: string;
  readonly setsAfter: string;
}

const NO_CHUNKS = Number.POSITIVE_INFINITY;

/** chain → owning group id, built on first use (only syncs big enough to be split need it). */
const groupIndex = (groups: ReadonlyMap<string, RuleGroup<string>>): ((table: TableName, chain: string) => string | undefined) => {
  let index: Map<string, string> | undefined;
  return (_table, chain) => {
    if (index === undefined) {
      index = new Map();
      for (const [id, g] of groups) for (const c of g.chains) index.set(c.name, id);
    }
    return index.get(chain);
  };
};

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

const sameGroup = (a: RuleGroup<string>, b: RuleGroup<string>): boolean =>
  a.chains.length === b.chains.length &&
  a.contributions.length === b.contributions.length &&
  a.chains.every((c, i) => c.name === b.chains[i]!.name && c.table === b.chains[i]!.table && sameList(c.rules, b.chains[i]!.rules)) &&
  a.contributions.every((c, i) => c.chain === b.contributions[i]!.chain && c.table === b.contributions[i]!.table && sameList(c.rules, b.contributions[i]!.rules)) &&
  sameList(a.hairpin ?? [], b.hairpin ?? []);

export class IptablesDataplane implements Dataplane {
  readonly mode = 'iptables' as const;
  private readonly executor: IptablesExecutor;
  private readonly cleanupExecutors: readonly IptablesExecutor[];
  private readonly families: readonly IPFamily[];
  private readonly now: () => number;
  private readonly chunkChains: number | undefined;
  private applied: Map<IPFamily, FamilyApplied> | undefined;
  private appliedSettings: string | undefined;
  private needFull = true;
  /** Why the last full sync was full (for logs and tests). */
  lastFullReason: 'first' | 'failure' | 'forced' | 'canary' | undefined;

  constructor(options: IptablesDataplaneOptions) {
    this.executor = options.executor;
    this.cleanupExecutors = options.cleanupExecutors ?? [options.executor];
    this.families = options.families ?? [4, 6];
    this.now = options.now ?? (() => performance.now());
    this.chunkChains = options.restoreChunkChains;
  }

  /** The rule text the kernel holds (as far as we know), per family. */
  appliedTables(family: IPFamily): Tables<string> | undefined {
    return this.applied?.get(family)?.tables;
  }

  async sync(state: DesiredState, hint: SyncHint): Promise<SyncResult> {
    const t0 = this.now();
    const settings = JSON.stringify([state.masqueradeAll, state.families]);
    const prev = this.applied;
    let reason: IptablesDataplane['lastFullReason'] =
      prev === undefined ? 'first' : this.needFull ? 'failure' : hint.forceFull ? 'forced' : undefined;
    if (reason === undefined && (await this.canaryMissing())) reason = 'canary';
    const full = reason !== undefined;
    const changed = !full && hint.changed !== undefined && settings === this.appliedSettings ? hint.changed : undefined;

    const next = new Map<IPFamily, FamilyApplied>();
    const plans: FamilyPlan[] = [];
    // Partial syncs update the applied hairpin counts in place; a failed sync puts the touched ones back.
    const undo: { counts: Map<string, number>; member: string; n: number | undefined }[] = [];
    let changedServices = 0;
    const existingSets = full ? await this.listSets() : new Set<string>();
    for (const family of this.families) {
      const famSettings = state.families[family];
      const before = prev?.get(family);
      const groups = new Map<string, RuleGroup<string>>();
      const moved: { before: readonly string[]; after: readonly string[] }[] = [];
      for (const p of state.services) {
        if (p.family !== family) continue;
        const old = before?.groups.get(p.id);
        if (changed !== undefined && old !== undefined && !changed.has(p.servicePort)) {
          groups.set(p.id, old);
          continue;
        }
        const g = mapGroup(buildService(p, famSettings, state.masqueradeAll), renderRule);
        // An unchanged group keeps its old arrays, so the restore diff sees identical chains at once.
        const same = old !== undefined && sameGroup(old, g);
        groups.set(p.id, same ? old : g);
        if (!same) moved.push({ before: old?.hairpin ?? [], after: g.hairpin ?? [] });
        if (full || !same) changedServices++;
      }
      if (before !== undefined) {
        for (const [id, g] of before.groups) {
          if (groups.has(id)) continue;
          moved.push({ before: g.hairpin ?? [], after: [] });
          if (!full) changedServices++;
        }
      }
      const tables = assemble(mapBase(buildBase(family, famSettings), renderRule), groups.values(), (x) => x);
      const stale = full ? await this.staleChains(family, reason === 'forced' ? before?.tables : undefined) : {};
      const maxChains = this.chunkChains ?? (this.executor.backend === 'nft' ? 1000 : NO_CHUNKS);
      const inputs = restoreChunks(tables, full ? undefined : before?.tables, stale, groupIndex(groups), maxChains);

      let hairpin: Map<string, number>;
      let maxelem: number;
      let setsBefore = '';
      let setsAfter = '';
      if (full || before === undefined) {
        hairpin = countMembers(groups.values());
        // Members the kernel may still need until the restores have switched the rules go after them.
        const leaving = [...(before?.hairpin.keys() ?? [])].filter((m) => !hairpin.has(m));
        maxelem = hairpinMaxelem(hairpin.size + leaving.length);
        setsBefore = fullScript(family, [...hairpin.keys(), ...leaving], maxelem, existingSets);
        setsAfter = delScript(family, leaving);
      } else {
        hairpin = before.hairpin;
        maxelem = before.maxelem;
        const added: string[] = [];
        const removed: string[] = [];
        for (const m of moved) {
          for (const member of [...m.before, ...m.after]) undo.push({ counts: hairpin, member, n: hairpin.get(member) });
          const d = shiftMembers(hairpin, m.before, m.after);
          added.push(...d.added);
          removed.push(...d.removed);
        }
        if (hairpin.size + removed.length > maxelem) {
          // Outgrown: rebuild bigger (the live set exists: a full sync created it).
          maxelem = hairpinMaxelem(hairpin.size + removed.length);
          setsBefore = fullScript(family, [...hairpin.keys(), ...removed], maxelem, new Set([hairpinSet(family)]));
        } else setsBefore = addScript(family, added);
        setsAfter = delScript(family, removed);
      }
      next.set(family, { tables, groups, hairpin, maxelem });
      plans.push({ family, inputs, setsBefore, setsAfter });
    }
    const t1 = this.now();
    try {
      for (const p of plans) await this.ipsetRestore(p.setsBefore);
      for (const p of plans) for (const input of p.inputs) await this.executor.restore(p.family, input);
      if (full) for (const family of this.families) await this.ensureJumps(family);
      for (const p of plans) await this.ipsetRestore(p.setsAfter);
    } catch (e) {
      this.needFull = true;
      for (const u of undo.reverse()) {
        if (u.n === undefined) u.counts.delete(u.member);
        else u.counts.set(u.member, u.n);
      }
      throw new SwitchyardError('ERR_DATAPLANE_APPLY', `iptables (${this.executor.backend}) ${full ? 'full' : 'partial'} sync failed: ${describeError(e)}`, { cause: e });
    }
    const t2 = this.now();
    this.applied = next;
    this.appliedSettings = settings;
    this.needFull = false;
    if (full) this.lastFullReason = reason;
    const bytes = plans.reduce((n, p) => n + p.inputs.reduce((k, i) => k + i.length, 0) + p.setsBefore.length + p.setsAfter.length, 0);
    return { full, changedServices, durationMs: t2 - t0, computeMs: t1 - t0, applyMs: t2 - t1, bytes };
  }

  private async listSets(): Promise<Set<string>> {
    const r = await this.executor.ipset(['list', '-n']);
    if (r.code !== 0) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `ipset list -n failed (exit ${r.code}): ${r.stderr.trim()}`);
    return new Set(r.stdout.split('\n').filter((l) => l !== ''));
  }

  private async ipsetRestore(script: string): Promise<void> {
    if (script === '') return;
    const r = await this.executor.ipset(['restore'], script);
    if (r.code !== 0) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `ipset restore failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
  }

  /** Someone flushed our rules (or the whole table) when the mangle canary chain is gone. */
  private async canaryMissing(): Promise<boolean> {
    for (const family of this.families) {
      const r = await this.executor.command(family, 'mangle', ['-S', CANARY]);
      if (r.code !== 0) return true;
    }
    return false;
  }

  /**
   * Chains of ours a full sync must delete: from our record when we trust it (a forced periodic resync), else
   * listed from the kernel (first sync after a restart, after a failure, after a flush).
   */
  private async staleChains(family: IPFamily, known: Tables<string> | undefined): Promise<Partial<Record<TableName, string[]>>> {
    const out: Partial<Record<TableName, string[]>> = {};
    for (const table of TABLE_ORDER) {
      out[table] = known !== undefined ? [...known[table].keys()] : savedChains(await this.executor.save(family, table), isOurChain);
    }
    return out;
  }

  private async ensureJumps(family: IPFamily): Promise<void> {
    // Inserted at the top in reverse, so the list's order is the chain's order when none existed.
    for (const j of [...JUMP_RULES].reverse()) {
      const args = tokenize(renderRule(j.rule));
      const check = await this.executor.command(family, j.table, ['-C', j.chain, ...args]);
      if (check.code === 0) continue;
      const insert = await this.executor.command(family, j.table, ['-I', j.chain, ...args]);
      if (insert.code !== 0) {
        throw new SwitchyardError('ERR_DATAPLANE_APPLY', `cannot insert jump rule into ${j.table}/${j.chain}: ${insert.stderr.trim()}`);
      }
    }
  }

  /** Removes jump rules first, then flushes and deletes every SWITCHYARD- chain, on every backend and family. */
  async cleanup(): Promise<void> {
    const problems: string[] = [];
    for (const exec of this.cleanupExecutors) {
      for (const family of [4, 6] as const) {
        for (const table of TABLE_ORDER) {
          try {
            await this.cleanupTable(exec, family, table);
          } catch (e) {
            problems.push(`${exec.backend} ipv${family} ${table}: ${describeError(e)}`);
          }
        }
      }
    }
    // The sets outlive neither backend's rules: destroyed once every rule using them is gone.
    problems.push(...(await this.destroySets()));
    this.applied = undefined;
    this.needFull = true;
    if (problems.length > 0) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `iptables cleanup failed: ${problems.join('; ')}`);
  }

  /**
   * Everything of ours except the iptables chains — the hairpin sets: what IPVS mode removes when it takes over a
   * node, since both modes' chains are `SWITCHYARD-` and its own full sync already deletes the chains it does not
   * render (and with them every rule that used the sets).
   */
  async cleanupKernelObjects(): Promise<void> {
    const problems = await this.destroySets();
    if (problems.length > 0) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `iptables set cleanup failed: ${problems.join('; ')}`);
  }

  private async destroySets(): Promise<string[]> {
    const problems: string[] = [];
    const exec = this.cleanupExecutors[0] ?? this.executor;
    for (const family of [4, 6] as const) {
      for (const name of [hairpinSetScratch(family), hairpinSet(family)]) {
        try {
          const r = await exec.ipset(['destroy', name]);
          if (r.code !== 0 && !/does not exist/i.test(r.stderr)) problems.push(`ipset ${name}: ${r.stderr.trim()}`);
        } catch (e) {
          // No ipset binary: no set of ours can exist.
          if (!(e instanceof SwitchyardError && e.code === 'ERR_EXEC')) problems.push(`ipset ${name}: ${describeError(e)}`);
        }
      }
    }
    return problems;
  }

  private async cleanupTable(exec: IptablesExecutor, family: IPFamily, table: TableName): Promise<void> {
    let saved: string;
    try {
      saved = await exec.save(family, table);
    } catch (e) {
      // The backend's tools are missing here: nothing of ours can be in it.
      if (e instanceof SwitchyardError && e.code === 'ERR_EXEC' && /cannot run/.test(e.message)) return;
      throw e;
    }
    const builtins = new Set(BUILTIN_CHAINS[table]);
    for (const j of savedRules(saved, (c) => builtins.has(c), (t) => / -[jg] SWITCHYARD-/.test(` ${t}`))) {
      const r = await exec.command(family, table, ['-D', j.chain, ...tokenize(j.text)]);
      if (r.code !== 0) throw new SwitchyardError('ERR_DATAPLANE_APPLY', `cannot delete jump rule "${j.text}" from ${j.chain}: ${r.stderr.trim()}`);
    }
    const chains = savedChains(saved, isOurChain);
    if (chains.length === 0) return;
    const text = [`*${table}`, ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
    await exec.restore(family, text);
  }
}
