/**
 * Running external programs: a small interface so kernel drivers can be handed a fake in tests.
 */
import { spawn } from 'node:child_process';
import { SwitchyardError } from '../errors.ts';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  /** Written to the program's stdin, which is then closed. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

export interface CommandRunner {
  /** Runs argv[0] (an absolute path) with the rest as arguments. Resolves with any exit code; rejects only when the program cannot run at all. */
  run(argv: readonly string[], options?: CommandOptions): Promise<CommandResult>;
}

/** Where kernel tools are looked up: never from PATH (node_modules/.bin shadows names such as `nft`). */
export const SYSTEM_BIN_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'] as const;

export class ProcessRunner implements CommandRunner {
  run(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const [file, ...args] = argv;
    if (file === undefined || !file.startsWith('/')) {
      return Promise.reject(new SwitchyardError('ERR_EXEC', `refusing to run ${JSON.stringify(file)}: an absolute path is required`));
    }
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 60_000 });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => reject(new SwitchyardError('ERR_EXEC', `cannot run ${file}: ${e.message}`, { cause: e })));
      child.on('close', (code, signal) => {
        resolve({
          code: code ?? (signal !== null ? 128 : 1),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8') + (signal !== null ? `\nkilled by ${signal}` : ''),
        });
      });
      child.stdin.on('error', () => {
        /* the program exited before reading all input; its exit code tells the story */
      });
      child.stdin.end(options.input ?? '');
    });
  }
}

/** A scripted fake: records every call and answers with `respond`. */
export class FakeCommandRunner implements CommandRunner {
  readonly calls: { argv: readonly string[]; input: string | undefined }[] = [];
  respond: (argv: readonly string[], input: string | undefined) => CommandResult = () => ({ code: 0, stdout: '', stderr: '' });

  run(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    this.calls.push({ argv, input: options.input });
    return Promise.resolve(this.respond(argv, options.input));
  }
}
