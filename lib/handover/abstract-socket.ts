/**
 * The writer lease on a Linux abstract Unix socket. Abstract names live in the network namespace, so every
 * hostNetwork pod on a node (and only those) shares one; the kernel frees the name when its holder dies, crashed or
 * not, so a lease is never left behind.
 *
 * Protocol, one line each way: the requester connects and writes `release\n`; the holder stops writing rules,
 * closes its listener (freeing the name) and answers `released\n`.
 */
import { connect, createServer, type Server } from 'node:net';
import type { LeaseBinding, LeaseTransport } from './transport.ts';

const REQUEST = 'release\n';
const ANSWER = 'released\n';
/** A request line longer than this is not ours: the connection is dropped unanswered. */
const MAX_REQUEST_BYTES = 64;

export class AbstractSocketTransport implements LeaseTransport {
  readonly #path: string;

  /** `name` without the leading NUL. */
  constructor(name: string) {
    this.#path = `\0${name}`;
  }

  bind(onHandoverRequest: () => Promise<void>): Promise<LeaseBinding | undefined> {
    return new Promise((resolve, reject) => {
      const server: Server = createServer((socket) => {
        let received = '';
        socket.setEncoding('utf8');
        socket.on('error', () => socket.destroy());
        socket.on('data', (chunk: string) => {
          received += chunk;
          if (received.length > MAX_REQUEST_BYTES) socket.destroy();
          if (received !== REQUEST) return;
          void onHandoverRequest()
            .catch(() => undefined)
            .then(() => binding.release())
            .then(() => socket.end(ANSWER));
        });
      });
      const binding: LeaseBinding = {
        // close() frees the name at once; its callback would wait for the requester's connection, still open here.
        release: () => {
          if (server.listening) server.close();
          return Promise.resolve();
        },
      };
      server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
      // Handover connections must not keep the process alive on their own.
      server.listen({ path: this.#path }, () => {
        server.unref();
        resolve(binding);
      });
    });
  }

  isHeld(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect({ path: this.#path });
      // The holder reads nothing from a connection that closes without a request line.
      socket.on('connect', () => {
        socket.destroy();
        resolve(true);
      });
      // ECONNREFUSED: nobody listens on the name.
      socket.on('error', () => resolve(false));
    });
  }

  requestHandover(timeoutMs: number): Promise<'released' | 'timeout'> {
    return new Promise((resolve) => {
      const socket = connect({ path: this.#path });
      let answer = '';
      let settled = false;
      const finish = (result: 'released' | 'timeout'): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(REQUEST));
      socket.on('data', (chunk: string) => {
        answer += chunk;
        if (answer.startsWith(ANSWER)) finish('released');
      });
      // Refused: nobody listens (the holder is gone). Closed unanswered: the holder died meanwhile. Either way the
      // caller's next bind() tells whether the name is free.
      socket.on('error', () => finish('released'));
      socket.on('close', () => finish('released'));
    });
  }
}
