import test from 'ava';
import { FakeNft } from '../../../../lib/dataplane/nftables/fake.ts';

const setup = [
  'add table ip t',
  'add chain ip t a',
  'add chain ip t b',
  'add map ip t m { type ipv4_addr . inet_proto . inet_service : verdict ; }',
  'add set ip t s { type ipv4_addr ; }',
  'add rule ip t a jump b',
  'add element ip t m { 10.0.0.1 . tcp . 80 : goto b }',
].join('\n');

const cases: { title: string; script: string; error: RegExp }[] = [
  { title: 'jump to a missing chain', script: 'add rule ip t a jump nope', error: /chain nope/ },
  { title: 'element verdict to a missing chain', script: 'add element ip t m { 10.0.0.2 . tcp . 80 : goto nope }', error: /chain nope/ },
  { title: 'element in a missing map', script: 'add element ip t nope { 10.0.0.2 }', error: /set nope/ },
  { title: 'rule referencing a missing set', script: 'add rule ip t a ip saddr @nope drop', error: /set nope/ },
  { title: 'delete of a missing chain', script: 'delete chain ip t nope', error: /No such file/ },
  { title: 'delete of a missing element', script: 'delete element ip t m { 10.9.9.9 . tcp . 80 }', error: /No such file/ },
  { title: 'delete of a missing table', script: 'delete table ip nope', error: /No such file/ },
  { title: 'delete of a referenced chain', script: 'flush chain ip t b\ndelete chain ip t b', error: /referenced/ },
  { title: 'delete of a non-empty chain', script: 'delete chain ip t a', error: /not empty/ },
  { title: 'delete of a referenced set', script: 'add rule ip t b ip saddr @s drop\ndelete set ip t s', error: /referenced/ },
  { title: 'conflicting map element', script: 'add element ip t m { 10.0.0.1 . tcp . 80 : drop }', error: /File exists/ },
  { title: 'element of the wrong arity', script: 'add element ip t m { 10.0.0.1 : drop }', error: /does not match/ },
  { title: 'create of an existing chain', script: 'create chain ip t a', error: /File exists/ },
  { title: 'syntax error', script: 'frobnicate', error: /syntax error/ },
];

for (const c of cases) {
  test(`fake nft rejects ${c.title} and changes nothing`, async (t) => {
    const nft = new FakeNft();
    await nft.run(setup);
    const before = nft.dump();
    // A valid change first: it must be rolled back with the rest.
    const err = await t.throwsAsync(nft.run(`add chain ip t fresh\nadd element ip t s { 1.2.3.4 }\n${c.script}`));
    t.regex(err?.message ?? '', c.error);
    t.is((err as { code?: string } | undefined)?.code, 'ERR_DATAPLANE_APPLY');
    t.is(nft.dump(), before);
  });
}

test('fake nft applies a valid transaction and removes chains once unreferenced', async (t) => {
  const nft = new FakeNft();
  await nft.run(setup);
  await nft.run('delete element ip t m { 10.0.0.1 . tcp . 80 }\nflush chain ip t a\nflush chain ip t b\ndelete chain ip t b');
  t.is(nft.chain('ip', 't', 'b'), undefined);
  t.deepEqual(nft.chain('ip', 't', 'a'), []);
  t.is(nft.elements('ip', 't', 'm')?.size, 0);
});

test('fake nft: flush table empties chains but, as the kernel, not sets; flush map does', async (t) => {
  const nft = new FakeNft();
  await nft.run(setup);
  await nft.run('add table ip t\nflush table ip t');
  t.deepEqual(nft.chain('ip', 't', 'a'), []);
  t.is(nft.elements('ip', 't', 'm')?.size, 1);
  await t.throwsAsync(nft.run('add element ip t m { 10.0.0.1 . tcp . 80 : drop }'), { message: /File exists/ });
  await nft.run('flush map ip t m\nadd element ip t m { 10.0.0.1 . tcp . 80 : drop }');
  t.is(nft.elements('ip', 't', 'm')?.get('10.0.0.1 . tcp . 80'), 'drop');
  t.true(nft.hasTable('ip', 't'));
});

test('fake nft: an injected failure applies nothing', async (t) => {
  const nft = new FakeNft();
  nft.failWhen = () => 'boom';
  await t.throwsAsync(nft.run(setup), { message: /boom/ });
  t.false(nft.hasTable('ip', 't'));
});
