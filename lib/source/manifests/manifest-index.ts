/**
 * Which objects each manifest file contributes, and what the directory as a whole says. Pure: the directory scanner
 * hands it batches of file changes, it answers with the SourceEvents that turn the old view into the new one.
 *
 * - An object is deleted only when no file contributes it any more, so an object moved from one file to another in
 *   the same batch is never deleted.
 * - When two files contribute the same object, the file that wrote it most recently wins (on the first scan files
 *   are applied in name order, so the last name wins); the caller is told, to warn.
 * - A file that had problems keeps the objects its previous version contributed and the new version lacks: a
 *   half-written or broken file never deletes anything.
 * - Identical content produces no event.
 */
import type { SourceEvent } from '../types.ts';
import type { ManifestObject } from './parse.ts';

export interface FileContribution {
  readonly objects: readonly ManifestObject[];
  /** False when some document of the file was skipped as broken. */
  readonly complete: boolean;
}

export interface DuplicateObject {
  readonly id: string;
  /** Every file that contributes it, the winner last. */
  readonly files: readonly string[];
}

export interface IndexUpdate {
  readonly events: readonly SourceEvent[];
  readonly duplicates: readonly DuplicateObject[];
}

export class ManifestIndex {
  readonly #files = new Map<string, ReadonlyMap<string, ManifestObject>>();
  /** id → contributing files, the most recent writer last. */
  readonly #owners = new Map<string, string[]>();
  /** id → the version last emitted. */
  readonly #current = new Map<string, ManifestObject>();

  /** The objects as the directory currently defines them. */
  objects(): readonly ManifestObject[] {
    return [...this.#current.values()];
  }

  /** Applies one batch: `null` = the file is gone. */
  apply(changes: ReadonlyMap<string, FileContribution | null>): IndexUpdate {
    const touched = new Set<string>();
    for (const [file, contribution] of changes) {
      const previous = this.#files.get(file) ?? new Map<string, ManifestObject>();
      const next = new Map<string, ManifestObject>();
      for (const object of contribution?.objects ?? []) next.set(object.id, object);
      if (contribution && !contribution.complete) {
        for (const [id, object] of previous) if (!next.has(id)) next.set(id, object);
      }
      for (const id of previous.keys()) {
        if (next.has(id)) continue;
        this.#removeOwner(id, file);
        touched.add(id);
      }
      for (const [id, object] of next) {
        const before = previous.get(id);
        if (before?.canonical === object.canonical) continue;
        this.#removeOwner(id, file);
        const owners = this.#owners.get(id) ?? [];
        owners.push(file);
        this.#owners.set(id, owners);
        touched.add(id);
      }
      if (next.size > 0) this.#files.set(file, next);
      else this.#files.delete(file);
    }

    const events: SourceEvent[] = [];
    const duplicates: DuplicateObject[] = [];
    for (const id of touched) {
      const owners = this.#owners.get(id) ?? [];
      const before = this.#current.get(id);
      const winnerFile = owners.at(-1);
      const winner = winnerFile === undefined ? undefined : this.#files.get(winnerFile)?.get(id);
      if (!winner) {
        if (before) {
          this.#current.delete(id);
          events.push({ type: 'delete', kind: before.kind, key: before.key, object: before.object });
        }
        continue;
      }
      if (owners.length > 1) duplicates.push({ id, files: [...owners] });
      if (before?.canonical === winner.canonical) continue;
      this.#current.set(id, winner);
      events.push({ type: 'upsert', kind: winner.kind, key: winner.key, object: winner.object, origin: winner.origin });
    }
    return { events, duplicates };
  }

  #removeOwner(id: string, file: string): void {
    const owners = this.#owners.get(id);
    if (!owners) return;
    const at = owners.indexOf(file);
    if (at >= 0) owners.splice(at, 1);
    if (owners.length === 0) this.#owners.delete(id);
  }
}
