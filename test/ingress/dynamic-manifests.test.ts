/**
 * The real Daemon (proxy mode none) reading a --manifests directory: editing the Ingress, Service or EndpointSlice
 * files moves the proxy along (measured ~0.1 s; asserted 1 s, the contract allows 2 s); deleting the Ingress gives 404. No status
 * is written without an API server.
 */
import test from 'ava';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildDaemon } from '../../lib/app/run-command.ts';
import { ingressPresenceName, statusPublisherFromConfig } from '../../lib/app/ingress-from-config.ts';
import { AbstractSocketTransport } from '../../lib/handover/abstract-socket.ts';
import { recordingLogger } from '../../lib/telemetry/logger-types.ts';
import { closedPort, startBackend } from './helpers.ts';
import { NODE, STATUS_ADDRESS, configFor, get, ingress, node, ourClass, service, slice, within } from './dynamic-helpers.ts';

const yaml = (...docs: Array<Record<string, unknown>>): string => docs.map((d) => stringify(d)).join('---\n');

/** Written beside and renamed in, as editors and kubectl-style tools do, so the source never sees half a file. */
const put = async (dir: string, name: string, text: string): Promise<void> => {
  const tmp = join(dir, `.${name}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, join(dir, name));
};

test('manifests: path, backend and endpoint edits are followed within 1 s (the contract allows 2 s); delete → 404', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-ingress-manifests-'));
  const a = await startBackend('a');
  const b = await startBackend('b');
  const port = await closedPort();
  await put(dir, 'cluster.yaml', yaml(node(), ourClass()));
  await put(dir, 'web.yaml', yaml(service('web', '10.96.0.10'), slice('web', a.port), service('web2', '10.96.0.11'), slice('web2', b.port)));
  await put(dir, 'ingress.yaml', yaml(ingress('site', '/app', 'web')));

  const logger = recordingLogger();
  const config = await configFor(['--manifests', dir, '--ingress-status-address', STATUS_ADDRESS], port);
  t.is(statusPublisherFromConfig(config, logger), undefined, 'no status publisher without an API server');
  const daemon = buildDaemon(config, NODE, logger);
  t.teardown(async () => {
    await daemon.stop(0);
    await Promise.all([a.close(), b.close(), rm(dir, { recursive: true, force: true })]);
  });
  await daemon.start();
  const timings: Record<string, number> = {};

  timings['first route'] = await within('first route', 15_000, () => get(port, '/app/x'), (s) => s.backend === 'a');

  await put(dir, 'ingress.yaml', yaml(ingress('site', '/v2', 'web')));
  timings['path change'] = await within('path change', 1_000, async () => [await get(port, '/v2'), await get(port, '/app')], ([n, old]) => n!.backend === 'a' && old!.status === 404);

  await put(dir, 'ingress.yaml', yaml(ingress('site', '/v2', 'web2')));
  timings['backend change'] = await within('backend change', 1_000, () => get(port, '/v2'), (s) => s.backend === 'b');

  await put(dir, 'web.yaml', yaml(service('web', '10.96.0.10'), slice('web', a.port), service('web2', '10.96.0.11'), slice('web2', a.port)));
  timings['endpoint change'] = await within('endpoint change', 1_000, () => get(port, '/v2'), (s) => s.backend === 'a');

  await rm(join(dir, 'ingress.yaml'));
  timings['file deleted → 404'] = await within('delete', 1_000, () => get(port, '/v2'), (s) => s.status === 404);

  t.log(Object.entries(timings).map(([k, v]) => `${k}: ${v.toFixed(0)} ms`).join(', '));
  t.false(logger.lines.some((l) => l.level === 'error'), JSON.stringify(logger.lines.filter((l) => l.level === 'error')));
});

test('ingress only (proxy mode none, no writer lease): a second daemon on the same ports binds after its first table, then takes the presence', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-ingress-presence-'));
  const a = await startBackend('a');
  const port = await closedPort();
  await put(dir, 'cluster.yaml', yaml(node(), ourClass()));
  await put(dir, 'web.yaml', yaml(service('web', '10.96.0.10'), slice('web', a.port)));
  await put(dir, 'ingress.yaml', yaml(ingress('site', '/app', 'web')));
  const config = await configFor(['--manifests', dir], port);
  const presence = new AbstractSocketTransport(ingressPresenceName(config));
  const firstLog = recordingLogger();
  const first = buildDaemon(config, NODE, firstLog);
  const secondLog = recordingLogger();
  const second = buildDaemon(config, NODE, secondLog);
  t.teardown(async () => {
    await Promise.all([first.stop(0), second.stop(0)]);
    await Promise.all([a.close(), rm(dir, { recursive: true, force: true })]);
  });
  const said = (log: typeof firstLog, msg: string): boolean => log.lines.some((l) => l.msg === msg);

  t.false(await presence.isHeld(), 'nobody serves these ports yet');
  await first.start();
  await within('first route', 15_000, () => get(port, '/app/x'), (s) => s.backend === 'a');
  await within('first holds the presence', 2_000, () => presence.isHeld(), (held) => held);
  t.true(said(firstLog, 'ingress: listening; connections wait for the first route table'), 'alone: bound at start');

  await second.start();
  t.true(said(secondLog, 'ingress: another switchyard serves this node; listening once the first route table is built'));
  await within('second listening', 15_000, () => said(secondLog, 'ingress: first route table built; listening'), (yes) => yes);
  await within('second ready', 2_000, () => second.ready, (yes) => yes);
  t.false(said(secondLog, 'ingress: listening; connections wait for the first route table'), 'the second never held a connection');

  await first.stop(0);
  t.is((await get(port, '/app/x')).backend, 'a', 'the second answers alone');
  // The second takes the presence within its retry period (1 s): the next rollout's newcomer defers to it.
  await within('second holds the presence', 3_000, () => presence.isHeld(), (held) => held);
  await second.stop(0);
  t.false(await presence.isHeld(), 'released at stop');
});
