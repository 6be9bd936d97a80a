import test from 'ava';
import { fullScript, hairpinMaxelem, shiftMembers } from '../../../../lib/dataplane/iptables/hairpin.ts';

const maxelemCases: [number, number][] = [[0, 65536], [32768, 65536], [32769, 131072], [300000, 1048576]];
for (const [count, want] of maxelemCases) test(`hairpinMaxelem(${count}) = ${want}`, (t) => t.is(hairpinMaxelem(count), want));

test('shiftMembers counts shared members and reports only 0→1 and 1→0', (t) => {
  const counts = new Map([['a', 1], ['b', 2]]);
  t.deepEqual(shiftMembers(counts, ['a', 'b'], ['b', 'c']), { added: ['c'], removed: ['a'] });
  t.deepEqual([...counts].sort(), [['b', 2], ['c', 1]]);
  t.deepEqual(shiftMembers(counts, ['b'], []), { added: [], removed: [] });
  t.deepEqual(shiftMembers(counts, ['b'], []), { added: [], removed: ['b'] });
});

test('fullScript swaps a filled scratch set in, creating the live set only when missing', (t) => {
  t.is(
    fullScript(4, ['10.0.0.1,tcp:80,10.0.0.1'], 65536, new Set()),
    'create SWITCHYARD-HAIRPIN-NEXT hash:ip,port,ip family inet maxelem 65536\nadd SWITCHYARD-HAIRPIN-NEXT 10.0.0.1,tcp:80,10.0.0.1 -exist\n' +
      'create SWITCHYARD-HAIRPIN hash:ip,port,ip family inet maxelem 65536\nswap SWITCHYARD-HAIRPIN-NEXT SWITCHYARD-HAIRPIN\ndestroy SWITCHYARD-HAIRPIN-NEXT\n',
  );
  const again = fullScript(6, [], 131072, new Set(['SWITCHYARD-HAIRPIN6', 'SWITCHYARD-HAIRPIN6-NEXT']));
  t.is(again, 'destroy SWITCHYARD-HAIRPIN6-NEXT\ncreate SWITCHYARD-HAIRPIN6-NEXT hash:ip,port,ip family inet6 maxelem 131072\nswap SWITCHYARD-HAIRPIN6-NEXT SWITCHYARD-HAIRPIN6\ndestroy SWITCHYARD-HAIRPIN6-NEXT\n');
});
