import test from 'ava';
import { LayeredMap } from '../../../../lib/dataplane/nftables/layered-map.ts';

/** Deterministic pseudo-random numbers. */
const rng = (seed: number) => () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

const contents = <K, V>(m: ReadonlyMap<K, V>): [K, V][] => [...m].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));

for (const seed of [1, 2, 3]) {
  test(`derived versions behave as copied Maps, and older versions never change (seed ${seed})`, (t) => {
    const rand = rng(seed);
    let version = LayeredMap.of<string, number>(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    let model = new Map(version);
    const history: [LayeredMap<string, number>, [string, number][]][] = [];
    for (let step = 0; step < 400; step++) {
      history.push([version, contents(model)]);
      version = LayeredMap.derive(version);
      model = new Map(model);
      for (let k = Math.floor(rand() * 4); k >= 0; k--) {
        const key = `k${Math.floor(rand() * 400)}`;
        if (rand() < 0.4) t.is(version.delete(key), model.delete(key));
        else {
          version.set(key, step);
          model.set(key, step);
        }
      }
      t.is(version.size, model.size);
      const probe = `k${Math.floor(rand() * 400)}`;
      t.is(version.get(probe), model.get(probe));
      t.is(version.has(probe), model.has(probe));
    }
    t.deepEqual(contents(version), contents(model));
    t.deepEqual([...version.keys()].sort(), [...model.keys()].sort());
    for (const [old, want] of history.filter((_, i) => i % 37 === 0)) t.deepEqual(contents(old), want);
  });
}

test('a value of undefined is an entry, a deleted base entry is not', (t) => {
  const m = LayeredMap.derive(LayeredMap.of<string, number | undefined>([['a', 1], ['b', 2]]));
  m.set('c', undefined);
  m.delete('a');
  t.true(m.has('c'));
  t.false(m.has('a'));
  t.is(m.get('a'), undefined);
  t.is(m.size, 2);
  t.deepEqual(contents(m), [['b', 2], ['c', undefined]]);
  t.false(m.delete('a'));
});

test('derive from a plain Map copies it once', (t) => {
  const plain = new Map([['x', 1]]);
  const m = LayeredMap.derive(plain);
  m.set('y', 2);
  t.is(plain.size, 1);
  t.is(m.size, 2);
});
