/**
 * Helper run inside a network namespace by perf/nftables-scale.ts (via `ip netns exec`):
 *   listen <port>[,<port>…] <expect> <maxMs> accept and close connections; exit after <expect> of them or maxMs
 *   connect <ip> <port> <count> <warmupMs>  open <count> fresh TCP connections one after another and print the
 *                                          connect times (ms) as JSON; retries refused connections for warmupMs first
 */
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);

const listen = (ports: number[], expect: number, maxMs: number): void => {
  let accepted = 0;
  const stop = (): void => {
    process.stdout.write(String(accepted));
    process.exit(0);
  };
  for (const port of ports) {
    net
      .createServer((s) => {
        s.on('error', () => undefined);
        s.end();
        if (++accepted >= expect) setTimeout(stop, 50);
      })
      .listen(port, '0.0.0.0');
  }
  setTimeout(stop, maxMs);
};

const connectOnce = (ip: string, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = net.connect({ host: ip, port });
    s.setTimeout(5000, () => s.destroy(new Error('connect timeout')));
    s.once('connect', () => {
      const ms = performance.now() - t0;
      s.destroy();
      resolve(ms);
    });
    s.once('error', reject);
  });

const connect = async (ip: string, port: number, count: number, warmupMs: number): Promise<void> => {
  const until = performance.now() + warmupMs;
  for (;;) {
    try {
      await connectOnce(ip, port);
      break;
    } catch (e) {
      if (performance.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await connectOnce(ip, port));
  process.stdout.write(JSON.stringify(times));
};

if (mode === 'listen') {
  listen(args[0]!.split(',').map(Number), Number(args[1]), Number(args[2]));
} else if (mode === 'connect') {
  connect(args[0]!, Number(args[1]), Number(args[2]), Number(args[3])).catch((e: unknown) => {
    process.stderr.write(`connect failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
} else {
  process.stderr.write('usage: netns-probe.ts listen <ports> <expect> <maxMs> | connect <ip> <port> <count> <warmupMs>\n');
  process.exit(2);
}
