/**
 * Deleting conntrack entries with the conntrack(8) CLI (conntrack-tools), behind a small interface with a fake.
 */
import { SwitchyardError } from '../errors.ts';
import type { CommandRunner } from '../exec/command.ts';
import type { ConntrackDeletion } from './stale.ts';

export const CONNTRACK_PATH = '/usr/sbin/conntrack';

export interface ConntrackDeleter {
  /** Deletes the matching UDP entries; resolves with how many were deleted. Rejects with ERR_EXEC on failure. */
  delete(deletion: ConntrackDeletion): Promise<number>;
}

/** The conntrack(8) arguments (after the program path) for one deletion. */
export const conntrackArgs = (d: ConntrackDeletion): string[] => {
  const args = ['-D', '-f', d.family === 6 ? 'ipv6' : 'ipv4', '-p', 'udp'];
  switch (d.kind) {
    case 'address':
      return [...args, '--orig-dst', d.ip, '--orig-port-dst', String(d.port)];
    case 'address-endpoint':
      return [...args, '--orig-dst', d.ip, '--orig-port-dst', String(d.port), '--dst-nat', d.endpoint];
    case 'node-port':
      return [...args, '--orig-port-dst', String(d.port)];
    case 'node-port-endpoint':
      return [...args, '--orig-port-dst', String(d.port), '--dst-nat', d.endpoint];
  }
};

const DELETED = /(\d+) flow entries have been deleted/;

export class ConntrackCli implements ConntrackDeleter {
  readonly #commands: CommandRunner;
  readonly #path: string;

  constructor(options: { commands: CommandRunner; path?: string }) {
    this.#commands = options.commands;
    this.#path = options.path ?? CONNTRACK_PATH;
  }

  async delete(deletion: ConntrackDeletion): Promise<number> {
    const argv = [this.#path, ...conntrackArgs(deletion)];
    const result = await this.#commands.run(argv, { timeoutMs: 10_000 });
    // conntrack exits 1 when nothing matched ("0 flow entries have been deleted."): that is success for us.
    const match = DELETED.exec(result.stderr) ?? DELETED.exec(result.stdout);
    if (match) return Number(match[1]);
    if (result.code === 0) return 0;
    throw new SwitchyardError('ERR_EXEC', `${argv.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
}

/** Records deletions; `fail` makes matching calls reject (to test error handling). */
export class FakeConntrack implements ConntrackDeleter {
  readonly deleted: ConntrackDeletion[] = [];
  fail: (d: ConntrackDeletion) => boolean = () => false;

  delete(deletion: ConntrackDeletion): Promise<number> {
    if (this.fail(deletion)) return Promise.reject(new SwitchyardError('ERR_EXEC', `fake conntrack failure for ${conntrackArgs(deletion).join(' ')}`));
    this.deleted.push(deletion);
    return Promise.resolve(1);
  }
}
