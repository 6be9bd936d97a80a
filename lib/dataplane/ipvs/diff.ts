/**
 * Differences between IPVS states as `ipvsadm -R` and `ipset restore` input. Pure. Additions come before
 * deletions so that a half-applied `ipvsadm -R` (it is not atomic) never leaves a service with fewer real servers
 * than both the old and the new state have.
 */
import type { IPFamily } from '../../model/types.ts';
import { renderReal, renderSetCreate, renderVirtual, vsKey, type IpsetDef, type VirtualServer } from './model.ts';

const realKey = (r: { addr: string; port: number }): string => `${r.addr}|${r.port}`;

export const ipvsScript = (current: readonly VirtualServer[], wanted: readonly VirtualServer[]): { text: string; changed: number } => {
  const cur = new Map(current.map((v) => [vsKey(v), v]));
  const adds: string[] = [];
  const dels: string[] = [];
  let changed = 0;
  for (const v of wanted) {
    const old = cur.get(vsKey(v));
    cur.delete(vsKey(v));
    const before = adds.length + dels.length;
    if (old === undefined) {
      adds.push(renderVirtual('-A', v), ...v.reals.map((r) => renderReal('-a', v, r)));
    } else {
      if (old.scheduler !== v.scheduler || old.persistence !== v.persistence) adds.push(renderVirtual('-E', v));
      const oldReals = new Map(old.reals.map((r) => [realKey(r), r]));
      for (const r of v.reals) {
        const o = oldReals.get(realKey(r));
        oldReals.delete(realKey(r));
        if (o === undefined) adds.push(renderReal('-a', v, r));
        else if (o.weight !== r.weight) adds.push(renderReal('-e', v, r));
      }
      for (const r of oldReals.values()) dels.push(renderReal('-d', v, r));
    }
    if (adds.length + dels.length > before) changed++;
  }
  for (const v of cur.values()) {
    dels.push(renderVirtual('-D', v));
    changed++;
  }
  const lines = [...adds, ...dels];
  return { text: lines.length === 0 ? '' : `${lines.join('\n')}\n`, changed };
};

/**
 * Full: every set is built under a temporary name and swapped in (atomic per set). Partial: element deletes and
 * adds against `previous`.
 */
export const ipsetScript = (family: IPFamily, wanted: readonly IpsetDef[], previous: readonly IpsetDef[] | undefined): string => {
  const lines: string[] = [];
  const prev = new Map((previous ?? []).map((s) => [s.name, s]));
  for (const s of wanted) {
    const old = prev.get(s.name);
    if (previous === undefined || old === undefined) {
      const tmp = `${s.name}-T`;
      lines.push(renderSetCreate(s, family), renderSetCreate(s, family, tmp), `flush ${tmp}`);
      for (const e of s.entries) lines.push(`add ${tmp} ${e}`);
      lines.push(`swap ${tmp} ${s.name}`, `destroy ${tmp}`);
      continue;
    }
    const had = new Set(old.entries);
    const has = new Set(s.entries);
    for (const e of old.entries) if (!has.has(e)) lines.push(`del ${s.name} ${e} -exist`);
    for (const e of s.entries) if (!had.has(e)) lines.push(`add ${s.name} ${e} -exist`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
};
