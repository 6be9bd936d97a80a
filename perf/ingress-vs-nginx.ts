/**
 * Switchyard's ingress proxy against nginx as a reverse proxy, on 127.0.0.1 only. Prints a table; not a test.
 *
 *   node perf/ingress-vs-nginx.ts [--runs 5] [--duration 10s] [--connections 50] [--only http|https]
 *                                 [--no-pin] [--syscalls] [--cpu-prof DIR] [--floor] [--paced MS]
 *                                 [--warmup 15s] [--alt-node PATH]
 *
 * Upstream: a third nginx (worker_processes 1) answering `return 200` from memory, so neither proxy waits on a
 * slow backend. Both proxies: one worker (switchyard is one Node process), keep-alive to the upstream (nginx
 * `keepalive 64` + HTTP/1.1; switchyard's undici pool), the same forwarded headers. wrk: `-t1 -c50 --latency`,
 * keep-alive, plain HTTP and TLS (self-signed P-256 certificates on both). Runs alternate between the two proxies;
 * the figure per cell is the median of the runs. Pinning (default; `--no-pin` turns it off): the proxy under test
 * (nginx's worker or the switchyard process) alone on CPU 1, wrk and the upstream nginx on CPU 0. `--syscalls`
 * adds one `strace -c -f` run per proxy and prints syscalls per request. `--floor` adds a minimal forwarder on
 * Node's net and tls sockets (perf/node-floor-proxy.ts): what any Node proxy costs at least.
 * `--paced MS` (default 5; 0 = off) adds a second pass below saturation: every connection waits MS ms after each
 * response before its next request (wrk's script `delay()`), so each proxy gets the same offered load, about
 * connections × 1000 / MS req/s, and its latency shows what it adds when it is not the bottleneck — the saturated
 * pass measures queueing on one full core as much as the proxy.
 * `--warmup DUR` (default 15s) loads each target once, unmeasured, before the runs: V8 keeps optimizing and
 * deoptimizing the request path for the first ≈ 20–30 s under load, and a proxy is judged in its steady state.
 * `--alt-node PATH` adds a contender `alt`: the same switchyard proxy under another Node binary (a newer runtime).
 * See perf/README-ingress.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NGINX = '/usr/sbin/nginx';
const WRK = '/usr/bin/wrk';
const OPENSSL = '/usr/bin/openssl';
const TASKSET = '/usr/bin/taskset';
const STRACE = '/usr/bin/strace';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const RUNS = Number(arg('runs', '5'));
const DURATION = arg('duration', '10s');
const CONNECTIONS = Number(arg('connections', '50'));
const CPU_PROF = arg('cpu-prof', '');
const ONLY = arg('only', '');
const PIN = !flag('no-pin');
const SYSCALLS = flag('syscalls');
const FLOOR = flag('floor');
const PACED_MS = Number(arg('paced', '5'));
const WARMUP = arg('warmup', '15s');
const ALT_NODE = arg('alt-node', '');
/** CPU 1: the proxy under test, alone. CPU 0: wrk and the upstream nginx (the load generator side). */
const PROXY_CPU = '1';
const LOAD_CPU = '0';
const pinned = (cpu: string, cmd: string, args: string[]): [string, string[]] =>
  PIN ? [TASKSET, ['-c', cpu, cmd, ...args]] : [cmd, args];

const tools = [[NGINX, 'apt-get install -y nginx-light'], [WRK, 'apt-get install -y wrk'], [OPENSSL, 'apt-get install -y openssl']];
if (PIN) tools.push([TASKSET, 'apt-get install -y util-linux']);
if (SYSCALLS) tools.push([STRACE, 'apt-get install -y strace']);
for (const [tool, hint] of tools) {
  if (!existsSync(tool!)) {
    console.error(`${tool} is missing (install it for this benchmark only: ${hint})`);
    process.exit(2);
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

const work = mkdtempSync(join(tmpdir(), 'switchyard-ingress-perf-'));
const children: ChildProcess[] = [];
const cleanup = (): void => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGTERM');
};
process.on('exit', () => {
  cleanup();
  rmSync(work, { recursive: true, force: true });
});

execFileSync(OPENSSL, [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
  '-subj', '/CN=bench.local', '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem'),
], { stdio: 'ignore' });

type Ports = [number, number, number, number, number, number, number, number, number];
const [upstreamPort, nginxHttp, nginxHttps, syHttp, syHttps, floorHttp, floorHttps, altHttp, altHttps] =
  (await Promise.all(Array.from({ length: 9 }, freePort))) as Ports;

const nginxConf = (name: string, body: string): string => {
  const dir = join(work, name);
  execFileSync('/bin/mkdir', ['-p', dir]);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
${body}
}
`,
  );
  return conf;
};

const upstreamConf = nginxConf(
  'upstream',
  `  server { listen 127.0.0.1:${upstreamPort}; location / { default_type text/plain; return 200 "ok\\n"; } }`,
);
const proxyConf = nginxConf(
  'proxy',
  `  upstream backend { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  map $http_x_request_id $rid { default $http_x_request_id; "" $request_id; }
  server {
    listen 127.0.0.1:${nginxHttp};
    listen 127.0.0.1:${nginxHttps} ssl;
    ssl_certificate ${work}/cert.pem; ssl_certificate_key ${work}/key.pem;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Request-ID $rid;
      proxy_buffering on;
    }
  }`,
);

const start = (cmd: string, args: string[], readyLine?: string): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${cmd} exited early (${code})`)));
    if (!readyLine) return void setTimeout(() => resolve(child), 300);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes(readyLine)) resolve(child);
    });
  });

await start(...pinned(LOAD_CPU, NGINX, ['-c', upstreamConf, '-e', join(work, 'upstream', 'error.log')]));
// taskset execs nginx, and nginx's worker inherits the master's affinity.
const nginxProxy = await start(...pinned(PROXY_CPU, NGINX, ['-c', proxyConf, '-e', join(work, 'proxy', 'error.log')]));
// The image runs Node with NODE_OPTIONS=--max-semi-space-size=16 (Dockerfile); so do the Node processes here.
const nodeArgs = ['--max-semi-space-size=16', ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [])];
const startSwitchyard = (node: string, http: number, https: number): Promise<ChildProcess> =>
  start(
    ...pinned(PROXY_CPU, node, [
      ...nodeArgs,
      join(import.meta.dirname, 'ingress-proxy-child.ts'),
      String(http),
      String(https),
      String(upstreamPort),
    ]),
    'ready',
  );
const switchyard = await startSwitchyard(process.execPath, syHttp, syHttps);
const alt = ALT_NODE ? await startSwitchyard(ALT_NODE, altHttp, altHttps) : undefined;

const floor = FLOOR
  ? await start(
      ...pinned(PROXY_CPU, process.execPath, [
        '--max-semi-space-size=16',
        join(import.meta.dirname, 'node-floor-proxy.ts'), String(floorHttp), String(upstreamPort),
        String(floorHttps), join(work, 'cert.pem'), join(work, 'key.pem'),
      ]),
      'ready',
    )
  : undefined;

interface Result {
  readonly rps: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly errors: number;
  readonly requests: number;
  /** Busy share of each CPU during the run (0–1), from /proc/stat: shows whether the load side saturated. */
  readonly cpuBusy: readonly number[];
  /**
   * CPU time the proxy process spent per request (user + system, all threads), in µs. Unlike req/s this barely
   * depends on what else the shared machine runs at the time, so it is the steadier measure of per-request cost.
   */
  readonly cpuUsPerRequest: number;
  /** The user and system parts of cpuUsPerRequest. */
  readonly userUsPerRequest: number;
  readonly sysUsPerRequest: number;
}

const CLOCK_TICKS_PER_S = 100; // Linux USER_HZ
/** [utime, stime] of a process (all its threads), in clock ticks. */
const processTicks = (pid: number): [number, number] => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[11]), Number(fields[12])]; // fields 14 and 15 of proc(5), counted from `state` = 3
};

/** Per-CPU [busy, total] jiffies. */
const cpuTimes = (): Array<[number, number]> =>
  readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const v = l.trim().split(/\s+/).slice(1).map(Number);
      const total = v.reduce((a, b) => a + b, 0);
      return [total - v[3]! - v[4]!, total]; // minus idle and iowait
    });

const toMs = (v: string, unit: string): number => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? Number.NaN);

/** The wrk script of the paced pass: each connection pauses PACED_MS after every response. */
const pacedScript = join(work, 'paced.lua');
writeFileSync(pacedScript, `function delay()\n  return ${PACED_MS}\nend\n`);

const wrk = (url: string, proxyPid: number, duration = DURATION, paced = false): Result => {
  const before = cpuTimes();
  const proxyBefore = processTicks(proxyPid);
  const script = paced ? ['-s', pacedScript] : [];
  const out = execFileSync(
    ...pinned(LOAD_CPU, WRK, ['-t1', `-c${CONNECTIONS}`, `-d${duration}`, '--latency', ...script, url]),
    { encoding: 'utf8' },
  );
  const after = cpuTimes();
  const proxyAfter = processTicks(proxyPid);
  const userTicks = proxyAfter[0] - proxyBefore[0];
  const sysTicks = proxyAfter[1] - proxyBefore[1];
  const cpuBusy = after.map(([b, t], i) => (b - before[i]![0]) / Math.max(1, t - before[i]![1]));
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s|m)\b/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s|m)\b/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((s, n) => s + Number(n), 0) : 0);
  if (!p50 || !p99 || Number.isNaN(rps)) throw new Error(`cannot parse wrk output:\n${out}`);
  const perRequest = (ticks: number): number => ((ticks / CLOCK_TICKS_PER_S) * 1e6) / requests;
  return {
    rps,
    p50ms: toMs(p50[1]!, p50[2]!),
    p99ms: toMs(p99[1]!, p99[2]!),
    errors,
    requests,
    cpuBusy,
    cpuUsPerRequest: perRequest(userTicks + sysTicks),
    userUsPerRequest: perRequest(userTicks),
    sysUsPerRequest: perRequest(sysTicks),
  };
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// The worker, not the master, serves requests (the only child of the proxy nginx's master).
const nginxWorker = Number(
  readFileSync(`/proc/${nginxProxy.pid}/task/${nginxProxy.pid}/children`, 'utf8').trim().split(/\s+/)[0],
);
const allTargets = {
  'nginx http': `http://127.0.0.1:${nginxHttp}/`,
  'switchyard http': `http://127.0.0.1:${syHttp}/`,
  'nginx https': `https://127.0.0.1:${nginxHttps}/`,
  'switchyard https': `https://127.0.0.1:${syHttps}/`,
  'floor http': `http://127.0.0.1:${floorHttp}/`,
  'floor https': `https://127.0.0.1:${floorHttps}/`,
  'alt http': `http://127.0.0.1:${altHttp}/`,
  'alt https': `https://127.0.0.1:${altHttps}/`,
} as const;
const pidOf = (target: string): number =>
  target.startsWith('nginx')
    ? nginxWorker
    : target.startsWith('floor')
      ? floor!.pid!
      : target.startsWith('alt')
        ? alt!.pid!
        : switchyard.pid!;
type Target = keyof typeof allTargets;
const protos = (['http', 'https'] as const).filter((p) => !ONLY || p === ONLY);
const targets = Object.fromEntries(
  Object.entries(allTargets).filter(
    ([name]) =>
      protos.some((p) => name.endsWith(` ${p}`)) &&
      (FLOOR || !name.startsWith('floor')) &&
      (ALT_NODE !== '' || !name.startsWith('alt')),
  ),
) as Partial<Record<Target, string>>;

// Warm-up (JIT, pools, TLS session setup) — not measured.
for (const [name, url] of Object.entries(targets)) wrk(url, pidOf(name), WARMUP);

/** RUNS interleaved rounds over every target; `describe` is the progress line of one run. */
const measureAll = (paced: boolean, describe: (r: Result) => string): Map<Target, Result[]> => {
  const all = new Map<Target, Result[]>();
  for (let run = 0; run < RUNS; run++) {
    for (const [name, url] of Object.entries(targets) as Array<[Target, string]>) {
      const r = wrk(url, pidOf(name), DURATION, paced);
      all.set(name, [...(all.get(name) ?? []), r]);
      console.error(`${paced ? 'paced ' : ''}run ${run + 1}/${RUNS} ${name}: ${describe(r)}${r.errors ? `, ${r.errors} errors` : ''}`);
    }
  }
  return all;
};

const results = measureAll(false, (r) => {
  const busy = r.cpuBusy.map((b, i) => `cpu${i} ${(b * 100).toFixed(0)}%`).join(' ');
  return `${r.rps.toFixed(0)} req/s, p99 ${r.p99ms.toFixed(2)} ms, ${r.cpuUsPerRequest.toFixed(1)} µs CPU/req, ${busy}`;
});
const paced = PACED_MS > 0
  ? measureAll(true, (r) => `${r.rps.toFixed(0)} req/s, p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms`)
  : new Map<Target, Result[]>();

const summary = (name: Target, from = results) => {
  const rs = from.get(name)!;
  return {
    rps: median(rs.map((r) => r.rps)),
    p50ms: median(rs.map((r) => r.p50ms)),
    p99ms: median(rs.map((r) => r.p99ms)),
    cpuUs: median(rs.map((r) => r.cpuUsPerRequest)),
    userUs: median(rs.map((r) => r.userUsPerRequest)),
    sysUs: median(rs.map((r) => r.sysUsPerRequest)),
    errors: rs.reduce((s, r) => s + r.errors, 0),
  };
};
console.log(
  `\nwrk -t1 -c${CONNECTIONS} -d${DURATION} --latency, median of ${RUNS} interleaved runs, 127.0.0.1, ` +
    `${execFileSync('/usr/bin/nproc', { encoding: 'utf8' }).trim()} cores (shared), ` +
    (PIN ? `proxy pinned to cpu${PROXY_CPU}, wrk + upstream to cpu${LOAD_CPU}` : 'not pinned') +
    `, ${WARMUP} warm-up per target; switchyard on Node ${process.version}` +
    (ALT_NODE ? `, alt on Node ${execFileSync(ALT_NODE, ['--version'], { encoding: 'utf8' }).trim()}\n` : '\n'),
);
console.log(
  '| proto | nginx req/s | switchyard req/s | ratio (≥ 0.9) | nginx p99 ms | switchyard p99 ms | ratio (≤ 1.2) | ' +
    'nginx µs CPU/req | switchyard µs CPU/req | errors |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const proto of protos) {
  const n = summary(`nginx ${proto}`);
  const s = summary(`switchyard ${proto}`);
  console.log(
    `| ${proto} | ${n.rps.toFixed(0)} | ${s.rps.toFixed(0)} | ${(s.rps / n.rps).toFixed(2)} | ${n.p99ms.toFixed(2)} | ${s.p99ms.toFixed(2)} | ${(s.p99ms / n.p99ms).toFixed(2)} | ` +
      `${n.cpuUs.toFixed(1)} | ${s.cpuUs.toFixed(1)} | ${n.errors}/${s.errors} |`,
  );
}
// Paired ratios: a round's nginx and switchyard runs follow each other, so they share most of what the shared
// machine is doing at the time; the median of the round-by-round ratios is less swayed by that than the ratio
// of the two medians above.
console.log('\nRound by round (contender / nginx in the same round):\n');
console.log('| target | req/s ratios | median (≥ 0.9) | p99 ratios | median (≤ 1.2) |');
console.log('| --- | --- | --- | --- | --- |');
for (const name of Object.keys(targets) as Target[]) {
  if (name.startsWith('nginx')) continue;
  const n = results.get(`nginx ${name.split(' ')[1]}` as Target)!;
  const s = results.get(name)!;
  const rps = s.map((r, i) => r.rps / n[i]!.rps);
  const p99 = s.map((r, i) => r.p99ms / n[i]!.p99ms);
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  console.log(`| ${name} | ${list(rps)} | ${median(rps).toFixed(2)} | ${list(p99)} | ${median(p99).toFixed(2)} |`);
}
console.log('\nCPU per request, user + system (medians, µs):\n');
console.log('| target | user | system | total | req/s | p99 ms |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const name of Object.keys(targets) as Target[]) {
  const r = summary(name);
  console.log(
    `| ${name} | ${r.userUs.toFixed(1)} | ${r.sysUs.toFixed(1)} | ${r.cpuUs.toFixed(1)} | ${r.rps.toFixed(0)} | ${r.p99ms.toFixed(2)} |`,
  );
}
if (PACED_MS > 0) {
  console.log(
    `\nBelow saturation: each connection waits ${PACED_MS} ms after every response (wrk script delay()), ` +
      `${CONNECTIONS} connections, median of ${RUNS} runs; latency in ms:\n`,
  );
  console.log('| target | req/s | p50 | p99 | p99 ratio to nginx (≤ 1.2) | errors |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const name of Object.keys(targets) as Target[]) {
    const r = summary(name, paced);
    const nginx = summary(`nginx ${name.split(' ')[1]}` as Target, paced);
    console.log(
      `| ${name} | ${r.rps.toFixed(0)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ` +
        `${(r.p99ms / nginx.p99ms).toFixed(2)} | ${r.errors} |`,
    );
  }
}
if (SYSCALLS) {
  for (const proto of protos) {
    for (const [who, pid] of [['nginx', nginxWorker], ['switchyard', switchyard.pid!]] as const) {
      console.log(`\nsyscalls per request, ${who} ${proto} (strace -c -f for one 5 s wrk run; strace slows the process):`);
      console.log(syscallsPerRequest(pid, allTargets[`${who} ${proto}`]));
    }
  }
}

switchyard.kill('SIGTERM');
await new Promise((r) => switchyard.once('exit', r));
for (const child of [floor, alt]) {
  if (!child) continue;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
cleanup();

function syscallsPerRequest(pid: number, url: string): string {
  const out = join(work, `strace-${pid}.txt`);
  const tracer = spawn(STRACE, ['-c', '-f', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
  execFileSync('/bin/sleep', ['0.5']);
  const r = wrk(url, pid, '5s');
  tracer.kill('SIGINT');
  execFileSync('/bin/sleep', ['0.5']);
  const rows: string[] = [];
  let total = 0;
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$/.exec(line);
    if (!m || m[3] === 'total') continue;
    const perRequest = Number(m[1]) / r.requests;
    total += perRequest;
    if (perRequest >= 0.01) rows.push(`  ${m[3]!.padEnd(16)} ${perRequest.toFixed(2)}${m[2] ? ` (errors ${(Number(m[2]) / r.requests).toFixed(2)})` : ''}`);
  }
  return `  ${r.requests} requests; ${total.toFixed(2)} syscalls per request\n${rows.join('\n')}`;
}
