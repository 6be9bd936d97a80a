/**
 * One mode per node: after the chosen dataplane's first successful sync, what other modes left behind is removed
 * (as kube-proxy cleans up other modes' leftovers). Doing it after, not before, means a node switching modes is
 * never without rules: for a moment both sets are present, and both send each packet to a valid endpoint.
 */
import { describeError } from '../errors.ts';
import type { DesiredState } from '../plan/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import type { Dataplane, SyncHint, SyncResult } from './types.ts';

/** Another mode's leftovers and how to remove them without touching what the active mode owns. */
export interface Leftovers {
  readonly mode: string;
  remove(): Promise<void>;
}

export class ExclusiveDataplane implements Dataplane {
  readonly mode: Dataplane['mode'];
  private readonly inner: Dataplane;
  private readonly leftovers: readonly Leftovers[];
  private readonly logger: Logger;
  private leftoversRemoved = false;

  constructor(inner: Dataplane, leftovers: readonly Leftovers[], logger: Logger) {
    this.inner = inner;
    this.mode = inner.mode;
    this.leftovers = leftovers;
    this.logger = logger;
  }

  async sync(state: DesiredState, hint: SyncHint): Promise<SyncResult> {
    const result = await this.inner.sync(state, hint);
    if (!this.leftoversRemoved) {
      this.leftoversRemoved = true;
      for (const other of this.leftovers) {
        try {
          await other.remove();
        } catch (e) {
          // Leftovers of another mode are harmless next to ours; a failure to remove them must not stop syncing.
          this.logger.warn({ mode: other.mode, err: describeError(e) }, `could not remove ${other.mode} leftovers: ${describeError(e)}`);
        }
      }
    }
    return result;
  }

  cleanup(): Promise<void> {
    return this.inner.cleanup();
  }
}
