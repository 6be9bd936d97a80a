/**
 * A traffic agent: one long-lived process per client namespace, so a test sends hundreds of requests without
 * spawning a process per request. Listens on a unix socket (reachable from any netns) given by --socket and
 * serves the requests of agent-protocol.ts. Prints `{"ready":true}` on stdout once listening.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { connect, createServer, isIPv6, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DEFAULT_TIMEOUT_MS, formatEndpoint,
  type AgentFailure, type AgentRequest, type HttpResult, type TcpConnectResult, type UdpResult, type UdpStreamReply, type UdpStreamResult,
} from './agent-protocol.ts';

const failure = (e: unknown, started: number): AgentFailure => {
  const code = (e as { code?: unknown })?.code;
  return {
    error: typeof code === 'string' ? code : 'EUNKNOWN',
    message: e instanceof Error ? e.message : String(e),
    durationMs: Date.now() - started,
  };
};
const timeoutError = (): Error => Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });

/** One keep-alive connection per origin, reused by every keepAlive request (as a browser or an SDK would). */
const keepAliveAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 });

const doHttp = (req: Extract<AgentRequest, { op: 'http' }>): Promise<HttpResult | AgentFailure> => {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: HttpResult | AgentFailure) => { if (!settled) { settled = true; clearTimeout(timer); resolve(r); } };
    // agent:false -> a fresh connection per request, so every request is load-balanced on its own (unless keepAlive).
    const agent = req.keepAlive ? keepAliveAgent : false;
    const clientReq = httpRequest(req.url, { method: req.method ?? 'GET', headers: req.headers, agent, localAddress: req.localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        settle({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers, durationMs: Date.now() - started });
      });
      res.on('error', (e) => settle(failure(e, started)));
    });
    const timer = setTimeout(() => { settle(failure(timeoutError(), started)); clientReq.destroy(); }, req.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    clientReq.on('error', (e) => settle(failure(e, started)));
    clientReq.end();
  });
};

const doTcpConnect = (req: Extract<AgentRequest, { op: 'tcp-connect' }>): Promise<TcpConnectResult | AgentFailure> => {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: req.host, port: req.port });
    const timer = setTimeout(() => { socket.destroy(); resolve(failure(timeoutError(), started)); }, req.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ connected: true, localAddress: socket.localAddress ?? '', localPort: socket.localPort ?? 0, durationMs: Date.now() - started });
      socket.destroy();
    });
    socket.once('error', (e) => { clearTimeout(timer); resolve(failure(e, started)); });
  });
};

const doUdp = (req: Extract<AgentRequest, { op: 'udp' }>): Promise<UdpResult | AgentFailure> => {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(req.host) ? 'udp6' : 'udp4');
    const done = (r: UdpResult | AgentFailure) => { clearTimeout(timer); socket.close(); resolve(r); };
    const timer = setTimeout(() => done(failure(timeoutError(), started)), req.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    socket.once('message', (msg, rinfo) => done({ reply: msg.toString(), from: formatEndpoint(rinfo.address, rinfo.port), durationMs: Date.now() - started }));
    // A connected socket turns an ICMP port-unreachable into ECONNREFUSED instead of a silent timeout.
    socket.once('error', (e) => done(failure(e, started)));
    socket.connect(req.port, req.host, () => socket.send(req.payload ?? 'ping'));
  });
};

/** Sends `seq` datagrams from ONE source port every intervalMs, so conntrack sees a single long-lived flow. */
const doUdpStream = (req: Extract<AgentRequest, { op: 'udp-stream' }>): Promise<UdpStreamResult | AgentFailure> => {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(req.host) ? 'udp6' : 'udp4');
    const replies: UdpStreamReply[] = [];
    let sent = 0;
    let ticker: NodeJS.Timeout | undefined;
    let finish: NodeJS.Timeout | undefined;
    const done = (r: UdpStreamResult | AgentFailure) => { clearInterval(ticker); clearTimeout(finish); socket.close(); resolve(r); };
    socket.on('message', (msg, rinfo) => {
      const data = msg.toString();
      let seq = -1;
      try { seq = Number((JSON.parse(data) as { payload?: string }).payload?.split(' ')[1] ?? -1); } catch { /* not an echo reply */ }
      replies.push({ seq, atMs: Date.now() - started, data, from: formatEndpoint(rinfo.address, rinfo.port) });
    });
    // Refused datagrams (no listener) must not end the stream: the point is to watch a flow across rule changes.
    socket.on('error', () => { /* recorded as missing replies */ });
    socket.bind(0, () => {
      const send = () => { socket.send(`seq ${sent}`, req.port, req.host); sent++; };
      send();
      ticker = setInterval(send, Math.max(1, req.intervalMs));
      finish = setTimeout(() => {
        clearInterval(ticker);
        // Leave a moment for the last reply.
        finish = setTimeout(() => done({ sent, localPort: socket.address().port, replies, durationMs: Date.now() - started }), Math.min(500, req.timeoutMs ?? 500));
      }, req.durationMs);
    });
  });
};

const handle = async (req: AgentRequest): Promise<unknown> => {
  switch (req.op) {
    case 'http': return doHttp(req);
    case 'tcp-connect': return doTcpConnect(req);
    case 'udp': return doUdp(req);
    case 'udp-stream': return doUdpStream(req);
    default: return { error: 'EBADREQUEST', message: `unknown op ${JSON.stringify((req as { op?: unknown }).op)}`, durationMs: 0 };
  }
};

const main = (): void => {
  const { values } = parseArgs({ options: { socket: { type: 'string' } } });
  const path = values.socket;
  if (!path) throw new Error('--socket PATH is required');
  rmSync(path, { force: true });
  const server = createServer((conn) => {
    let buffer = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.trim()) continue;
        let id: unknown = null;
        void (async () => {
          let response: unknown;
          try {
            const parsed = JSON.parse(line) as AgentRequest & { id?: unknown };
            id = parsed.id;
            response = await handle(parsed);
          } catch (e) {
            response = { error: 'EBADREQUEST', message: e instanceof Error ? e.message : String(e), durationMs: 0 };
          }
          if (!conn.destroyed) conn.write(JSON.stringify({ id, response }) + '\n');
        })();
      }
    });
    conn.on('error', () => { /* client went away */ });
  });
  server.listen(path, () => process.stdout.write(JSON.stringify({ ready: true, socket: path }) + '\n'));
  const stop = () => { server.close(); rmSync(path, { force: true }); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
};

try {
  main();
} catch (e) {
  process.stderr.write(`agent: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
