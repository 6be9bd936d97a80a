/**
 * Runs kernel tools by absolute path (node_modules/.bin shadows some names, e.g. `nft`), collecting output.
 * A failing command resolves with its exit code; only a command that cannot start rejects.
 */
import { spawn } from 'node:child_process';

export const TOOLS = {
  ip: '/usr/sbin/ip',
  nft: '/usr/sbin/nft',
  bridge: '/usr/sbin/bridge',
  sysctl: '/usr/sbin/sysctl',
} as const;

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export const run = (argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> =>
  new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (!file) { reject(new Error('empty argv')); return; }
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        code: code ?? (signal ? 128 : 1),
      });
    });
    child.stdin.on('error', () => { /* the tool may exit before reading its input */ });
    child.stdin.end(options.input ?? '');
  });

/** Like run(), but a non-zero exit becomes an error naming the command and its stderr. */
export const runChecked = async (argv: readonly string[], options: { input?: string; what?: string } = {}): Promise<ExecResult> => {
  const result = await run(argv, options);
  if (result.code !== 0) {
    const what = options.what ?? argv.join(' ');
    throw new Error(`${what} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result;
};

/** Feeds `ip -batch -` (optionally inside a namespace); one process for many commands. */
export const ipBatch = (lines: readonly string[], netns?: string): Promise<ExecResult> =>
  runChecked([TOOLS.ip, ...(netns ? ['-n', netns] : []), '-batch', '-'], {
    input: lines.join('\n') + '\n',
    what: `ip -batch${netns ? ` in ${netns}` : ''}`,
  });
