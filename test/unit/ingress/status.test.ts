import test from 'ava';
import {
  IngressStatusPublisher,
  desiredEntries,
  observedEntries,
  statusEntryFor,
  type LoadBalancerIngress,
  type Timers,
} from '../../../lib/ingress/status.ts';
import { FakeIngressStatusWriter } from '../../../lib/ingress/status-writer.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';
import type { KubeObject, SourceEvent } from '../../../lib/source/types.ts';

const VIP: LoadBalancerIngress = { ip: '192.0.2.10' };

test('statusEntryFor: IP literals become ip, names become lower-case hostname', (t) => {
  const cases: Array<[string, LoadBalancerIngress]> = [
    ['192.0.2.10', { ip: '192.0.2.10' }],
    ['2001:db8::1', { ip: '2001:db8::1' }],
    ['Ingress.Example.COM', { hostname: 'ingress.example.com' }],
  ];
  for (const [address, entry] of cases) t.deepEqual(statusEntryFor(address), entry, address);
});

test('observedEntries keeps well-formed entries only', (t) => {
  const obj = (status: unknown): KubeObject => ({ metadata: { name: 'a', namespace: 'n' }, status });
  t.deepEqual(observedEntries(obj(undefined)), []);
  t.deepEqual(observedEntries(obj({ loadBalancer: {} })), []);
  t.deepEqual(observedEntries(obj({ loadBalancer: { ingress: 'x' } })), []);
  t.deepEqual(
    observedEntries(obj({ loadBalancer: { ingress: [{ ip: '1.2.3.4' }, null, { hostname: 'h', ports: [{ port: 80 }] }] } })),
    [{ ip: '1.2.3.4' }, { hostname: 'h', ports: [{ port: 80 }] }],
  );
});

test('desiredEntries: served → exactly ours; formerly served → others kept, ours removed; undefined = no write', (t) => {
  const other: LoadBalancerIngress = { hostname: 'lb.other.example' };
  const cases: Array<[string, boolean, LoadBalancerIngress[], readonly LoadBalancerIngress[] | undefined]> = [
    ['served, empty', true, [], [VIP]],
    ['served, already ours', true, [VIP], undefined],
    ['served, ours with ports differs', true, [{ ...VIP, ports: [{ port: 80 }] }], [VIP]],
    ['served, another address', true, [other], [VIP]],
    ['served, ours plus another', true, [VIP, other], [VIP]],
    ['formerly, only ours', false, [VIP], []],
    ['formerly, ours and another', false, [other, VIP], [other]],
    ['formerly, another controller took over', false, [other], undefined],
    ['formerly, empty', false, [], undefined],
  ];
  for (const [name, served, observed, want] of cases) t.deepEqual(desiredEntries(served, observed, VIP), want, name);
});

class FakeTimers implements Timers {
  time = 0;
  pending: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  now = (): number => this.time;
  setTimeout = (fn: () => void, ms: number) => {
    const entry = { at: this.time + ms, fn, cancelled: false };
    this.pending.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  };
  advance(ms: number): void {
    this.time += ms;
    const due = this.pending.filter((p) => p.at <= this.time && !p.cancelled);
    this.pending = this.pending.filter((p) => p.at > this.time && !p.cancelled);
    for (const p of due) p.fn();
  }
}

const ingressEvent = (name: string, rv: number, entries?: LoadBalancerIngress[]): SourceEvent => ({
  type: 'upsert',
  kind: 'Ingress',
  key: `default/${name}`,
  object: {
    metadata: { name, namespace: 'default', resourceVersion: String(rv) },
    ...(entries ? { status: { loadBalancer: { ingress: entries } } } : {}),
  },
});

const rig = (options: { maxWritesPerWindow?: number } = {}) => {
  const writer = new FakeIngressStatusWriter();
  const timers = new FakeTimers();
  const logger = recordingLogger();
  const publisher = new IngressStatusPublisher({ address: '192.0.2.10', writer, logger, timers, retryMs: 1000, ...options });
  return { writer, timers, logger, publisher };
};

test('publishes served Ingresses once, skips ones already right, ignores Ingresses that are not ours', async (t) => {
  const { writer, publisher } = rig();
  publisher.observe(ingressEvent('a', 10));
  publisher.observe(ingressEvent('b', 11, [VIP]));
  publisher.observe(ingressEvent('foreign', 12, [{ ip: '10.0.0.1' }]));
  publisher.served(['default/a', 'default/b']);
  await publisher.idle();
  t.deepEqual(writer.writes, [{ key: 'default/a', entries: [VIP] }]);
  // Another rebuild with the same set, and the watch echo of our write: nothing more.
  publisher.observe(ingressEvent('a', 1001, [VIP]));
  publisher.served(['default/a', 'default/b']);
  await publisher.idle();
  t.is(writer.writes.length, 1);
});

test('an event older than our write does not trigger a second write', async (t) => {
  const { writer, publisher } = rig();
  publisher.observe(ingressEvent('a', 10));
  publisher.served(['default/a']);
  await publisher.idle();
  t.is(writer.writes.length, 1); // fake answers rv 1001
  publisher.observe(ingressEvent('a', 11)); // a spec change made before our write, delivered late
  await publisher.idle();
  t.is(writer.writes.length, 1);
});

test('someone clearing the status of a served Ingress gets it re-published', async (t) => {
  const { writer, publisher } = rig();
  publisher.observe(ingressEvent('a', 10, [VIP]));
  publisher.served(['default/a']);
  await publisher.idle();
  t.is(writer.writes.length, 0);
  publisher.observe(ingressEvent('a', 20, []));
  await publisher.idle();
  t.deepEqual(writer.last('default/a'), [VIP]);
});

test('class changed away: our entry is removed once; a status the new controller wrote is left alone', async (t) => {
  const { writer, publisher } = rig();
  publisher.observe(ingressEvent('a', 10, [VIP]));
  publisher.observe(ingressEvent('b', 11, [VIP]));
  publisher.served(['default/a', 'default/b']);
  await publisher.idle();
  t.is(writer.writes.length, 0);
  // b: the other controller already wrote its own status before our rebuild.
  publisher.observe(ingressEvent('b', 12, [{ hostname: 'other.example' }]));
  publisher.served([]);
  await publisher.idle();
  t.deepEqual(writer.writes, [{ key: 'default/a', entries: [] }]);
  // Once cleared, a is no longer our business: later events with any status cause no write.
  publisher.observe(ingressEvent('a', 1002, [VIP]));
  await publisher.idle();
  t.is(writer.writes.length, 1);
});

test('a failed write is retried after retryMs; a 404 is not', async (t) => {
  const { writer, timers, logger, publisher } = rig();
  writer.fail(1, 500);
  publisher.observe(ingressEvent('a', 10));
  publisher.served(['default/a']);
  await publisher.idle();
  t.is(writer.writes.length, 0);
  t.true(logger.lines.some((l) => l.level === 'warn' && /cannot write status of default\/a/.test(l.msg ?? '')));
  timers.advance(1000);
  await publisher.idle();
  t.deepEqual(writer.last('default/a'), [VIP]);

  writer.fail(1, 404);
  publisher.observe(ingressEvent('gone', 20));
  publisher.served(['default/a', 'default/gone']);
  await publisher.idle();
  t.is(timers.pending.filter((p) => !p.cancelled).length, 0);
});

test('a controller that keeps changing the status back is not fought beyond the write budget', async (t) => {
  const { writer, timers, logger, publisher } = rig({ maxWritesPerWindow: 3 });
  publisher.served(['default/a']);
  for (let rv = 2000; rv < 2010; rv++) {
    publisher.observe(ingressEvent('a', rv, [{ ip: '10.9.9.9' }]));
    await publisher.idle();
  }
  t.is(writer.writes.length, 3);
  t.is(logger.lines.filter((l) => /keeps changing back/.test(l.msg ?? '')).length, 1);
  timers.advance(60_000);
  await publisher.idle();
  t.is(writer.writes.length, 4);
});

test('stop() cancels retries and writes nothing afterwards', async (t) => {
  const { writer, timers, publisher } = rig();
  writer.fail(1, 500);
  publisher.observe(ingressEvent('a', 10));
  publisher.served(['default/a']);
  await publisher.idle();
  await publisher.stop();
  timers.advance(10_000);
  publisher.served(['default/a']);
  await publisher.idle();
  t.is(writer.writes.length, 0);
});
