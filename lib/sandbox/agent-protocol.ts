/**
 * The traffic agent's wire format: newline-delimited JSON over a unix socket, each request carrying an `id` that
 * its response echoes, so one connection carries many requests at once.
 */
import { joinHostPort } from '../model/ip.ts';

export type AgentRequest =
  | { readonly op: 'http'; readonly url: string; readonly timeoutMs?: number; readonly headers?: Readonly<Record<string, string>>; readonly method?: string; readonly localAddress?: string; readonly keepAlive?: boolean }
  | { readonly op: 'tcp-connect'; readonly host: string; readonly port: number; readonly timeoutMs?: number }
  | { readonly op: 'udp'; readonly host: string; readonly port: number; readonly payload?: string; readonly timeoutMs?: number }
  | { readonly op: 'udp-stream'; readonly host: string; readonly port: number; readonly intervalMs: number; readonly durationMs: number; readonly timeoutMs?: number };

/** A failure is a stable code as Node reports it (ECONNREFUSED, ETIMEDOUT, ECONNRESET, EHOSTUNREACH, ...). */
export interface AgentFailure { readonly error: string; readonly message?: string; readonly durationMs: number }

export interface HttpResult { readonly status: number; readonly body: string; readonly headers: Readonly<Record<string, string>>; readonly durationMs: number }
export interface TcpConnectResult { readonly connected: true; readonly localAddress: string; readonly localPort: number; readonly durationMs: number }
export interface UdpResult { readonly reply: string; readonly from: string; readonly durationMs: number }
export interface UdpStreamReply { readonly seq: number; readonly atMs: number; readonly data: string; readonly from: string }
export interface UdpStreamResult { readonly sent: number; readonly localPort: number; readonly replies: readonly UdpStreamReply[]; readonly durationMs: number }

export type AgentResponse<T> = T | AgentFailure;
export const isFailure = (r: unknown): r is AgentFailure =>
  typeof r === 'object' && r !== null && typeof (r as { error?: unknown }).error === 'string';

export const DEFAULT_TIMEOUT_MS = 3000;

/** What the echo server answers; `client` is `ip:port` ([ip]:port for IPv6) as the pod saw it. */
export interface EchoHttpBody {
  readonly pod: string;
  readonly client: string;
  readonly host: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly port: number;
}
export interface EchoUdpBody { readonly pod: string; readonly client: string; readonly port: number; readonly payload: string }

/** `::ffff:10.0.0.1` -> `10.0.0.1`; IPv6 addresses get brackets when joined with a port. */
export const formatEndpoint = (address: string | undefined, port: number | undefined): string =>
  joinHostPort((address ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, ''), port ?? 0);
