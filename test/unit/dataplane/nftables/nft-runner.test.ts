import test from 'ava';
import { FakeCommandRunner } from '../../../../lib/exec/command.ts';
import { ExecNftRunner, runStreamed, scriptText } from '../../../../lib/dataplane/nftables/nft.ts';
import { Transaction } from '../../../../lib/dataplane/nftables/transaction.ts';

const WC = '/usr/bin/wc';

test('runStreamed writes every chunk to the program, in order, with backpressure', async (t) => {
  // 4 MiB: far more than a pipe holds, so writes must wait for the reader.
  const chunks = Array.from({ length: 64 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(65_534)}\n`);
  const r = await runStreamed([WC, '-c'], chunks, 10_000);
  t.is(r.code, 0);
  t.is(Number(r.stdout.trim()), chunks.reduce((n, c) => n + c.length, 0));
  const lines = await runStreamed(['/usr/bin/cut', '-c1-2'], chunks, 10_000);
  t.deepEqual(lines.stdout.trim().split('\n'), chunks.map((c) => c.slice(0, 2)));
});

test('runStreamed kills the program when rendering fails, so a truncated script is never applied', async (t) => {
  function* failing(): Generator<string> {
    yield 'first line\n';
    throw new Error('boom');
  }
  const err = await t.throwsAsync(runStreamed([WC, '-c'], failing(), 10_000));
  t.regex(err!.message, /rendering the nft script failed: boom/);
});

test('runStreamed refuses a relative program path', async (t) => {
  await t.throwsAsync(runStreamed(['wc'], ['x'], 1000), { message: /absolute path/ });
});

test('ExecNftRunner hands a chunked script to a non-process runner as one text', async (t) => {
  const commands = new FakeCommandRunner();
  const runner = new ExecNftRunner({ commands, prefix: ['/usr/sbin/ip', 'netns', 'exec', 'x'] });
  const tx = new Transaction().add(4, { kind: 'table' }).flush(4, { kind: 'table' });
  await runner.run(tx.chunks(10));
  t.is(commands.calls.length, 1);
  t.deepEqual(commands.calls[0]!.argv, ['/usr/sbin/ip', 'netns', 'exec', 'x', '/usr/sbin/nft', '-f', '-']);
  t.is(commands.calls[0]!.input, tx.render());
  t.is(tx.render(), 'add table ip switchyard\nflush table ip switchyard\n');
});

test('chunks() splits at line ends and joins back to render()', (t) => {
  const tx = new Transaction();
  for (let i = 0; i < 50; i++) tx.add(4, { kind: 'chain', chain: { name: `c${i}` } });
  const chunks = [...tx.chunks(100)];
  t.true(chunks.length > 5);
  for (const c of chunks) t.true(c.endsWith('\n'));
  t.is(chunks.join(''), tx.render());
  t.is(scriptText(tx.chunks(100)), tx.render());
});
