/**
 * Bookkeeping that lets a later run clean up after a crashed one: every sandbox gets
 * /run/switchyard-sandbox/<prefix>/ holding `creator` (PID and start time of the creating process) and the agents'
 * unix sockets. The sweep removes namespaces `sy-<6 hex>-*` whose creator is gone.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLS, run } from './exec.ts';

export const RUN_ROOT = '/run/switchyard-sandbox';
const NETNS_PATTERN = /^(sy-[0-9a-f]{6})-/;

export const newPrefix = (): string => `sy-${randomBytes(3).toString('hex')}`;
export const runDir = (prefix: string): string => join(RUN_ROOT, prefix);

/** Field 22 of /proc/<pid>/stat: distinguishes a live creator from a recycled PID. */
const processStartTime = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it start past the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
};

export const claimPrefix = async (prefix: string): Promise<string> => {
  // Written aside and renamed into place, so a concurrent sweep never sees a directory without its creator.
  const dir = runDir(prefix);
  const staging = join(RUN_ROOT, `.staging-${prefix}-${process.pid}`);
  await mkdir(staging, { recursive: true, mode: 0o755 });
  await writeFile(join(staging, 'creator'), `${process.pid} ${processStartTime(process.pid) ?? ''}\n`);
  await rename(staging, dir);
  return dir;
};

const creatorAlive = async (prefix: string): Promise<boolean> => {
  try {
    const [pidText, start] = (await readFile(join(runDir(prefix), 'creator'), 'utf8')).trim().split(' ');
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0) return false;
    const now = processStartTime(pid);
    return now !== undefined && (!start || now === start);
  } catch {
    return false;
  }
};

export const listNetns = async (): Promise<string[]> => {
  const result = await run([TOOLS.ip, 'netns', 'list']);
  if (result.code !== 0) return [];
  return result.stdout.split('\n').map((l) => l.trim().split(' ')[0] ?? '').filter((n) => n.length > 0);
};

/** PIDs of processes whose network namespace is `netns`. */
export const netnsPids = async (netns: string): Promise<number[]> => {
  const result = await run([TOOLS.ip, 'netns', 'pids', netns]);
  if (result.code !== 0) return [];
  return result.stdout.split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0);
};

/** Kills every process in the namespaces by PID, then deletes the namespaces. Returns what it could not delete. */
export const removeNamespaces = async (names: readonly string[]): Promise<string[]> => {
  const pids = (await Promise.all(names.map(netnsPids))).flat();
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  const failed: string[] = [];
  await Promise.all(names.map(async (name) => {
    const result = await run([TOOLS.ip, 'netns', 'del', name]);
    if (result.code !== 0 && !/No such file/.test(result.stderr)) failed.push(`${name}: ${result.stderr.trim()}`);
  }));
  return failed;
};

/** Removes namespaces and run directories of sandboxes whose creating process is dead. Returns removed prefixes. */
export const sweepStaleSandboxes = async (): Promise<string[]> => {
  const byPrefix = new Map<string, string[]>();
  for (const name of await listNetns()) {
    const prefix = NETNS_PATTERN.exec(name)?.[1];
    if (prefix) byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), name]);
  }
  let dirs: string[] = [];
  try { dirs = (await readdir(RUN_ROOT)).filter((d) => /^sy-[0-9a-f]{6}$/.test(d)); } catch { /* none yet */ }
  for (const d of dirs) if (!byPrefix.has(d)) byPrefix.set(d, []);
  const removed: string[] = [];
  for (const [prefix, names] of byPrefix) {
    if (await creatorAlive(prefix)) continue;
    await removeNamespaces(names);
    await rm(runDir(prefix), { recursive: true, force: true });
    removed.push(prefix);
  }
  return removed;
};
