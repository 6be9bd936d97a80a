/**
 * A tiny plain-HTTP listener for the daemon's side endpoints (/metrics, /healthz, health-check node ports).
 * Listening is the only I/O; failures reject with a SwitchyardError naming the address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SwitchyardError } from '../errors.ts';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listening {
  /** The port actually bound (differs from the requested one when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

const display = (host: string | undefined, port: number): string =>
  host === undefined ? `*:${port}` : host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** Listens on host:port (host undefined = every address, both families when possible). */
export const listenHttp = (host: string | undefined, port: number, handler: RequestHandler): Promise<Listening> =>
  new Promise((resolve, reject) => {
    const server: Server = createServer(handler);
    // Probes must not hold the process open on shutdown.
    server.keepAliveTimeout = 1_000;
    const onError = (e: NodeJS.ErrnoException): void => {
      server.close();
      reject(new SwitchyardError('ERR_EXEC', `cannot listen on ${display(host, port)}: ${e.code ?? e.message}`, { cause: e }));
    };
    server.once('error', onError);
    // reusePort: during a rollout the next pod listens beside this one (lib/handover/README.md).
    server.listen({ host, port, exclusive: true, reusePort: true }, () => {
      server.off('error', onError);
      const bound = (server.address() as AddressInfo).port;
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
