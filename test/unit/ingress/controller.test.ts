import test from 'ava';
import { IngressController } from '../../../lib/ingress/controller.ts';
import { matchRoute } from '../../../lib/ingress/router.ts';
import type { RouteTable } from '../../../lib/ingress/types.ts';
import type { KubeObject } from '../../../lib/source/types.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';
import { ingress, ourClass, viewOf } from './fixtures.ts';

const upsert = (kind: 'Ingress' | 'IngressClass', key: string, object: unknown) =>
  ({ type: 'upsert', kind, key, object: object as KubeObject }) as const;

test('events mark the table stale; rebuilds publish it; problems are logged once', (t) => {
  const logger = recordingLogger();
  const tables: RouteTable[] = [];
  const controller = new IngressController({ logger, publish: (table) => tables.push(table) });
  t.true(controller.apply(upsert('IngressClass', 'switchyard', ourClass())).changed);
  t.true(controller.apply(upsert('Ingress', 'default/ing', ingress({ rules: [{ paths: [['/', 'Prefix', 'a']] }] }))).changed);
  t.false(controller.apply(upsert('Ingress', 'default/ing', ingress({ rules: [{ paths: [['/', 'Prefix', 'a']] }] }))).changed);
  t.is(tables.length, 0, 'events alone publish nothing');
  controller.rebuild();
  controller.rebuild();
  t.is(tables.length, 2);
  t.is(matchRoute(tables[1]!, 'h', '/')?.backend.servicePortKey, undefined, 'service not known yet');
  const missing = logger.lines.filter((l) => l.msg?.includes('does not exist'));
  t.is(missing.length, 1);

  controller.updateServices(viewOf(['a']));
  t.is(matchRoute(tables[2]!, 'h', '/')?.backend.servicePortKey, 'default/a:http');
  controller.updateServices(viewOf([]));
  t.is(logger.lines.filter((l) => l.msg?.includes('does not exist')).length, 2, 'a problem that comes back is logged again');

  const bad = controller.apply(upsert('Ingress', 'default/bad', { metadata: { name: 'bad', namespace: 'default' } }));
  t.false(bad.changed);
  t.is(bad.rejection?.key, 'default/bad');
});
