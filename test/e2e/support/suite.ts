/**
 * Registers the e2e scenarios as serial ava tests for one proxy mode, around ONE sandbox and one manifests
 * directory: built in test.before (daemon started on node-a and waited for), torn down in test.after.always
 * (daemons stopped by PID, sandbox destroyed, directory removed). Where network namespaces are unavailable, every
 * scenario is registered as skipped and the reason printed.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from '../../../lib/sandbox/sandbox.ts';
import { defaultSandboxSpec } from '../../../lib/sandbox/spec.ts';
import { isFailure } from '../../../lib/sandbox/agent-protocol.ts';
import { netnsSkipReason } from '../../support/netns.ts';
import { DaemonProcess, daemonArgv, missingBuild, type ProxyMode } from './daemon.ts';
import { SVC, initialFiles, podSpecs, url } from './fixture.ts';
import { echoOnce, until } from './traffic.ts';
import { prepareHosts } from './hosts.ts';
import { ManifestsDir, type E2eContext, type Scenario } from './world.ts';

interface World {
  readonly sandbox: Sandbox;
  readonly manifests: ManifestsDir;
  readonly daemons: Map<string, DaemonProcess>;
}

export interface SuiteVariant {
  /** Names the variant in test titles and log lines, e.g. `nftables detect-local`. */
  readonly label: string;
  /** Flags appended to the daemon's command line, chosen once the sandbox (and its pod network) exists. */
  readonly extraArgs: (sandbox: Sandbox) => readonly string[];
}

export const registerE2eSuite = (mode: ProxyMode, scenarios: readonly Scenario[], variant?: SuiteVariant): void => {
  const label = variant?.label ?? mode;
  const title = (s: Scenario) => `${label} e2e ${String(s.id).padStart(2, '0')}. ${s.title}`;
  if (netnsSkipReason) {
    console.log(`[e2e ${label}] skipped: ${netnsSkipReason}`);
    for (const s of scenarios) test.skip(title(s), () => {});
    return;
  }

  let world: World | undefined;
  let setupError: unknown;
  let dirToRemove: string | undefined;
  const figures: [string, number][] = [];

  const daemonOf = (w: World, nodeName: string): DaemonProcess => {
    let d = w.daemons.get(nodeName);
    if (!d) {
      d = new DaemonProcess(w.sandbox, nodeName, [...daemonArgv(mode, w.manifests.path, nodeName), ...(variant?.extraArgs(w.sandbox) ?? [])]);
      w.daemons.set(nodeName, d);
    }
    return d;
  };

  test.before(async (t) => {
    try {
      const missing = missingBuild();
      if (missing) throw new Error(missing);
      const started = Date.now();
      const dir = await mkdtemp(join(tmpdir(), `switchyard-e2e-${label.replace(/\W+/g, '-')}-`));
      dirToRemove = dir;
      const sandbox = await Sandbox.create(defaultSandboxSpec(podSpecs));
      const manifests = new ManifestsDir(dir);
      world = { sandbox, manifests, daemons: new Map() };
      t.log(`sandbox ${sandbox.prefix} (${sandbox.podNetwork} pod network) built in ${Date.now() - started} ms; manifests in ${dir}`);
      for (const w of sandbox.warnings) t.log(`sandbox warning: ${w}`);
      await prepareHosts(sandbox, (line) => t.log(line));
      for (const [name, text] of Object.entries(initialFiles())) await manifests.write(name, text);

      const daemon = daemonOf(world, 'node-a');
      const launched = Date.now();
      daemon.start();
      const client = sandbox.agent('pod-a1');
      const ready = await until('the first Service answering through the daemon', async () => {
        if (!daemon.running) throw new Error(`daemon in node-a exited early:\n${daemon.tail()}`);
        const r = await echoOnce(client, url(SVC.web.clusterIPs[0]), { timeoutMs: 500 });
        return isFailure(r) ? undefined : r;
      }, { timeoutMs: 15_000, intervalMs: 100, describe: () => daemon.tail(5) });
      const ms = Date.now() - launched;
      figures.push(['daemon start → first ClusterIP answer', ms]);
      t.log(`daemon pid ${daemon.pid} served ${SVC.web.name} after ${ms} ms (answer from ${ready.value.pod})`);
    } catch (e) {
      setupError = e;
      t.log(`setup failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

  test.after.always(async (t) => {
    if (figures.length > 0) {
      const report = figures.map(([name, ms]) => `  ${name}: ${ms} ms`).join('\n');
      console.log(`[e2e ${label}] measured:\n${report}`);
    }
    if (dirToRemove) await rm(dirToRemove, { recursive: true, force: true });
    if (!world) return;
    for (const d of world.daemons.values()) {
      const stopped = await d.stop(3_000);
      if (stopped.killed) t.log(`daemon in ${d.node} needed SIGKILL at teardown`);
    }
    await world.sandbox.destroy();
  });

  for (const scenario of scenarios) {
    test.serial(title(scenario), async (t) => {
      if (!world || setupError !== undefined) throw setupError instanceof Error ? setupError : new Error(`setup failed: ${String(setupError)}`);
      const w = world;
      const ctx: E2eContext = {
        t,
        mode,
        sandbox: w.sandbox,
        manifests: w.manifests,
        daemon: (nodeName) => daemonOf(w, nodeName),
        measure: (name, ms) => {
          figures.push([`${String(scenario.id).padStart(2, '0')} ${name}`, ms]);
          t.log(`${name}: ${ms} ms`);
        },
      };
      try {
        await scenario.run(ctx);
      } catch (e) {
        const tails = [...w.daemons.values()].map((d) => `--- daemon ${d.node} (last lines)\n${d.tail(15)}`).join('\n');
        t.log(tails);
        throw e;
      }
    });
  }
};
