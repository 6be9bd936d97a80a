/**
 * Talks to one traffic agent over its unix socket: one connection, many requests in flight, matched by id.
 * Failures of the traffic itself come back as values ({error: 'ECONNREFUSED', ...}); only a dead agent rejects.
 */
import { connect, type Socket } from 'node:net';
import {
  type AgentFailure, type AgentRequest, type AgentResponse, type EchoHttpBody,
  type HttpResult, type TcpConnectResult, type UdpResult, type UdpStreamResult,
} from './agent-protocol.ts';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class AgentClient {
  readonly name: string;
  readonly socketPath: string;
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = '';

  constructor(name: string, socketPath: string) {
    this.name = name;
    this.socketPath = socketPath;
  }

  http(url: string, options: { timeoutMs?: number; headers?: Record<string, string>; method?: string; localAddress?: string; keepAlive?: boolean } = {}): Promise<AgentResponse<HttpResult>> {
    return this.request({ op: 'http', url, ...options });
  }

  /** http() whose body is parsed as the echo server's JSON; failures and non-JSON bodies pass through as failures. */
  async echo(url: string, options: { timeoutMs?: number; headers?: Record<string, string>; keepAlive?: boolean } = {}): Promise<AgentResponse<EchoHttpBody & { status: number }>> {
    const r = await this.http(url, options);
    if ('error' in r) return r;
    try {
      return { ...(JSON.parse(r.body) as EchoHttpBody), status: r.status };
    } catch {
      return { error: 'EBADBODY', message: `status ${r.status}: ${r.body.slice(0, 200)}`, durationMs: r.durationMs };
    }
  }

  tcpConnect(host: string, port: number, options: { timeoutMs?: number } = {}): Promise<AgentResponse<TcpConnectResult>> {
    return this.request({ op: 'tcp-connect', host, port, ...options });
  }

  udp(host: string, port: number, payload = 'ping', options: { timeoutMs?: number } = {}): Promise<AgentResponse<UdpResult>> {
    return this.request({ op: 'udp', host, port, payload, ...options });
  }

  udpStream(host: string, port: number, options: { intervalMs: number; durationMs: number }): Promise<AgentResponse<UdpStreamResult>> {
    return this.request({ op: 'udp-stream', host, port, ...options });
  }

  async request<T>(req: AgentRequest): Promise<T | AgentFailure> {
    const socket = await this.connect();
    const id = this.nextId++;
    return new Promise<T | AgentFailure>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      socket.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.connecting = undefined;
  }

  private connect(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect(this.socketPath);
      socket.setEncoding('utf8');
      socket.once('connect', () => { this.socket = socket; resolve(socket); });
      socket.on('data', (chunk: string) => this.onData(chunk));
      socket.on('error', (e) => { reject(e); this.failAll(e); });
      socket.on('close', () => {
        this.failAll(new Error(`agent ${this.name} closed its socket`));
        this.socket = undefined;
        this.connecting = undefined;
      });
    });
    return this.connecting;
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      try {
        const { id, response } = JSON.parse(line) as { id: number; response: unknown };
        const p = this.pending.get(id);
        this.pending.delete(id);
        p?.resolve(response);
      } catch { /* ignore a garbled line; the request will be failed on close */ }
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(new Error(`agent ${this.name} (${this.socketPath}): ${e.message}`));
    this.pending.clear();
  }
}
