/**
 * A throwaway Kubernetes-like network built from network namespaces on the real kernel: a LAN, nodes with a pod
 * bridge, pods running echo servers, an outside client, and a traffic agent in every client namespace.
 * Used by the e2e tests and by `switchyard demo`. Everything it makes is named `<prefix>-<logical name>` and is
 * removed by destroy(); a crashed run is swept by the next one (see registry.ts).
 */
import { spawn as spawnChild, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwitchyardError } from '../errors.ts';
import { AgentClient } from './agent-client.ts';
import { TOOLS, ipBatch, run, type ExecResult } from './exec.ts';
import { hasExited, stopProcess, waitForReady } from './processes.ts';
import { claimPrefix, newPrefix, removeNamespaces, runDir, sweepStaleSandboxes } from './registry.ts';
import { bareAddress, validateSpec, type NodeSpec, type PodSpec, type SandboxSpec } from './spec.ts';
import { netnsName, planTopology, type NamespaceRole, type PodNetworkMode } from './topology.ts';

export interface SandboxOptions {
  /** Remove leftovers of dead runs first (default true). */
  readonly sweep?: boolean;
  readonly log?: (line: string) => void;
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly stdio?: StdioOptions;
}

/** A sibling script, as .ts from sources and .js from dist/. */
const siblingScript = (base: string): string =>
  fileURLToPath(new URL(`./${base}${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

export const podNetworkAvailable = (): PodNetworkMode => (existsSync('/proc/sys/net/bridge') ? 'bridge' : 'routed');

export class Sandbox {
  readonly prefix: string;
  readonly spec: SandboxSpec;
  readonly podNetwork: PodNetworkMode;
  readonly runDir: string;
  /** Problems that did not stop the build (e.g. a sysctl that is read-only inside a netns). */
  readonly warnings: string[] = [];
  /** Milliseconds per build phase. */
  readonly timings: Record<string, number> = {};
  private readonly roles: readonly NamespaceRole[];
  private readonly children = new Set<ChildProcess>();
  private readonly agents = new Map<string, AgentClient>();
  private readonly agentNamespaces = new Set<string>();
  private created: string[] = [];
  private destroyed = false;
  private readonly exitHook = () => this.destroySync();

  private constructor(spec: SandboxSpec, prefix: string, podNetwork: PodNetworkMode) {
    this.spec = spec;
    this.prefix = prefix;
    this.podNetwork = podNetwork;
    this.runDir = runDir(prefix);
    this.roles = planTopology(spec, prefix, podNetwork).namespaces;
  }

  static async create(spec: SandboxSpec, options: SandboxOptions = {}): Promise<Sandbox> {
    const problems = validateSpec(spec);
    if (problems.length > 0) throw new SwitchyardError('ERR_CONFIG_INVALID', `sandbox spec: ${problems.join('; ')}`);
    const started = Date.now();
    if (options.sweep !== false) {
      const swept = await sweepStaleSandboxes();
      if (swept.length > 0) options.log?.(`sandbox: removed leftovers of dead runs: ${swept.join(', ')}`);
    }
    const wanted = spec.podNetwork ?? 'auto';
    const mode: PodNetworkMode = wanted === 'auto' ? podNetworkAvailable() : wanted;
    const sandbox = new Sandbox(spec, spec.prefix ?? newPrefix(), mode);
    sandbox.timings.sweep = Date.now() - started;
    try {
      await sandbox.build();
    } catch (e) {
      await sandbox.destroy();
      throw e instanceof SwitchyardError ? e : new SwitchyardError('ERR_EXEC', `sandbox build failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return sandbox;
  }

  /** The kernel name of a logical namespace ('node-a' -> 'sy-1a2b3c-node-a'). */
  netns(logical: string): string {
    if (!this.roles.some((r) => r.logical === logical)) throw new SwitchyardError('ERR_CONFIG_INVALID', `sandbox ${this.prefix} has no namespace ${logical}`);
    return netnsName(this.prefix, logical);
  }

  namespaces(): readonly NamespaceRole[] {
    return this.roles;
  }

  node(name: string): NodeSpec {
    const node = this.spec.nodes.find((n) => n.name === name);
    if (!node) throw new SwitchyardError('ERR_CONFIG_INVALID', `sandbox has no node ${name}`);
    return node;
  }

  pod(name: string): PodSpec {
    const pod = this.spec.pods.find((p) => p.name === name);
    if (!pod) throw new SwitchyardError('ERR_CONFIG_INVALID', `sandbox has no pod ${name}`);
    return pod;
  }

  /** The bare LAN address of a node or the outside host. */
  lanIP(name: string, family: 4 | 6 = 4): string {
    const host = name === this.spec.outside?.name ? this.spec.outside : this.node(name);
    const cidr = family === 4 ? host.lanIPv4 : host.lanIPv6;
    if (!cidr) throw new SwitchyardError('ERR_CONFIG_INVALID', `${name} has no IPv${family} LAN address`);
    return bareAddress(cidr);
  }

  /** Runs a command inside a namespace and collects its output (a non-zero exit is a result, not an error). */
  exec(ns: string, argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return run([TOOLS.ip, 'netns', 'exec', this.netns(ns), ...argv], options);
  }

  /** Starts a long-running process inside a namespace; it is killed by PID on destroy(). */
  spawn(ns: string, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new SwitchyardError('ERR_EXEC', `sandbox ${this.prefix} is destroyed`);
    // `ip netns exec` execs the command in place, so the child's PID is the command's PID.
    const child = spawnChild(TOOLS.ip, ['netns', 'exec', this.netns(ns), ...argv], {
      cwd: options.cwd,
      env: options.env,
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** The traffic agent of a namespace (pods, the outside host and nodes have one unless the spec says otherwise). */
  agent(ns: string): AgentClient {
    if (!this.agentNamespaces.has(ns)) throw new SwitchyardError('ERR_CONFIG_INVALID', `no traffic agent runs in ${ns}`);
    let client = this.agents.get(ns);
    if (!client) {
      client = new AgentClient(ns, this.agentSocket(ns));
      this.agents.set(ns, client);
    }
    return client;
  }

  /** PIDs of the processes this sandbox started that are still running. */
  pids(): number[] {
    return [...this.children].filter((c) => !hasExited(c) && c.pid !== undefined).map((c) => c.pid as number);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.exitHook);
    for (const client of this.agents.values()) client.close();
    await Promise.all([...this.children].map((c) => stopProcess(c, 1500)));
    const failed = await removeNamespaces(this.created);
    await rm(this.runDir, { recursive: true, force: true });
    if (failed.length > 0) throw new SwitchyardError('ERR_EXEC', `sandbox ${this.prefix}: could not delete ${failed.join('; ')}`);
  }

  private agentSocket(ns: string): string {
    return join(this.runDir, `${ns}.sock`);
  }

  private async build(): Promise<void> {
    const plan = planTopology(this.spec, this.prefix, this.podNetwork);
    const phase = async (name: string, work: () => Promise<unknown>) => {
      const t = Date.now();
      await work();
      this.timings[name] = Date.now() - t;
    };
    await claimPrefix(this.prefix);
    process.on('exit', this.exitHook);
    const names = plan.namespaces.map((n) => n.netns);
    // Recorded before creation so a partial failure still removes whatever exists.
    this.created = names;
    await phase('namespaces', () => ipBatch(names.map((n) => `netns add ${n}`)));
    await phase('links', () => ipBatch(plan.rootLines));
    await phase('configure', () => Promise.all([
      ...[...plan.namespaceLines].map(([netns, lines]) => ipBatch(lines, netns)),
      ...[...plan.sysctls].map(([netns, keys]) => this.writeSysctls(netns, keys)),
    ]));
    await phase('processes', () => this.startProcesses());
  }

  private async writeSysctls(netns: string, keys: readonly string[]): Promise<void> {
    const result = await run([TOOLS.ip, 'netns', 'exec', netns, TOOLS.sysctl, '-w', ...keys]);
    if (result.code !== 0) this.warnings.push(`sysctl in ${netns}: ${result.stderr.trim() || `exit ${result.code}`}`);
  }

  private async startProcesses(): Promise<void> {
    const started: Promise<unknown>[] = [];
    for (const pod of this.spec.pods) {
      const tcp = pod.tcpPorts ?? [];
      const udp = pod.udpPorts ?? [];
      if (tcp.length === 0 && udp.length === 0) continue;
      const child = this.spawn(pod.name, [process.execPath, siblingScript('echo-server'), '--name', pod.name,
        ...(tcp.length ? ['--tcp', tcp.join(',')] : []), ...(udp.length ? ['--udp', udp.join(',')] : [])]);
      started.push(waitForReady(child, `echo server in ${pod.name}`));
    }
    const agentNamespaces = this.spec.agents ?? this.roles.filter((r) => r.kind !== 'lan').map((r) => r.logical);
    for (const ns of agentNamespaces) {
      const child = this.spawn(ns, [process.execPath, siblingScript('agent'), '--socket', this.agentSocket(ns)]);
      started.push(waitForReady(child, `agent in ${ns}`).then(() => this.agentNamespaces.add(ns)));
    }
    await Promise.all(started);
  }

  /** Last resort when the process exits without destroy(): kill by PID and delete namespaces synchronously. */
  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const pid of this.pids()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const name of this.created) {
      try { execFileSync(TOOLS.ip, ['netns', 'del', name], { stdio: 'ignore' }); } catch { /* best effort */ }
    }
  }
}
