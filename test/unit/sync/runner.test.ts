import test from 'ava';
import { FakeClock } from '../../../lib/sync/clock.ts';
import { SyncRunner, type SyncRequest } from '../../../lib/sync/runner.ts';

const make = (o: { fail?: (n: number) => boolean; slowMs?: number; burst?: number } = {}) => {
  const clock = new FakeClock();
  const calls: (SyncRequest & { at: number })[] = [];
  const errors: number[] = [];
  let n = 0;
  const runner = new SyncRunner({
    clock,
    minIntervalMs: 1000,
    maxIntervalMs: 60_000,
    syncPeriodMs: 30_000,
    burst: o.burst ?? 2,
    retryInitialMs: 500,
    retryMaxMs: 4000,
    onError: (_e, attempt) => errors.push(attempt),
    sync: async (req) => {
      calls.push({ ...req, at: clock.now() });
      const i = n++;
      if (o.slowMs !== undefined) await new Promise<void>((r) => clock.setTimer(r, o.slowMs!));
      if (o.fail?.(i)) throw new Error(`sync ${i} failed`);
    },
  });
  return { clock, calls, errors, runner };
};

test('start runs a full sync at once', async (t) => {
  const { clock, calls, runner } = make();
  runner.start();
  await clock.advance(0);
  t.deepEqual(calls, [{ full: true, reason: 'requested', at: 0 }]);
  runner.stop();
});

test('bursts up to the burst size, then spaces syncs by minInterval', async (t) => {
  const { clock, calls, runner } = make({ burst: 2 });
  runner.start();
  await clock.advance(0);
  runner.run();
  await clock.advance(0);
  runner.run();
  await clock.advance(0);
  t.is(calls.length, 2); // burst of 2 spent
  await clock.advance(999);
  t.is(calls.length, 2);
  await clock.advance(1);
  t.is(calls.length, 3);
  t.is(calls[2]!.at, 1000);
  t.false(calls[1]!.full);
  runner.stop();
});

test('many requests while rate-limited collapse into one sync', async (t) => {
  const { clock, calls, runner } = make({ burst: 1 });
  runner.start();
  await clock.advance(0);
  for (let i = 0; i < 10; i++) runner.run();
  await clock.advance(5000);
  t.is(calls.length, 2);
  runner.stop();
});

test('at most one sync in flight; a request during it runs afterwards', async (t) => {
  const { clock, calls, runner } = make({ slowMs: 3000, burst: 5 });
  runner.start();
  await clock.advance(100);
  t.true(runner.syncing);
  runner.run();
  runner.run();
  await clock.advance(1000);
  t.is(calls.length, 1);
  await clock.advance(2000);
  t.is(calls.length, 2);
  t.is(calls[1]!.at, 3000);
  runner.stop();
});

test('failures retry with exponential backoff, as full syncs', async (t) => {
  const { clock, calls, errors, runner } = make({ fail: (i) => i >= 1 && i <= 3, burst: 10 });
  runner.start();
  await clock.advance(0);
  runner.run();
  await clock.advance(0); // call 1 fails at t=0
  await clock.advance(10_000);
  t.deepEqual(calls.map((c) => [c.at, c.full, c.reason]), [
    [0, true, 'requested'],
    [0, false, 'requested'],
    [500, true, 'retry'],
    [1500, true, 'retry'],
    [3500, true, 'retry'],
  ]);
  t.deepEqual(errors, [1, 2, 3]);
  runner.stop();
});

test('maxInterval forces a sync and syncPeriod makes it full', async (t) => {
  const { clock, calls, runner } = make();
  runner.start();
  await clock.advance(0);
  await clock.advance(60_000);
  t.is(calls.length, 2);
  t.deepEqual([calls[1]!.at, calls[1]!.full, calls[1]!.reason], [60_000, true, 'periodic']);
  runner.run();
  await clock.advance(0);
  t.false(calls[2]!.full);
  runner.stop();
  await clock.advance(200_000);
  t.is(calls.length, 3);
});
