/**
 * Traffic helpers over the sandbox's agents: polling with deadlines (never a blind sleep), samples of many
 * requests counted by answering pod, and a background request loop for "does traffic keep flowing" checks.
 */
import type { AgentClient } from '../../../lib/sandbox/agent-client.ts';
import { isFailure, type AgentFailure, type EchoHttpBody } from '../../../lib/sandbox/agent-protocol.ts';
import { clientIP } from '../../support/netns.ts';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` every intervalMs until it returns something other than undefined; throws after timeoutMs with
 * `what` and the last thing the probe described.
 */
export const until = async <T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<{ value: T; ms: number }> => {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 5_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return { value, ms: Date.now() - started };
    if (Date.now() > deadline) {
      throw new Error(`${what}: not seen within ${options.timeoutMs ?? 5_000} ms${options.describe ? ` (last: ${options.describe()})` : ''}`);
    }
    await pause(options.intervalMs ?? 50);
  }
};

export interface EchoAnswer { readonly pod: string; readonly clientIP: string }
export type Outcome = EchoAnswer | AgentFailure;

export const describeOutcome = (o: Outcome): string => (isFailure(o) ? `${o.error} after ${o.durationMs} ms` : `${o.pod} (client ${o.clientIP})`);

const toAnswer = (r: (EchoHttpBody & { status: number }) | AgentFailure): Outcome =>
  isFailure(r) ? r : { pod: r.pod, clientIP: clientIP(r.client) };

export const echoOnce = async (agent: AgentClient, url: string, options: { timeoutMs?: number; localAddress?: string; keepAlive?: boolean } = {}): Promise<Outcome> => {
  if (options.localAddress === undefined) {
    return toAnswer(await agent.echo(url, { timeoutMs: options.timeoutMs ?? 2_000, ...(options.keepAlive ? { keepAlive: true } : {}) }));
  }
  // echo() has no localAddress; http() does, and the body is the same JSON.
  const r = await agent.http(url, { timeoutMs: options.timeoutMs ?? 2_000, localAddress: options.localAddress });
  if (isFailure(r)) return r;
  try {
    return toAnswer({ ...(JSON.parse(r.body) as EchoHttpBody), status: r.status });
  } catch {
    return { error: 'EBADBODY', message: r.body.slice(0, 200), durationMs: r.durationMs };
  }
};

export interface Sample {
  readonly answers: readonly EchoAnswer[];
  readonly failures: readonly AgentFailure[];
  /** Answers per pod. */
  readonly pods: ReadonlyMap<string, number>;
  readonly clientIPs: ReadonlySet<string>;
  readonly summary: string;
}

const summarise = (outcomes: readonly Outcome[]): Sample => {
  const answers = outcomes.filter((o): o is EchoAnswer => !isFailure(o));
  const failures = outcomes.filter(isFailure);
  const pods = new Map<string, number>();
  for (const a of answers) pods.set(a.pod, (pods.get(a.pod) ?? 0) + 1);
  const errors = new Map<string, number>();
  for (const f of failures) errors.set(f.error, (errors.get(f.error) ?? 0) + 1);
  const summary = [...[...pods].map(([p, n]) => `${p}×${n}`), ...[...errors].map(([e, n]) => `✗${e}×${n}`)].join(' ');
  return { answers, failures, pods, clientIPs: new Set(answers.map((a) => a.clientIP)), summary };
};

/** n requests at once (each a fresh connection, so each is balanced on its own). */
export const sampleParallel = async (agent: AgentClient, url: string, n: number, options: { timeoutMs?: number; localAddress?: string } = {}): Promise<Sample> =>
  summarise(await Promise.all(Array.from({ length: n }, () => echoOnce(agent, url, options))));

/** n requests one after the other (for affinity: each must see the state the previous one left). */
export const sampleSequential = async (agent: AgentClient, url: string, n: number, options: { timeoutMs?: number } = {}): Promise<Sample> => {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < n; i++) outcomes.push(await echoOnce(agent, url, options));
  return summarise(outcomes);
};

export interface LoopRecord { readonly at: number; readonly outcome: Outcome }

/** Requests back to back (with `intervalMs` between them) until stop(); every outcome timestamped at completion. */
export class RequestLoop {
  readonly records: LoopRecord[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  /** keepAlive: every request on the agent's one kept-alive connection (reopened when the server closes it). */
  constructor(agent: AgentClient, url: string, options: { intervalMs?: number; timeoutMs?: number; keepAlive?: boolean } = {}) {
    this.done = (async () => {
      while (!this.stopped) {
        const outcome = await echoOnce(agent, url, { timeoutMs: options.timeoutMs ?? 1_000, ...(options.keepAlive ? { keepAlive: true } : {}) });
        this.records.push({ at: Date.now(), outcome });
        await pause(options.intervalMs ?? 20);
      }
    })();
  }

  successesSince(at: number): number {
    return this.records.filter((r) => r.at >= at && !isFailure(r.outcome)).length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Failures, and the longest time between two consecutive successful answers. */
  /** `maxGapEndedAt`: when the answer that ended the longest pause came (0 with fewer than two answers). */
  report(): { total: number; failures: LoopRecord[]; maxGapMs: number; maxGapEndedAt: number } {
    const ok = this.records.filter((r) => !isFailure(r.outcome));
    let maxGapMs = 0;
    let maxGapEndedAt = 0;
    for (let i = 1; i < ok.length; i++) {
      const gap = (ok[i] as LoopRecord).at - (ok[i - 1] as LoopRecord).at;
      if (gap > maxGapMs) [maxGapMs, maxGapEndedAt] = [gap, (ok[i] as LoopRecord).at];
    }
    return { total: this.records.length, failures: this.records.filter((r) => isFailure(r.outcome)), maxGapMs, maxGapEndedAt };
  }
}
