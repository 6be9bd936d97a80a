/**
 * After each successful sync, removes the UDP conntrack entries that sync made stale. Failures are logged and
 * counted; they never fail the sync (the rules are already right; a stale flow only lingers until it times out).
 */
import { describeError } from '../errors.ts';
import type { DesiredState } from '../plan/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import type { ConntrackDeleter } from './conntrack.ts';
import { conntrackArgs } from './conntrack.ts';
import { staleConntrackEntries } from './stale.ts';

export interface CleanupReport {
  readonly commands: number;
  readonly deleted: number;
  readonly failed: number;
}

export class ConntrackCleaner {
  readonly #deleter: ConntrackDeleter;
  readonly #logger: Logger;
  readonly #onResult: ((ok: boolean) => void) | undefined;
  /** The last state whose rules were applied: what the kernel's flows were built from. */
  #applied: DesiredState | undefined;

  constructor(options: { deleter: ConntrackDeleter; logger: Logger; onResult?: (ok: boolean) => void }) {
    this.#deleter = options.deleter;
    this.#logger = options.logger;
    this.#onResult = options.onResult;
  }

  /**
   * Call with each state just applied to the kernel. The first call only records: after a restart every UDP
   * service would look "newly active", and wiping all their flows would interrupt traffic the rules (left in
   * place across the restart) still serve correctly.
   */
  async afterSync(applied: DesiredState): Promise<CleanupReport> {
    const previous = this.#applied;
    this.#applied = applied;
    if (previous === undefined) return { commands: 0, deleted: 0, failed: 0 };
    const deletions = staleConntrackEntries(previous, applied);
    let deleted = 0;
    let failed = 0;
    for (const deletion of deletions) {
      try {
        deleted += await this.#deleter.delete(deletion);
        this.#onResult?.(true);
      } catch (e) {
        failed++;
        this.#onResult?.(false);
        this.#logger.warn({ err: describeError(e), args: conntrackArgs(deletion).join(' ') }, `conntrack cleanup failed: ${describeError(e)}`);
      }
    }
    if (deletions.length > 0) this.#logger.debug({ commands: deletions.length, deleted, failed }, 'cleared stale UDP conntrack entries');
    return { commands: deletions.length, deleted, failed };
  }
}
