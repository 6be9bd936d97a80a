/**
 * DesiredState → typed nftables ruleset (one table per family). Pure.
 *
 * Fixed chains hold a handful of rules (base.ts); everything per service port (service.ts) lives in map/set
 * elements — endpoints in the shared chains' maps (shared.ts) or in slot maps (slots.ts) — plus, for Local
 * policies, affinity and firewalls, that service's own chains, so a service change is a few element updates and at
 * most a rewrite of its chains. Nothing in the fixed part grows with services. See README.md.
 */
import type { IPFamily } from '../../model/types.ts';
import type { DesiredState, ServicePlan } from '../../plan/types.ts';
import type { FamilyRuleset, ObjectGroup, Ruleset, SlotRange } from './model.ts';
import { LayeredMap } from './layered-map.ts';
import { SlotAllocator } from './slots.ts';
import { SharedChainCounts } from './shared.ts';
import { buildBase } from './base.ts';
import { buildService, selectionKeysOf, slotSelections } from './service.ts';

export { buildBase } from './base.ts';
export { buildService } from './service.ts';

/** A plan's id (`<family>/<service port key>`, see ServicePlan.id) for a service port key. */
export const planIdOf = (family: IPFamily, servicePort: string): string => `${family}/${servicePort}`;

/**
 * The whole ruleset. `previous` (the ruleset the kernel holds) carries the endpoint-slot allocation forward, so
 * unchanged services keep their slots; without it slots are allocated afresh (a full sync). With `changed` (service
 * port keys), only those service ports are built again: every other group is taken from `previous` as it is, and
 * the cost follows the change (no pass over all services). Without `changed`, every group is built.
 */
export const buildRuleset = (
  state: DesiredState,
  families: readonly IPFamily[] = [4, 6],
  previous?: Ruleset,
  changed?: ReadonlySet<string>,
): Ruleset =>
  (previous !== undefined && changed !== undefined ? updateRuleset(state, families, previous, changed) : undefined) ?? {
    families: families.map((family): FamilyRuleset => {
      const prev = previous?.families.find((f) => f.family === family);
      const plans = state.services.filter((p) => p.family === family);
      const present = new Set(plans.map((p) => p.id));
      const removed = prev === undefined ? [] : [...prev.services.keys()].filter((id) => !present.has(id));
      return buildFamily(state, family, prev, plans, removed, LayeredMap.of(), false);
    }),
  };

/**
 * The ruleset with only the `changed` service ports built again, every other group taken from `previous` — or
 * undefined when that cannot be right: a family missing from `previous`, or a hint that misses a service port (the
 * plan count does not add up). Then only a full build (with `previous` for the slots) is correct, and so is only a
 * diff over every service.
 */
export const updateRuleset = (
  state: DesiredState,
  families: readonly IPFamily[],
  previous: Ruleset,
  changed: ReadonlySet<string>,
): Ruleset | undefined => {
  const out: FamilyRuleset[] = [];
  for (const family of families) {
    const prev = previous.families.find((f) => f.family === family);
    const fr = prev === undefined ? undefined : updateFamily(state, family, prev, changed);
    if (fr === undefined) return undefined;
    out.push(fr);
  }
  return { families: out };
};

/**
 * Only the plans of `changed` service ports built again; undefined when the result would not hold every plan of the
 * family (a plan missing from `prev` yet not named in `changed`: the hint was incomplete, build everything).
 */
const updateFamily = (state: DesiredState, family: IPFamily, prev: FamilyRuleset, changed: ReadonlySet<string>): FamilyRuleset | undefined => {
  const rebuilt: ServicePlan[] = [];
  let count = 0;
  for (const p of state.services) {
    if (p.family !== family) continue;
    count++;
    if (changed.has(p.servicePort)) rebuilt.push(p);
  }
  const present = new Set(rebuilt.map((p) => p.id));
  const removed: string[] = [];
  for (const key of changed) {
    const id = planIdOf(family, key);
    if (prev.services.has(id) && !present.has(id)) removed.push(id);
  }
  const fr = buildFamily(state, family, prev, rebuilt, removed, LayeredMap.derive(prev.services), true);
  return fr.services.size === count ? fr : undefined;
};

const buildFamily = (
  state: DesiredState,
  family: IPFamily,
  prev: FamilyRuleset | undefined,
  rebuilt: readonly ServicePlan[],
  removed: readonly string[],
  services: LayeredMap<string, ObjectGroup>,
  incremental: boolean,
): FamilyRuleset => {
  const settings = state.families[family];
  const slots = new SlotAllocator(prev?.slots);
  // Shared-chain usage: carried from `prev` when only some groups are rebuilt, else counted from scratch.
  const shared = new SharedChainCounts(incremental ? prev?.shared : undefined);
  if (incremental) {
    for (const id of removed) shared.add(prev?.services.get(id)?.sharedChains, -1);
    for (const p of rebuilt) shared.add(prev?.services.get(p.id)?.sharedChains, -1);
  }
  for (const id of removed) {
    services.delete(id);
    for (const k of selectionKeysOf(id)) slots.free(k);
  }
  // Groups not rebuilt keep their slot ranges untouched; only rebuilt plans and removed ones move slots.
  const wanted = new Map<string, { endpoints: string[]; pool: string }>();
  for (const p of rebuilt) for (const sel of slotSelections(p)) wanted.set(sel.key, sel);
  // Free what is gone or outgrown first, so that room is reused by what follows.
  for (const p of rebuilt) {
    for (const k of selectionKeysOf(p.id)) {
      const w = wanted.get(k);
      if (w === undefined || !slots.keeps(k, w.endpoints.length)) slots.free(k);
    }
  }
  for (const [k, w] of wanted) slots.assign(k, w.endpoints, w.pool);
  const slotOf = (k: string): SlotRange | undefined => slots.get(k);
  for (const p of rebuilt) {
    const g = buildService(p, settings, slotOf, prev?.services.get(p.id));
    services.set(p.id, g);
    shared.add(g.sharedChains, 1);
  }
  return {
    family,
    base: buildBase(family, settings, state.masqueradeAll, slots.mapsInUse(), shared.inUse()),
    services,
    slots: slots.result,
    shared: shared.result,
  };
};
