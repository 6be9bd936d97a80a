/**
 * The ingress presence over the in-memory transport and the real abstract socket: held by whoever claims it first,
 * taken by a waiting claimant once the holder is gone (stopped or dead), never taken after stop().
 */
import test from 'ava';
import { AbstractSocketTransport } from '../../../lib/handover/abstract-socket.ts';
import { FakeLeaseNamespace } from '../../../lib/handover/fake-transport.ts';
import { NodePresence } from '../../../lib/handover/presence.ts';
import { nullLogger } from '../../../lib/telemetry/logger-types.ts';
import { until } from './until.ts';

const presenceIn = (ns: FakeLeaseNamespace): NodePresence => new NodePresence({ transport: ns.transport(), logger: nullLogger, retryMs: 10 });


test('alone: a claim holds the name; the holder does not see itself as "elsewhere"', async (t) => {
  const ns = new FakeLeaseNamespace();
  const first = presenceIn(ns);
  t.false(await first.heldElsewhere());
  first.claim();
  await until('claimed', () => first.held);
  t.false(await first.heldElsewhere());
  t.true(await presenceIn(ns).heldElsewhere());
  await first.stop();
  t.false(first.held);
  t.is(ns.holder, undefined, 'released at stop');
});

test('beside a holder: the claim waits and takes the name once the holder stops, or dies', async (t) => {
  const ns = new FakeLeaseNamespace();
  const old = presenceIn(ns);
  old.claim();
  await until('old claimed', () => old.held);

  const next = presenceIn(ns);
  t.true(await next.heldElsewhere());
  next.claim();
  next.claim();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.false(next.held, 'not while the old one holds it');
  await old.stop();
  await until('next claimed after the old one stopped', () => next.held);

  const third = presenceIn(ns);
  third.claim();
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.false(third.held);
  ns.crash();
  await until('third claimed after the holder died', () => third.held);
  await Promise.all([next.stop(), third.stop()]);
});

test('stop() while waiting: never takes the name afterwards', async (t) => {
  const ns = new FakeLeaseNamespace();
  const old = presenceIn(ns);
  old.claim();
  await until('old claimed', () => old.held);
  const next = presenceIn(ns);
  next.claim();
  await next.stop();
  await old.stop();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.false(next.held);
  t.is(ns.holder, undefined);
  next.claim();
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.is(ns.holder, undefined, 'a claim after stop() does nothing');
});

test('on the real abstract socket: the waiting claimant takes the name when the holder stops', async (t) => {
  const name = `switchyard-test/${process.pid}/${Math.random().toString(36).slice(2)}`;
  const make = (): NodePresence => new NodePresence({ transport: new AbstractSocketTransport(name), logger: nullLogger, retryMs: 10 });
  const old = make();
  old.claim();
  await until('old claimed', () => old.held);
  const next = make();
  t.true(await next.heldElsewhere());
  next.claim();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.false(next.held);
  await old.stop();
  await until('next claimed', () => next.held);
  t.false(await next.heldElsewhere());
  t.true(await make().heldElsewhere());
  await next.stop();
  t.false(await make().heldElsewhere());
});
