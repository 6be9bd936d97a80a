/**
 * A fake nft: parses the scripts render.ts/transaction.ts produce (one command per line; not general nft syntax)
 * and applies each script all-or-nothing to an in-memory ruleset, refusing what the kernel would refuse: references
 * to missing chains/sets, deleting missing objects, deleting chains that are non-empty or still referenced.
 */
import { SwitchyardError } from '../../errors.ts';
import { scriptText, type NftRunner, type NftScript } from './nft.ts';

interface FakeChain {
  base: string | undefined;
  rules: string[];
}
interface FakeSet {
  kind: 'set' | 'map';
  def: string;
  arity: number;
  elements: Map<string, string | undefined>;
}
interface FakeTable {
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet>;
}

const NAME = '[A-Za-z_][A-Za-z0-9/\\-_.]*';
const REF_CHAIN = new RegExp(`\\b(?:jump|goto) (${NAME})`, 'g');
const REF_SET = new RegExp(`@(${NAME})`, 'g');

const cloneTables = (t: Map<string, FakeTable>): Map<string, FakeTable> =>
  new Map(
    [...t].map(([k, v]) => [
      k,
      {
        chains: new Map([...v.chains].map(([n, c]) => [n, { base: c.base, rules: [...c.rules] }])),
        sets: new Map([...v.sets].map(([n, s]) => [n, { ...s, elements: new Map(s.elements) }])),
      },
    ]),
  );

class Reject extends Error {}

export class FakeNft implements NftRunner {
  private tables = new Map<string, FakeTable>();
  /** Every script that was applied successfully, in order. */
  readonly applied: string[] = [];
  /** Every script handed to run(), applied or not. */
  readonly scripts: string[] = [];
  /** When set and returning a message, the next script is refused with it (simulates a kernel error). */
  failWhen: ((script: string) => string | undefined) | undefined;

  run(input: NftScript): Promise<void> {
    const script = scriptText(input);
    this.scripts.push(script);
    const injected = this.failWhen?.(script);
    if (injected !== undefined) return Promise.reject(new SwitchyardError('ERR_DATAPLANE_APPLY', `fake nft: ${injected}`));
    const work = cloneTables(this.tables);
    const lines = script.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      try {
        applyLine(work, line);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        return Promise.reject(new SwitchyardError('ERR_DATAPLANE_APPLY', `fake nft: line ${i + 1}: ${msg}: ${line.slice(0, 200)}`));
      }
    }
    this.tables = work;
    this.applied.push(script);
    return Promise.resolve();
  }

  listTable(family: 'ip' | 'ip6', table: string): Promise<string | undefined> {
    const t = this.tables.get(`${family} ${table}`);
    return Promise.resolve(t === undefined ? undefined : renderTable(`${family} ${table}`, t));
  }

  /** Canonical, sorted dump of everything (for assertions). */
  dump(): string {
    return [...this.tables.keys()].sort().map((k) => renderTable(k, this.tables.get(k)!)).join('');
  }

  hasTable(family: 'ip' | 'ip6', table: string): boolean {
    return this.tables.has(`${family} ${table}`);
  }

  chain(family: 'ip' | 'ip6', table: string, chain: string): readonly string[] | undefined {
    return this.tables.get(`${family} ${table}`)?.chains.get(chain)?.rules;
  }

  elements(family: 'ip' | 'ip6', table: string, set: string): ReadonlyMap<string, string | undefined> | undefined {
    return this.tables.get(`${family} ${table}`)?.sets.get(set)?.elements;
  }
}

const renderTable = (key: string, t: FakeTable): string => {
  const out = [`table ${key} {`];
  for (const n of [...t.sets.keys()].sort()) {
    const s = t.sets.get(n)!;
    out.push(`\t${s.kind} ${n} {`, `\t\t${s.def}`);
    const els = [...s.elements].map(([k, v]) => (v === undefined ? k : `${k} : ${v}`)).sort();
    if (els.length > 0) out.push(`\t\telements = { ${els.join(', ')} }`);
    out.push('\t}');
  }
  for (const n of [...t.chains.keys()].sort()) {
    const c = t.chains.get(n)!;
    out.push(`\tchain ${n} {`);
    if (c.base !== undefined) out.push(`\t\t${c.base}`);
    for (const r of c.rules) out.push(`\t\t${r}`);
    out.push('\t}');
  }
  out.push('}');
  return `${out.join('\n')}\n`;
};

const fail = (msg: string): never => {
  throw new Reject(msg);
};

const body = (rest: string): string => {
  const m = /^\{(.*)\}$/.exec(rest.trim());
  return m === null ? fail('expected { … }') : m[1]!.trim();
};

const references = (t: FakeTable, text: string): void => {
  for (const m of text.matchAll(REF_CHAIN)) if (!t.chains.has(m[1]!)) fail(`No such file or directory: chain ${m[1]}`);
  for (const m of text.matchAll(REF_SET)) if (!t.sets.has(m[1]!)) fail(`No such file or directory: set ${m[1]}`);
};

const isReferenced = (t: FakeTable, re: RegExp, name: string): boolean => {
  for (const c of t.chains.values()) for (const r of c.rules) for (const m of r.matchAll(re)) if (m[1] === name) return true;
  if (re === REF_CHAIN) {
    for (const s of t.sets.values()) for (const v of s.elements.values()) if (v !== undefined && v.split(' ')[1] === name) return true;
  }
  return false;
};

const applyLine = (tables: Map<string, FakeTable>, line: string): void => {
  const m = /^(add|create|flush|delete|insert) (table|chain|set|map|rule|element) (ip|ip6) (\S+)(?: (\S+))?(?: (.*))?$/.exec(line);
  if (m === null) return void fail('syntax error');
  const [, verb, kind, family, tableName, name, rest] = m;
  const key = `${family} ${tableName}`;
  if (kind === 'table') {
    if (name !== undefined) fail('syntax error');
    const exists = tables.has(key);
    if (verb === 'add') {
      if (!exists) tables.set(key, { chains: new Map(), sets: new Map() });
    } else if (verb === 'create') {
      if (exists) fail('File exists');
      tables.set(key, { chains: new Map(), sets: new Map() });
    } else if (verb === 'delete') {
      if (!exists) fail('No such file or directory');
      tables.delete(key);
    } else if (verb === 'flush') {
      const t = tables.get(key) ?? fail('No such file or directory');
      // As the kernel does: rules only; sets and maps keep their elements.
      for (const c of t.chains.values()) c.rules = [];
    } else fail('syntax error');
    return;
  }
  const t = tables.get(key) ?? fail(`No such file or directory: table ${key}`);
  if (name === undefined) return void fail('syntax error');
  switch (kind) {
    case 'chain': {
      const c = t.chains.get(name);
      if (verb === 'add' || verb === 'create') {
        if (c !== undefined && verb === 'create') fail('File exists');
        const base = rest === undefined ? undefined : body(rest).replace(/\s*;\s*$/, '').replace(/ ; /g, '; ');
        if (c !== undefined && c.base !== base) fail('chain type/hook mismatch');
        if (c === undefined) t.chains.set(name, { base, rules: [] });
      } else if (verb === 'flush') {
        (c ?? fail(`No such file or directory: chain ${name}`)).rules = [];
      } else if (verb === 'delete') {
        if (c === undefined) fail(`No such file or directory: chain ${name}`);
        else if (c.rules.length > 0) fail(`Device or resource busy: chain ${name} is not empty`);
        else if (isReferenced(t, REF_CHAIN, name)) fail(`Device or resource busy: chain ${name} is referenced`);
        t.chains.delete(name);
      } else fail('syntax error');
      return;
    }
    case 'set':
    case 'map': {
      const s = t.sets.get(name);
      if (s !== undefined && s.kind !== kind) fail(`${name} is a ${s.kind}`);
      if (verb === 'add' || verb === 'create') {
        const def = body(rest ?? '');
        if (s !== undefined && (verb === 'create' || s.def !== def)) fail('File exists');
        const type = /\btype(?:of)? ([^;:]+)/.exec(def)?.[1] ?? fail('set without type');
        if (s === undefined) t.sets.set(name, { kind, def, arity: type.split(' . ').length, elements: new Map() });
      } else if (verb === 'flush') {
        (s ?? fail(`No such file or directory: ${kind} ${name}`)).elements.clear();
      } else if (verb === 'delete') {
        if (s === undefined) fail(`No such file or directory: ${kind} ${name}`);
        if (isReferenced(t, REF_SET, name)) fail(`Device or resource busy: ${kind} ${name} is referenced`);
        t.sets.delete(name);
      } else fail('syntax error');
      return;
    }
    case 'rule': {
      const c = t.chains.get(name) ?? fail(`No such file or directory: chain ${name}`);
      const text = rest?.trim() ?? '';
      if (text === '') fail('empty rule');
      references(t, text);
      if (verb === 'add') c.rules.push(text);
      else if (verb === 'insert') c.rules.unshift(text);
      else fail('syntax error');
      return;
    }
    case 'element': {
      const s = t.sets.get(name) ?? fail(`No such file or directory: set ${name}`);
      const items = body(rest ?? '').split(', ').map((x) => x.trim()).filter((x) => x !== '');
      for (const item of items) {
        const [k, v] = item.split(' : ') as [string, string | undefined];
        if (k.split(' . ').length !== s.arity) fail(`element ${k} does not match the type of ${name}`);
        if (verb === 'delete') {
          if (!s.elements.has(k)) fail(`No such file or directory: element ${k} in ${name}`);
          s.elements.delete(k);
          continue;
        }
        if (s.kind === 'map' && v === undefined) fail(`map element ${k} without a value`);
        if (s.kind === 'map' && v !== undefined && /^typeof /.test(s.def) !== !/^(?:jump|goto|accept|drop|return)\b/.test(v)) {
          fail(`map element ${k} : ${v} does not match the type of ${name}`);
        }
        if (s.kind === 'set' && v !== undefined) fail(`set element ${k} with a value`);
        if (v !== undefined) references(t, v);
        if (s.elements.has(k) && (verb === 'create' || s.elements.get(k) !== v)) fail(`File exists: element ${k} in ${name}`);
        s.elements.set(k, v);
      }
      return;
    }
  }
};
