/**
 * The writer lease over the in-memory transport: taking, handing over (the holder finishes first), standing by,
 * regaining only when the taker is gone, and a holder that never answers.
 */
import test from 'ava';
import { FakeLeaseNamespace } from '../../../lib/handover/fake-transport.ts';
import { WriterLease } from '../../../lib/handover/lease.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';
import { until } from './until.ts';

const leaseIn = (ns: FakeLeaseNamespace, log: string[], name: string) => {
  const lease = new WriterLease({ transport: ns.transport(), logger: recordingLogger(), handoverTimeoutMs: 50, reclaimIntervalMs: 10 });
  lease.attach({
    beforeRelease: async () => {
      log.push(`${name}: finishing`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.push(`${name}: stopped writing`);
    },
    regained: () => log.push(`${name}: regained`),
  });
  return lease;
};


test('the first taker holds the lease; a second one gets it only after the holder has stopped writing', async (t) => {
  const ns = new FakeLeaseNamespace();
  const log: string[] = [];
  const old = leaseIn(ns, log, 'old');
  const next = leaseIn(ns, log, 'new');
  t.teardown(async () => Promise.all([old.stop(), next.stop()]));

  t.true(await old.take());
  t.true(old.held);
  t.true(await old.take(), 'taking a held lease again is a no-op');
  t.deepEqual(log, []);

  t.true(await next.take());
  log.push('new: holds');
  t.deepEqual(log, ['old: finishing', 'old: stopped writing', 'new: holds']);
  t.false(old.held);
  t.true(old.handedOver);
  t.true(next.held);

  // The one that gave it up looks again and again, but never asks for it back while the taker lives.
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.true(next.held);
  t.false(old.held);
  t.false(log.includes('old: regained'));
});

test('the one that handed over takes the lease back when its taker dies, and says so', async (t) => {
  const ns = new FakeLeaseNamespace();
  const log: string[] = [];
  const old = leaseIn(ns, log, 'old');
  const next = leaseIn(ns, log, 'new');
  t.teardown(async () => Promise.all([old.stop(), next.stop()]));
  await old.take();
  await next.take();
  ns.crash();
  await until('old regains', () => old.held);
  t.true(log.includes('old: regained'));
  t.false(old.handedOver);
});

test('a holder that never answers: take() gives up after the timeout and the holder keeps the lease', async (t) => {
  const ns = new FakeLeaseNamespace();
  const log: string[] = [];
  const hung = leaseIn(ns, log, 'hung');
  const next = leaseIn(ns, log, 'new');
  t.teardown(async () => Promise.all([hung.stop(), next.stop()]));
  await hung.take();
  ns.answering = false;
  const started = Date.now();
  t.false(await next.take());
  t.true(Date.now() - started >= 45);
  t.true(hung.held);
  t.false(next.held);
});

test('stop() frees the lease: the next taker binds without asking anyone', async (t) => {
  const ns = new FakeLeaseNamespace();
  const log: string[] = [];
  const first = leaseIn(ns, log, 'first');
  const second = leaseIn(ns, log, 'second');
  t.teardown(async () => second.stop());
  await first.take();
  await first.stop();
  t.true(await second.take());
  t.deepEqual(log, []);
  t.false(await first.take(), 'a stopped lease never takes again');
});
