import test from 'ava';
import { buildRuleset } from '../../../../lib/dataplane/nftables/ruleset.ts';
import type { FamilyRuleset, Ruleset } from '../../../../lib/dataplane/nftables/model.ts';
import type { ServicePlan } from '../../../../lib/plan/types.ts';
import { desired, ep, plan } from '../fixtures.ts';

/** Deterministic pseudo-random numbers. */
const rng = (seed: number) => () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

const svc = (i: number, n: number, rand: () => number): ServicePlan =>
  plan({
    name: `s${i}`,
    clusterIP: `10.96.1.${i}`,
    port: 80,
    endpoints: Array.from({ length: n }, () => ep(`10.244.${i}.${1 + Math.floor(rand() * 60)}`, 8080)).filter(
      (e, j, all) => all.findIndex((x) => x.ip === e.ip) === j,
    ),
  });

const sorted = <V>(m: ReadonlyMap<string, V>): [string, V][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
const family = (r: Ruleset): FamilyRuleset => r.families[0]!;
const comparable = (r: Ruleset) => {
  const f = family(r);
  return { base: f.base, services: sorted(f.services), ranges: sorted(f.slots.ranges), usage: sorted(f.slots.usage) };
};

for (const seed of [1, 2, 3]) {
  test(`building only the changed service ports equals building all of them (seed ${seed})`, (t) => {
    const rand = rng(seed);
    let services = new Map<number, ServicePlan>();
    for (let i = 1; i <= 30; i++) services.set(i, svc(i, Math.floor(rand() * 8), rand));
    let prev = buildRuleset(desired([...services.values()]), [4]);
    for (let step = 0; step < 50; step++) {
      const next = new Map(services);
      const changed = new Set<string>();
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
        const i = 1 + Math.floor(rand() * 35);
        const old = next.get(i);
        if (old !== undefined && rand() < 0.2) next.delete(i);
        else next.set(i, svc(i, rand() < 0.1 ? 20 + Math.floor(rand() * 20) : Math.floor(rand() * 8), rand));
        changed.add((old ?? next.get(i))!.servicePort);
      }
      const state = desired([...next.values()].sort((a, b) => (a.id < b.id ? -1 : 1)));
      const incremental = buildRuleset(state, [4], prev, changed);
      t.deepEqual(comparable(incremental), comparable(buildRuleset(state, [4], prev)), `step ${step}`);
      // Groups of the service ports not named are the previous objects.
      for (const [id, g] of family(incremental).services) {
        if (![...changed].some((k) => id === `4/${k}`)) t.true(g === family(prev).services.get(id), id);
      }
      services = next;
      prev = incremental;
    }
  });
}

test('an incomplete hint (a new service port not named) falls back to building everything', (t) => {
  const rand = rng(9);
  const a = svc(1, 2, rand);
  const b = svc(2, 3, rand);
  const prev = buildRuleset(desired([a]), [4]);
  const next = buildRuleset(desired([a, b]), [4], prev, new Set());
  t.deepEqual(sorted(family(next).services).map(([id]) => id), [a.id, b.id].sort());
});
