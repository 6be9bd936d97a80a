import test from 'ava';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IPFamily } from '../../../../lib/model/types.ts';
import type { DesiredState } from '../../../../lib/plan/types.ts';
import { buildBase, buildService, buildTables, mapBase, mapGroup, assemble } from '../../../../lib/dataplane/iptables/rules.ts';
import { parseRule, renderRule, jumpTarget, type Rule } from '../../../../lib/dataplane/iptables/model.ts';
import { restoreInput } from '../../../../lib/dataplane/iptables/restore.ts';
import { FakeIptables } from '../../../../lib/dataplane/iptables/fake.ts';
import { chainHash, serviceChain, endpointChain, hairpinSet } from '../../../../lib/dataplane/iptables/names.ts';
import { desired, ep, goldenStates, plan } from '../fixtures.ts';

const goldenDir = fileURLToPath(new URL('./golden/', import.meta.url));

const fixtures: Record<string, DesiredState> = {
  ...goldenStates(),
  'two-cluster-cidrs-nodeport-cidrs': desired(
    [plan({ name: 'b', clusterIP: '10.96.6.6', port: 80, endpoints: [ep('10.244.1.1', 80, true), ep('10.245.0.9', 80)], extra: { nodePort: 31001, healthCheckNodePort: 32000 } })],
    { v4: { clusterCIDRs: ['10.244.0.0/16', '10.245.0.0/16'], nodePortCIDRs: ['192.168.1.0/24'] } },
  ),
};

const fullInput = (state: DesiredState, family: IPFamily): string => {
  const s = state.families[family];
  const groups = state.services.filter((p) => p.family === family).map((p) => mapGroup(buildService(p, s, state.masqueradeAll), renderRule));
  return restoreInput(assemble(mapBase(buildBase(family, s), renderRule), groups, (x) => x), undefined).text;
};

for (const [name, state] of Object.entries(fixtures)) {
  for (const family of [4, 6] as const) {
    test(`golden full restore input: ${name} ipv${family}`, async (t) => {
      const text = fullInput(state, family);
      const file = `${goldenDir}${name}.v${family}.rules`;
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
        writeFileSync(file, text);
        t.log(`wrote ${file}`);
      }
      t.is(text, readFileSync(file, 'utf8'));
      const fake = new FakeIptables();
      await fake.ipset(['restore'], `create ${hairpinSet(family)} hash:ip,port,ip family ${family === 4 ? 'inet' : 'inet6'}\n`);
      await t.notThrowsAsync(fake.restore(family, text));
    });
  }
}

test('every rendered rule parses back to the same typed rule', (t) => {
  const state = fixtures.rich!;
  let n = 0;
  for (const family of [4, 6] as const) {
    const tables = buildTables(state, family);
    for (const table of Object.values(tables)) {
      for (const rules of table.values()) {
        for (const r of rules) {
          t.deepEqual(parseRule(renderRule(r)), r);
          n++;
        }
      }
    }
  }
  t.true(n > 100);
});

const parseCases: [string, string, Rule][] = [
  ['or-mark as saved', '-j MARK --set-xmark 0x4000/0x4000', { matches: [], target: { t: 'MARK', op: 'or', mark: 0x4000 } }],
  ['xor-mark as saved', '-j MARK --set-xmark 0x4000/0x0', { matches: [], target: { t: 'MARK', op: 'xor', mark: 0x4000 } }],
  ['quoted comment', '-m comment --comment "default/web:" -j ACCEPT', { matches: [{ m: 'comment', text: 'default/web:' }], target: { t: 'ACCEPT' } }],
  ['bare address gets a host mask', '-s 10.0.0.1 -d fd00::1 -j RETURN', { matches: [{ m: 'src', neg: false, cidr: '10.0.0.1/32' }, { m: 'dst', neg: false, cidr: 'fd00::1/128' }], target: { t: 'RETURN' } }],
  ['negated mark', '-m mark ! --mark 0x4000/0x4000 -j RETURN', { matches: [{ m: 'mark', neg: true, mark: 0x4000 }], target: { t: 'RETURN' } }],
];
for (const [title, text, want] of parseCases) test(`parseRule: ${title}`, (t) => t.deepEqual(parseRule(text), want));

test('parseRule refuses what it does not know, naming it', (t) => {
  t.throws(() => parseRule('-m owner --uid-owner 0 -j ACCEPT'), { message: /unsupported match module "owner"/ });
  t.throws(() => parseRule('-s 1.2.3.4'), { message: /without target/ });
  t.throws(() => parseRule('--bogus -j ACCEPT'), { message: /unsupported token "--bogus"/ });
});

test('jumpTarget ignores built-in targets', (t) => {
  t.is(jumpTarget('-d 1.2.3.4/32 -j SWITCHYARD-SVC-X'), 'SWITCHYARD-SVC-X');
  t.is(jumpTarget('-j DNAT --to-destination 1.2.3.4:80'), undefined);
  t.is(jumpTarget('-j MARK --or-mark 0x4000'), undefined);
});

test('chain names fit iptables limits and are stable', (t) => {
  const p = plan({ name: 'a-very-long-service-name-indeed', namespace: 'some-namespace', clusterIP: '10.96.0.1', port: 80 });
  t.is(chainHash('x'), chainHash('x'));
  t.not(chainHash('x'), chainHash('y'));
  t.true(serviceChain(p).length <= 28);
  t.true(endpointChain(p, ep('fd00:1234:5678::1', 65535)).length <= 28);
  t.regex(serviceChain(p), /^SWITCHYARD-SVC-[A-Z2-7]{12}$/);
});

test('balancing probabilities give each endpoint an equal share', (t) => {
  const eps = [1, 2, 3, 4].map((i) => ep(`10.244.0.${i}`, 80));
  const g = buildService(plan({ name: 'four', clusterIP: '10.96.0.4', port: 80, endpoints: eps }), desired([]).families[4], false);
  const svc = g.chains.find((c) => c.name.startsWith('SWITCHYARD-SVC-'))!;
  // Without affinity the SVC chain DNATs inline; with it, the same shares go to SEP chains.
  const toEndpoints = svc.rules.filter((r) => r.target.t === 'DNAT');
  const probs = toEndpoints.map((r) => r.matches.find((m) => m.m === 'statistic')).map((m) => (m?.m === 'statistic' ? Number(m.probability) : 1));
  t.deepEqual(probs.map((p) => p.toFixed(4)), ['0.2500', '0.3333', '0.5000', '1.0000']);
  let left = 1;
  for (const p of probs) {
    t.is(Number((left * p).toFixed(6)), 0.25);
    left *= 1 - p;
  }
});
