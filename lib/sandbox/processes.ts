/** Child-process helpers: wait for a `{"ready":true}` line, stop by PID with a grace period. */
import type { ChildProcess } from 'node:child_process';

/** Resolves with the first stdout JSON line carrying ready:true; rejects (with stderr) on exit or timeout. */
export const waitForReady = (child: ChildProcess, what: string, timeoutMs = 15_000): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onOut = (chunk: Buffer) => {
      out += chunk.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.ready === true) { cleanup(); resolve(parsed); return; }
        } catch { /* not our line */ }
      }
    };
    const onErr = (chunk: Buffer) => { err = (err + chunk.toString()).slice(-4000); };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${what} exited (${signal ?? `code ${code}`}) before it was ready: ${err.trim()}`));
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${what} not ready after ${timeoutMs} ms: ${err.trim()}`)); }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      // Keep draining so a chatty child never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
    };
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });

export const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
export const stopProcess = (child: ChildProcess, graceMs = 2000): Promise<void> => {
  if (hasExited(child) || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { try { process.kill(child.pid as number, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    try { process.kill(child.pid as number, 'SIGTERM'); } catch { clearTimeout(timer); resolve(); }
  });
};
