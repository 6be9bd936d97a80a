import test from 'ava';
import { GROUP_SELECTIONS, GROUP_SLOTS, SlotAllocator, capacityFor } from '../../../../lib/dataplane/nftables/slots.ts';

const eps = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `10.0.0.${from + i}|80`);

for (const [n, want] of [[1, 2], [2, 2], [3, 4], [4, 4], [5, 8], [10, 16], [16, 16], [17, 32], [600, 1024]] as const) {
  test(`capacityFor(${n}) = ${want}`, (t) => t.is(capacityFor(n), want));
}

test('ranges are aligned, disjoint and packed into one group', (t) => {
  const a = new SlotAllocator(undefined);
  const r1 = a.assign('a', eps(2), 'tcp');
  const r2 = a.assign('b', eps(3), 'tcp');
  const r3 = a.assign('c', eps(2), 'tcp');
  t.deepEqual([r1.map, r1.offset, r1.capacity], ['endpoints-tcp-0', 0, 2]);
  t.deepEqual([r2.map, r2.offset, r2.capacity], ['endpoints-tcp-0', 4, 4]);
  t.deepEqual([r3.map, r3.offset, r3.capacity], ['endpoints-tcp-0', 2, 2]);
  t.deepEqual(a.mapsInUse(), [{ name: 'endpoints-tcp-0', pool: 'tcp' }]);
});

test('a kept range keeps endpoints in their slots and fills holes', (t) => {
  const a = new SlotAllocator(undefined);
  a.assign('s', ['a|1', 'b|1', 'c|1'], 'tcp');
  const next = new SlotAllocator(a.result);
  const r = next.assign('s', ['c|1', 'd|1', 'a|1'], 'tcp');
  t.deepEqual(r.endpoints, ['a|1', 'd|1', 'c|1']);
  t.is(r.offset, 0);
  // Shrinking: endpoints above the new count move down into holes.
  const r2 = new SlotAllocator(next.result).assign('s', ['c|1', 'a|1'], 'tcp');
  t.deepEqual(r2.endpoints, ['a|1', 'c|1']);
});

test('an unchanged selection returns the very same range object', (t) => {
  const a = new SlotAllocator(undefined);
  const r = a.assign('s', eps(3), 'tcp');
  t.is(new SlotAllocator(a.result).assign('s', eps(3), 'tcp'), r);
});

test('outgrowing a range reallocates; the freed room is reused', (t) => {
  const a = new SlotAllocator(undefined);
  a.assign('a', eps(2), 'tcp');
  a.assign('b', eps(2), 'tcp');
  const b = new SlotAllocator(a.result);
  const grown = b.assign('a', eps(3), 'tcp');
  t.deepEqual([grown.offset, grown.capacity], [4, 4]);
  const c = b.assign('c', eps(2), 'tcp');
  t.is(c.offset, 0); // a's old slots
});

test('a range far larger than needed is given back', (t) => {
  const a = new SlotAllocator(undefined);
  a.assign('a', eps(30), 'tcp');
  t.true(a.keeps('a', 9));
  t.false(a.keeps('a', 8)); // 8 → capacity 8, 4× smaller than 32
  t.is(a.assign('a', eps(8), 'tcp').capacity, 8);
});

test('groups hold at most GROUP_SELECTIONS selections and GROUP_SLOTS slots', (t) => {
  const a = new SlotAllocator(undefined);
  for (let i = 0; i < GROUP_SELECTIONS + 1; i++) a.assign(`s${i}`, eps(2), 'tcp');
  t.is(a.get(`s${GROUP_SELECTIONS}`)!.map, 'endpoints-tcp-1');
  const b = new SlotAllocator(undefined);
  const per = GROUP_SLOTS / 4;
  for (let i = 0; i < 5; i++) b.assign(`big${i}`, eps(per), 'tcp');
  t.deepEqual([0, 1, 2, 3, 4].map((i) => b.get(`big${i}`)!.map.at(-1)), ['0', '0', '0', '0', '1']);
});

test('a selection larger than a group gets a map of its own; emptied groups disappear', (t) => {
  const a = new SlotAllocator(undefined);
  a.assign('small', eps(2), 'tcp');
  const big = a.assign('big', eps(GROUP_SLOTS + 1), 'tcp');
  t.deepEqual([big.map, big.offset, big.capacity], ['endpoints-tcp-1', 0, GROUP_SLOTS * 2]);
  a.assign('small2', eps(2), 'tcp');
  t.is(a.get('small2')!.map, 'endpoints-tcp-0');
  a.free('big');
  t.deepEqual(a.mapsInUse(), [{ name: 'endpoints-tcp-0', pool: 'tcp' }]);
  t.is(a.assign('next', eps(4), 'tcp').map, 'endpoints-tcp-0');
});

test('the previous table is not modified', (t) => {
  const a = new SlotAllocator(undefined);
  a.assign('a', eps(2), 'tcp');
  const before = a.result;
  const dump = (x: typeof before): string =>
    JSON.stringify([[...x.ranges], [...x.usage].map(([k, g]) => [k, g.selections, g.used.join('')])]);
  const snapshot = dump(before);
  const b = new SlotAllocator(before);
  b.free('a');
  b.assign('b', eps(5), 'tcp');
  t.is(dump(before), snapshot);
  t.not(dump(b.result), snapshot);
});

test('each protocol has maps of its own; a selection changing protocol moves', (t) => {
  const a = new SlotAllocator(undefined);
  a.assign('t', eps(2), 'tcp');
  const u = a.assign('u', eps(2), 'udp');
  t.deepEqual([u.map, u.offset], ['endpoints-udp-0', 0]);
  const moved = a.assign('t', eps(2), 'sctp');
  t.is(moved.map, 'endpoints-sctp-0');
  t.deepEqual(a.mapsInUse().map((m) => m.name), ['endpoints-sctp-0', 'endpoints-udp-0']);
});
