/**
 * The pod's own readiness mark, for an exec startup probe (`test -e FILE`). In a surge rollout the old and the new
 * pod share the node's /healthz port, so an HTTP probe may be answered by the old one; a file in the pod's own
 * filesystem cannot be. Removed at start, so a restarted container in the same pod does not inherit it.
 */
import { rm, writeFile } from 'node:fs/promises';
import { describeError } from '../errors.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export interface FileWriter {
  write(path: string, text: string): Promise<void>;
  remove(path: string): Promise<void>;
}

export const fsFileWriter: FileWriter = {
  write: (path, text) => writeFile(path, text),
  remove: (path) => rm(path, { force: true }),
};

export class ReadyFile {
  readonly #path: string;
  readonly #files: FileWriter;
  readonly #logger: Logger;
  #marked = false;

  constructor(path: string, logger: Logger, files: FileWriter = fsFileWriter) {
    this.#path = path;
    this.#logger = logger;
    this.#files = files;
  }

  get marked(): boolean {
    return this.#marked;
  }

  async mark(): Promise<void> {
    if (this.#marked) return;
    this.#marked = true;
    try {
      await this.#files.write(this.#path, `${new Date().toISOString()} pid ${process.pid}\n`);
      this.#logger.info({ path: this.#path }, 'ready: node programmed; ready file written');
    } catch (e) {
      this.#marked = false;
      this.#logger.error({ path: this.#path, err: describeError(e) }, `cannot write the ready file: ${describeError(e)}`);
    }
  }

  async clear(): Promise<void> {
    this.#marked = false;
    try {
      await this.#files.remove(this.#path);
    } catch (e) {
      this.#logger.warn({ path: this.#path, err: describeError(e) }, `cannot remove the ready file: ${describeError(e)}`);
    }
  }
}
