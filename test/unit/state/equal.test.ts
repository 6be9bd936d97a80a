import test from 'ava';
import { deepEqual } from '../../../lib/state/equal.ts';

const cases: [string, unknown, unknown, boolean][] = [
  ['same primitives', 1, 1, true],
  ['different primitives', 1, 2, false],
  ['NaN', Number.NaN, Number.NaN, true],
  ['undefined vs null', undefined, null, false],
  ['nested equal', { a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] }, true],
  ['nested different', { a: [1, { b: 'x' }] }, { a: [1, { b: 'y' }] }, false],
  ['array length', [1], [1, 2], false],
  ['array vs object', [], {}, false],
  ['undefined field equals a missing one', { a: 1, b: undefined }, { a: 1 }, true],
  ['extra field', { a: 1 }, { a: 1, b: 2 }, false],
  ['key order does not matter', { a: 1, b: 2 }, { b: 2, a: 1 }, true],
];
for (const [title, a, b, expected] of cases) {
  test(`deepEqual: ${title}`, (t) => {
    t.is(deepEqual(a, b), expected);
    t.is(deepEqual(b, a), expected);
  });
}
