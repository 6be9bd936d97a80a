/**
 * Reads a manifests directory into a ManifestIndex. Each scan stats every `*.yaml|*.yml|*.json` file (following
 * symlinks, so a ConfigMap volume's `..data` swap is seen), re-reads the ones whose stat changed or that a watch
 * event named, and re-parses only when the text changed. Hidden files (editor swap files, `..data`) are skipped.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileContribution, IndexUpdate } from './manifest-index.ts';
import { ManifestIndex } from './manifest-index.ts';
import { manifestFormat, parseManifestText, type IgnoredDocument, type ManifestProblem } from './parse.ts';

interface CachedFile {
  readonly signature: string;
  readonly text: string;
}

export interface ScanResult extends IndexUpdate {
  /** False when the directory itself could not be listed (state was kept as it was). */
  readonly listed: boolean;
  readonly listError?: string;
  readonly problems: readonly ManifestProblem[];
  readonly ignored: readonly IgnoredDocument[];
  /** Files that could not be read (kept as they were). */
  readonly unreadable: readonly { readonly file: string; readonly error: string }[];
  /** Some file looked mid-write (just truncated to empty); scan again shortly to confirm. */
  readonly rescanSoon: boolean;
}

const errorCode = (e: unknown): string | undefined =>
  e !== null && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : undefined;
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class DirectoryScanner {
  readonly dir: string;
  readonly #index = new ManifestIndex();
  readonly #cache = new Map<string, CachedFile>();
  /** Files seen empty once after having content: a writer may have truncated them and not written yet. */
  readonly #suspectEmpty = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  get index(): ManifestIndex {
    return this.#index;
  }

  /**
   * One pass over the directory. `reread` names files to read even when their stat looks unchanged (`'all'` for
   * every file); the rest are read only when size/mtime/ctime/inode changed.
   */
  async scan(reread: ReadonlySet<string> | 'all' = 'all'): Promise<ScanResult> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      return { listed: false, listError: errorText(e), events: [], duplicates: [], problems: [], ignored: [], unreadable: [], rescanSoon: false };
    }
    const candidates = names.filter((n) => !n.startsWith('.') && manifestFormat(n) !== undefined).sort();
    const changes = new Map<string, FileContribution | null>();
    const problems: ManifestProblem[] = [];
    const ignored: IgnoredDocument[] = [];
    const unreadable: { file: string; error: string }[] = [];
    const present = new Set<string>();
    let rescanSoon = false;

    for (const name of candidates) {
      const path = join(this.dir, name);
      let text: string;
      let signature: string;
      try {
        const st = await stat(path);
        if (!st.isFile()) continue;
        signature = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
        const cached = this.#cache.get(name);
        if (cached && cached.signature === signature && reread !== 'all' && !reread.has(name)) {
          present.add(name);
          continue;
        }
        text = await readFile(path, 'utf8');
      } catch (e) {
        // Gone between readdir and read: treat as deleted. Anything else: keep what the file gave before.
        if (errorCode(e) === 'ENOENT') continue;
        present.add(name);
        unreadable.push({ file: path, error: errorText(e) });
        continue;
      }
      present.add(name);
      const cached = this.#cache.get(name);
      // writeFile truncates before writing: an empty read of a file that had content is confirmed by a second
      // scan before its objects are deleted, so an in-place rewrite never blinks its objects away.
      if (text.trim() === '' && cached && cached.text.trim() !== '' && !this.#suspectEmpty.has(name)) {
        this.#suspectEmpty.add(name);
        rescanSoon = true;
        continue;
      }
      this.#suspectEmpty.delete(name);
      this.#cache.set(name, { signature, text });
      if (cached?.text === text) continue;
      const parsed = parseManifestText(path, text, manifestFormat(name)!);
      problems.push(...parsed.problems);
      ignored.push(...parsed.ignored);
      changes.set(name, { objects: parsed.objects, complete: parsed.problems.length === 0 });
    }
    for (const name of [...this.#cache.keys()]) {
      if (present.has(name)) continue;
      this.#cache.delete(name);
      this.#suspectEmpty.delete(name);
      changes.set(name, null);
    }
    const update = changes.size > 0 ? this.#index.apply(changes) : { events: [], duplicates: [] };
    return { listed: true, ...update, problems, ignored, unreadable, rescanSoon };
  }
}
