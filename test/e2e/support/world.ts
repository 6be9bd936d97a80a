/**
 * What every scenario gets: the sandbox, the daemon's manifests directory (atomic rewrites), the daemons by node,
 * and a place to record measured figures for the end-of-file report.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Sandbox } from '../../../lib/sandbox/sandbox.ts';
import type { DaemonProcess, ProxyMode } from './daemon.ts';

export class ManifestsDir {
  readonly path: string;
  private seq = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** Writes a temporary file the source ignores, then renames it into place; resolves with the time of the rename. */
  async write(name: string, text: string): Promise<number> {
    const tmp = join(this.path, `.${name}.${process.pid}.${this.seq++}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, join(this.path, name));
    return Date.now();
  }

  /** Deletes a file; resolves with the time it was gone. */
  async remove(name: string): Promise<number> {
    await rm(join(this.path, name), { force: true });
    return Date.now();
  }
}

export interface E2eContext {
  readonly t: ExecutionContext;
  readonly mode: ProxyMode;
  readonly sandbox: Sandbox;
  readonly manifests: ManifestsDir;
  /** The daemon of a node (created on first use, not started). */
  daemon(node: string): DaemonProcess;
  /** Records a figure (ms) for the report printed at the end of the file, and logs it on the test. */
  measure(name: string, ms: number): void;
}

export interface Scenario {
  /** The scenario number. */
  readonly id: number;
  readonly title: string;
  readonly run: (ctx: E2eContext) => Promise<void>;
}
