/**
 * The lease's real transport on a Linux abstract Unix socket (no file, no namespace needed): one holder per name,
 * a handover request answered after the holder's handler, and a dead holder's name free at once.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { AbstractSocketTransport } from '../../../lib/handover/abstract-socket.ts';

const uniqueName = (): string => `switchyard-test/${process.pid}/${Math.random().toString(36).slice(2)}`;

test('one holder per name; a request runs the holder\'s handler, frees the name, then answers', async (t) => {
  const name = uniqueName();
  const holder = new AbstractSocketTransport(name);
  const other = new AbstractSocketTransport(name);
  const events: string[] = [];
  const binding = await holder.bind(async () => {
    events.push('handler started');
    await new Promise((resolve) => setTimeout(resolve, 20));
    events.push('handler done');
  });
  t.truthy(binding);
  t.is(await other.bind(() => Promise.resolve()), undefined, 'the name is held');

  t.is(await other.requestHandover(2_000), 'released');
  events.push('answered');
  t.deepEqual(events, ['handler started', 'handler done', 'answered']);
  const taken = await other.bind(() => Promise.resolve());
  t.truthy(taken, 'the name is free after the answer');
  await taken?.release();
  await binding?.release();
});

test('isHeld: asks nothing of the holder, which keeps the name and still answers a request', async (t) => {
  const name = uniqueName();
  const probe = new AbstractSocketTransport(name);
  t.false(await probe.isHeld());
  let asked = 0;
  const binding = await new AbstractSocketTransport(name).bind(() => (asked++, Promise.resolve()));
  t.truthy(binding);
  t.true(await probe.isHeld());
  t.true(await probe.isHeld());
  t.is(asked, 0);
  t.is(await probe.bind(() => Promise.resolve()), undefined, 'still held');
  t.is(await probe.requestHandover(2_000), 'released');
  t.is(asked, 1);
  t.false(await probe.isHeld());
});

test('nobody holds the name: a request answers released at once', async (t) => {
  const started = Date.now();
  t.is(await new AbstractSocketTransport(uniqueName()).requestHandover(2_000), 'released');
  t.true(Date.now() - started < 1_000);
});

test('a holder whose handler never finishes: the request times out and the name stays held', async (t) => {
  const name = uniqueName();
  const holder = new AbstractSocketTransport(name);
  const binding = await holder.bind(() => new Promise<void>(() => undefined));
  t.is(await new AbstractSocketTransport(name).requestHandover(100), 'timeout');
  t.is(await new AbstractSocketTransport(name).bind(() => Promise.resolve()), undefined);
  await binding?.release();
});

test('a holder process killed with SIGKILL leaves the name free (the kernel releases it)', async (t) => {
  const name = uniqueName();
  const script = `require('node:net').createServer().listen({ path: '\\0' + process.argv[1] }, () => console.log('bound'))`;
  const child = spawn(process.execPath, ['-e', script, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  const transport = new AbstractSocketTransport(name);
  t.is(await transport.bind(() => Promise.resolve()), undefined, 'held by the child');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const binding = await transport.bind(() => Promise.resolve());
  t.truthy(binding, 'free once the holder died');
  await binding?.release();
});
