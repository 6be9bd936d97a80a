/**
 * The real daemon (dist/cmd/switchyard.js) running inside a sandbox node namespace: start, stop by PID with the
 * time it took, and its output kept as lines so scenarios can look for a log line.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../../../lib/sandbox/sandbox.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DAEMON_SCRIPT = fileURLToPath(new URL('../../../dist/cmd/switchyard.js', import.meta.url));

export type ProxyMode = 'nftables' | 'iptables';

/** Why the daemon cannot be started from dist/, or undefined. */
export const missingBuild = (): string | undefined =>
  existsSync(DAEMON_SCRIPT) ? undefined : `${DAEMON_SCRIPT} is missing: run \`tsc -p tsconfig.build.json\` first`;

export const daemonArgv = (mode: ProxyMode, manifestsDir: string, nodeName: string): string[] => [
  process.execPath, DAEMON_SCRIPT,
  '--proxy-mode', mode,
  '--manifests', manifestsDir,
  '--hostname-override', nodeName,
  // The pods' IPv6 CIDRs are fd00:244:1::/64 and fd00:244:2::/64, so the cluster CIDR must be /32 (fd00:244::/48
  // would hold only fd00:244:0::/48 and every IPv6 pod would count as outside the cluster and be masqueraded).
  '--cluster-cidr', '10.244.0.0/16,fd00:244::/32',
  '--healthz-bind-address', '', '--metrics-bind-address', '',
  '--ingress-http-address', '', '--ingress-https-address', '',
  // The default (1 s, bursts of 2, as kube-proxy) makes a change that follows another within a second wait for the
  // rate limit; the scenarios measure how fast the dataplane follows, so they run with a shorter minimum.
  '--min-sync-period', '250ms',
];

export class DaemonProcess {
  readonly node: string;
  readonly lines: string[] = [];
  private readonly sandbox: Sandbox;
  private readonly argv: readonly string[];
  private child: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

  constructor(sandbox: Sandbox, node: string, argv: readonly string[]) {
    this.sandbox = sandbox;
    this.node = node;
    this.argv = argv;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) throw new Error(`daemon in ${this.node} already runs (pid ${this.pid})`);
    const child = this.sandbox.spawn(this.node, this.argv, { cwd: REPO_ROOT, env: process.env });
    let partial = '';
    const collect = (chunk: Buffer): void => {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts.filter(Boolean));
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child = child;
  }

  /** Lines printed since `from` (an index into lines) that contain `needle`. */
  linesWith(needle: string, from = 0): string[] {
    return this.lines.slice(from).filter((l) => l.includes(needle));
  }

  /** SIGTERM by PID; resolves with how long the process took to exit (SIGKILL after graceMs). */
  async stop(graceMs = 6_000): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    const child = this.child;
    if (!child || !this.exited || !this.running || child.pid === undefined) return { ms: 0, code: child?.exitCode ?? null, signal: child?.signalCode ?? null, killed: false };
    const started = Date.now();
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try { process.kill(child.pid as number, 'SIGKILL'); } catch { /* gone */ }
    }, graceMs);
    try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
    const result = await this.exited;
    clearTimeout(timer);
    return { ms: Date.now() - started, ...result, killed };
  }

  /** The last lines, for failure messages. */
  tail(n = 20): string {
    return this.lines.slice(-n).join('\n');
  }
}
