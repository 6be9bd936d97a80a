/**
 * The nftables Dataplane: builds the typed ruleset, diffs it against the last one the kernel accepted, and applies
 * the difference (or everything) as one atomic nft transaction.
 */
import { SwitchyardError, describeError } from '../../errors.ts';
import type { IPFamily } from '../../model/types.ts';
import type { DesiredState } from '../../plan/types.ts';
import type { Dataplane, SyncHint, SyncResult } from '../types.ts';
import { diffTransaction, fullTransaction, type TableIndexes } from './diff.ts';
import { TABLE_NAME, tableFamily, type Ruleset } from './model.ts';
import { parseListedObjects, type NftRunner } from './nft.ts';
import { buildRuleset, planIdOf, updateRuleset } from './ruleset.ts';
import { Transaction } from './transaction.ts';

/** Transactions with more operations than this are streamed to the runner (see sync). */
const STREAM_ABOVE_OPS = 2000;

function* countChars(chunks: Iterable<string>, add: (n: number) => void): Generator<string, void, undefined> {
  for (const c of chunks) {
    add(c.length);
    yield c;
  }
}

export interface NftablesDataplaneOptions {
  readonly runner: NftRunner;
  /** Families to program; default both. */
  readonly families?: readonly IPFamily[];
  readonly now?: () => number;
}

export class NftablesDataplane implements Dataplane {
  readonly mode = 'nftables' as const;
  private readonly runner: NftRunner;
  private readonly families: readonly IPFamily[];
  private readonly now: () => number;
  private applied: Ruleset | undefined;
  /** Index of `applied` (owners of every object), updated by each diff; dropped whenever the kernel may differ. */
  private indexes: TableIndexes | undefined;
  private appliedSettings: string | undefined;
  private needFull = true;

  constructor(options: NftablesDataplaneOptions) {
    this.runner = options.runner;
    this.families = options.families ?? [4, 6];
    this.now = options.now ?? (() => performance.now());
  }

  /** The ruleset the kernel holds now (as far as we know), for tracing and diagnostics. */
  get lastApplied(): Ruleset | undefined {
    return this.applied;
  }

  async sync(state: DesiredState, hint: SyncHint): Promise<SyncResult> {
    const t0 = this.now();
    const settings = JSON.stringify([state.masqueradeAll, state.families]);
    const prev = this.applied;
    const full = hint.forceFull || this.needFull || prev === undefined;
    // Groups of services the caller says did not change are reused as built last time (same settings only), and
    // only the changed ones are diffed: the cost of a sync follows the change, not the number of services.
    const changed = !full && hint.changed !== undefined && settings === this.appliedSettings ? hint.changed : undefined;
    // A full sync allocates endpoint slots afresh; otherwise the kernel's allocation is carried forward.
    const updated = changed !== undefined && prev !== undefined ? updateRuleset(state, this.families, prev, changed) : undefined;
    const next = updated ?? buildRuleset(state, this.families, full ? undefined : prev);

    let tx: Transaction;
    let changedServices: number;
    const indexes: TableIndexes = full ? new Map() : (this.indexes ?? new Map());
    // The index is updated in place by the diff: until the kernel accepts the script it describes nothing.
    this.indexes = undefined;
    if (full) {
      // Listing the kernel's table is costly at scale: only needed when our own record may be wrong.
      tx = fullTransaction(next, await this.staleObjects(this.needFull || prev === undefined), new Transaction(), indexes);
      changedServices = next.families.reduce((n, f) => n + f.services.size, 0);
    } else {
      // Only an incremental build may restrict the diff to the changed service ports.
      const owners = updated === undefined || changed === undefined ? undefined : new Set(this.families.flatMap((f) => [...changed].map((k) => planIdOf(f, k))));
      const d = diffTransaction(prev, next, new Transaction(), indexes, owners);
      tx = d.tx;
      changedServices = d.changed.size;
    }
    // A big script (a full sync: 9 MB at 10k services) is rendered piece by piece while nft reads it, so its text
    // never sits in memory whole; its rendering then counts as apply time. Small ones are rendered here.
    let bytes = 0;
    const streamed = tx.length > STREAM_ABOVE_OPS;
    const script = streamed ? countChars(tx.chunks(), (n) => (bytes += n)) : tx.render();
    if (typeof script === 'string') bytes = script.length;
    const t1 = this.now();
    try {
      if (tx.error !== undefined) throw tx.error;
      await this.runner.run(script);
    } catch (e) {
      this.needFull = true;
      throw new SwitchyardError('ERR_DATAPLANE_APPLY', `nftables ${full ? 'full' : 'partial'} sync failed: ${describeError(e)}`, { cause: e });
    }
    const t2 = this.now();
    this.applied = next;
    this.indexes = indexes;
    this.appliedSettings = settings;
    this.needFull = false;
    return { full, changedServices, durationMs: t2 - t0, computeMs: t1 - t0, applyMs: t2 - t1, bytes };
  }

  /** Chains and sets in the kernel's tables (or, without a lister, in our last ruleset) that a full sync must remove. */
  private async staleObjects(listKernel: boolean): Promise<Map<IPFamily, { chains: string[]; sets: { name: string; kind: 'set' | 'map' }[] }>> {
    const stale = new Map<IPFamily, { chains: string[]; sets: { name: string; kind: 'set' | 'map' }[] }>();
    for (const f of this.families) {
      let listed: string | undefined;
      if (listKernel && this.runner.listTable !== undefined) {
        try {
          listed = await this.runner.listTable(tableFamily(f), TABLE_NAME);
        } catch {
          listed = undefined;
        }
      }
      if (listed !== undefined) {
        stale.set(f, parseListedObjects(listed));
        continue;
      }
      const fr = this.applied?.families.find((x) => x.family === f);
      if (fr === undefined) continue;
      const chains: string[] = [];
      const sets: { name: string; kind: 'set' | 'map' }[] = [];
      for (const g of [fr.base, ...fr.services.values()]) {
        for (const c of g.chains) chains.push(c.name);
        for (const s of g.sets) sets.push({ name: s.name, kind: s.kind });
      }
      stale.set(f, { chains, sets });
    }
    return stale;
  }

  async cleanup(): Promise<void> {
    const tx = new Transaction();
    for (const f of [4, 6] as const) {
      // `add` first makes the delete succeed whether or not the table exists.
      tx.add(f, { kind: 'table' });
      tx.delete(f, { kind: 'table' });
    }
    try {
      await this.runner.run(tx.render());
    } catch (e) {
      throw new SwitchyardError('ERR_DATAPLANE_APPLY', `nftables cleanup failed: ${describeError(e)}`, { cause: e });
    }
    this.applied = undefined;
    this.indexes = undefined;
    this.needFull = true;
  }
}
