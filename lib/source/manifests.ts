/**
 * `--manifests DIR`: Kubernetes objects from `*.yaml`, `*.yml` and `*.json` files instead of an API server.
 *
 * Changes are picked up by an inotify watch on the directory (fs.watch; one event schedules a rescan after a short
 * debounce, so an editor's write-rename-chmod burst is one batch) and by a periodic stat-only rescan as a safety net
 * for lost events, replaced directories and inotify overflow. Both paths run the same serialised scan, so whatever
 * happens, a change lands within about debounce + scan time, and at worst one rescan interval (1 s).
 *
 * Directory missing or unreadable: at start this is an error line, not a failure — every kind is reported synced
 * (empty) and the source keeps polling until the directory appears, as kube-proxy keeps retrying an API server.
 * If it disappears later, the objects already read are kept (a vanished directory is treated like a broken file,
 * not like "delete everything") until it comes back.
 */
import { watch, type FSWatcher } from 'node:fs';
import { SwitchyardError } from '../errors.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { nullLogger } from '../telemetry/logger-types.ts';
import { DirectoryScanner, type ScanResult } from './manifests/directory-scanner.ts';
import { formatProblem, type IgnoredDocument, type ManifestProblem } from './manifests/parse.ts';
import { RESOURCE_KINDS, type Source, type SourceEvent, type SourceSink } from './types.ts';

export { formatProblem, type ManifestProblem, type IgnoredDocument } from './manifests/parse.ts';

export interface ManifestsSourceOptions {
  readonly dir: string;
  readonly logger?: Logger;
  /** Periodic safety-net rescan (stat only, reads changed files). Default 1000 ms. */
  readonly rescanIntervalMs?: number;
  /** Quiet time after a watch event before rescanning. Default 100 ms. */
  readonly debounceMs?: number;
  /** Use inotify (fs.watch). False = poll only (filesystems without inotify, e.g. some network mounts). */
  readonly watch?: boolean;
  /** Called once per skipped broken document (or List item) — for a metrics counter. */
  readonly onInvalidDocument?: (problem: ManifestProblem) => void;
}

export class ManifestsSource implements Source {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #rescanIntervalMs: number;
  readonly #debounceMs: number;
  readonly #onInvalidDocument: ((problem: ManifestProblem) => void) | undefined;
  readonly #useWatch: boolean;
  readonly #scanner: DirectoryScanner;
  #sink: SourceSink | undefined;
  #watcher: FSWatcher | undefined;
  #interval: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  /** Files named by watch events since the last scan; 'all' when an event named none. */
  #dirty: Set<string> | 'all' = new Set();
  #scanChain: Promise<void> = Promise.resolve();
  #scanQueued = false;
  #dirMissing = false;
  #stopped = false;

  constructor(options: ManifestsSourceOptions) {
    this.#dir = options.dir;
    this.#logger = options.logger ?? nullLogger;
    this.#rescanIntervalMs = options.rescanIntervalMs ?? 1000;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#onInvalidDocument = options.onInvalidDocument;
    this.#useWatch = options.watch ?? true;
    this.#scanner = new DirectoryScanner(options.dir);
  }

  async start(sink: SourceSink): Promise<void> {
    if (this.#sink) throw new Error('ManifestsSource already started');
    this.#sink = sink;
    this.#stopped = false;
    this.#ensureWatch();
    this.#report(await this.#scanner.scan('all'));
    for (const kind of RESOURCE_KINDS) sink({ type: 'synced', kind });
    const objects = this.#scanner.index.objects().length;
    this.#logger.info({ dir: this.#dir, objects }, `manifests: loaded ${objects} objects from ${this.#dir}`);
    this.#interval = setInterval(() => {
      this.#ensureWatch();
      this.#requestScan();
    }, this.#rescanIntervalMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#interval) clearInterval(this.#interval);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#interval = undefined;
    this.#debounce = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    await this.#scanChain;
    this.#sink = undefined;
  }

  #ensureWatch(): void {
    if (this.#watcher || this.#stopped || !this.#useWatch) return;
    try {
      const watcher = watch(this.#dir, { persistent: false }, (_event, filename) => this.#onWatchEvent(filename));
      watcher.on('error', (e) => {
        this.#logger.warn({ dir: this.#dir, err: String(e) }, 'manifests: directory watch failed; relying on rescans');
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
      });
      this.#watcher = watcher;
    } catch {
      // Directory missing (logged by the scan); the periodic rescan retries.
    }
  }

  #onWatchEvent(filename: string | Buffer | null): void {
    if (this.#dirty !== 'all') {
      if (filename === null) this.#dirty = 'all';
      else this.#dirty.add(filename.toString());
    }
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#requestScan();
    }, this.#debounceMs);
  }

  /** Serialised: at most one scan running and one queued. */
  #requestScan(): void {
    if (this.#scanQueued || this.#stopped) return;
    this.#scanQueued = true;
    this.#scanChain = this.#scanChain.then(async () => {
      this.#scanQueued = false;
      if (this.#stopped) return;
      const dirty = this.#dirty;
      this.#dirty = new Set();
      try {
        const result = await this.#scanner.scan(dirty);
        this.#report(result);
        if (result.rescanSoon) this.#onWatchEvent(null);
      } catch (e) {
        this.#logger.error({ dir: this.#dir, err: String(e) }, 'manifests: rescan failed');
      }
    });
  }

  #report(result: ScanResult): void {
    if (!result.listed) {
      if (!this.#dirMissing) {
        this.#logger.error(
          { dir: this.#dir, err: result.listError },
          `manifests: cannot read directory ${this.#dir} (${result.listError}); keeping current objects, retrying`,
        );
      }
      this.#dirMissing = true;
      this.#watcher?.close();
      this.#watcher = undefined;
      return;
    }
    if (this.#dirMissing) {
      this.#dirMissing = false;
      this.#logger.info({ dir: this.#dir }, `manifests: directory ${this.#dir} is readable again`);
    }
    logScanDetails(this.#logger, result, this.#onInvalidDocument);
    if (this.#sink && !this.#stopped) for (const event of result.events) this.#sink(event);
  }
}

const logScanDetails = (
  logger: Logger,
  result: ScanResult,
  onInvalidDocument: ((problem: ManifestProblem) => void) | undefined,
): void => {
  for (const problem of result.problems) {
    logger.warn(
      { file: problem.file, document: problem.document, item: problem.item },
      `manifests: skipping ${formatProblem(problem)}`,
    );
    onInvalidDocument?.(problem);
  }
  for (const doc of result.ignored) {
    logger.debug({ file: doc.file, document: doc.document, kind: doc.kind, name: doc.name }, `manifests: ignoring ${doc.kind} ${doc.name}: ${doc.reason}`);
  }
  for (const { file, error } of result.unreadable) {
    logger.warn({ file, err: error }, `manifests: cannot read ${file} (${error}); keeping what it defined before`);
  }
  for (const dup of result.duplicates) {
    logger.warn(
      { id: dup.id, files: dup.files },
      `manifests: ${dup.id} is defined in several files (${dup.files.join(', ')}); using the one from ${dup.files.at(-1)}`,
    );
  }
  for (const event of result.events) {
    if (event.type !== 'synced') logger.debug({ kind: event.kind, key: event.key }, `manifests: ${event.type} ${event.kind} ${event.key}`);
  }
};

export interface ManifestsSnapshot {
  /** Upserts for every object, then `synced` for every kind. */
  readonly events: readonly SourceEvent[];
  readonly problems: readonly ManifestProblem[];
  readonly ignored: readonly IgnoredDocument[];
  /** Human-readable lines for duplicates and unreadable files. */
  readonly warnings: readonly string[];
}

/** One-shot read of a manifests directory (for `switchyard plan`). Throws ERR_SOURCE_UNAVAILABLE if unreadable. */
export const loadManifestsOnce = async (dir: string): Promise<ManifestsSnapshot> => {
  const result = await new DirectoryScanner(dir).scan('all');
  if (!result.listed) {
    throw new SwitchyardError('ERR_SOURCE_UNAVAILABLE', `cannot read manifests directory ${dir}: ${result.listError}`);
  }
  const warnings = [
    ...result.unreadable.map(({ file, error }) => `cannot read ${file}: ${error}`),
    ...result.duplicates.map((d) => `${d.id} is defined in several files (${d.files.join(', ')}); using ${d.files.at(-1)}`),
  ];
  const synced: SourceEvent[] = RESOURCE_KINDS.map((kind) => ({ type: 'synced', kind }));
  return { events: [...result.events, ...synced], problems: result.problems, ignored: result.ignored, warnings };
};
