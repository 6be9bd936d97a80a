/**
 * Runs a Source until every kind it serves has reported `synced`, collecting the events: a one-shot read for
 * commands (such as `plan`) that want the same view the daemon would start from.
 */
import { SwitchyardError } from '../errors.ts';
import type { ResourceKind, Source, SourceEvent } from '../source/types.ts';

export const collectUntilSynced = async (
  source: Source,
  kinds: readonly ResourceKind[],
  timeoutMs: number,
): Promise<SourceEvent[]> => {
  const events: SourceEvent[] = [];
  const pending = new Set(kinds);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new SwitchyardError('ERR_SOURCE_UNAVAILABLE', `not synced after ${timeoutMs} ms: ${[...pending].join(', ')}`)),
        timeoutMs,
      );
      source
        .start((event) => {
          events.push(event);
          if (event.type === 'synced') pending.delete(event.kind);
          if (pending.size === 0) resolve();
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await source.stop();
  }
  return events;
};
