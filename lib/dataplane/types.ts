/**
 * The contract every kernel dataplane (nftables, iptables, IPVS) fulfils for the sync loop.
 */
import type { DesiredState } from '../plan/types.ts';

export interface SyncResult {
  /** The whole ruleset was rewritten (first sync, after a failure, periodic resync, or forced). */
  readonly full: boolean;
  /** Service ports (plan ids) whose kernel objects changed in this sync. */
  readonly changedServices: number;
  readonly durationMs: number;
  /** Time spent building the rule model and diffing it. */
  readonly computeMs: number;
  /** Time spent in the kernel tool. */
  readonly applyMs: number;
  /** Size of the script handed to the kernel tool (0 when nothing changed). */
  readonly bytes: number;
}

export interface SyncHint {
  /** Service port keys (`ns/name:port`) that changed since the last sync; undefined = unknown, diff everything. */
  readonly changed: ReadonlySet<string> | undefined;
  /** Rewrite everything regardless of what was applied before. */
  readonly forceFull: boolean;
}

export type DataplaneMode = 'nftables' | 'iptables' | 'ipvs';

export interface Dataplane {
  readonly mode: DataplaneMode;
  /**
   * Program `state`. Throws SwitchyardError ERR_DATAPLANE_APPLY on failure, leaving the kernel as it was (the write
   * is atomic); the next call is then a full sync.
   */
  sync(state: DesiredState, hint: SyncHint): Promise<SyncResult>;
  /** Remove everything this dataplane owns (both families). Succeeds when nothing is there. */
  cleanup(): Promise<void>;
}
