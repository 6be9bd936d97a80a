/**
 * A transaction: an ordered list of (verb, object) that renders to one `nft -f` script, which the kernel applies
 * atomically. Building never throws: the first problem is remembered and reported by `error` / the runner.
 */
import { SwitchyardError } from '../../errors.ts';
import type { IPFamily } from '../../model/types.ts';
import { TABLE_NAME, tableFamily, type Chain, type Element, type Rule, type SetDef } from './model.ts';
import { renderChainBody, renderElement, renderRule, renderSetBody } from './render.ts';

export type Verb = 'add' | 'create' | 'flush' | 'delete' | 'insert' | 'replace';

export type TxObject =
  | { readonly kind: 'table' }
  /** add/create: the chain's declaration (rules are separate ops); flush/delete: by name. */
  | { readonly kind: 'chain'; readonly chain: Pick<Chain, 'name' | 'base'> }
  | { readonly kind: 'set'; readonly set: SetDef }
  | { readonly kind: 'rule'; readonly chain: string; readonly rule: Rule }
  /** Every rule of a chain, appended in order: one `add rule` line each (one operation instead of one per rule). */
  | { readonly kind: 'rules'; readonly chain: Pick<Chain, 'name' | 'rules'> }
  | { readonly kind: 'elements'; readonly set: SetDef | { readonly name: string; readonly kind: 'set' | 'map' }; readonly elements: readonly Element[] };

export interface TxOp {
  readonly verb: Verb;
  readonly family: IPFamily;
  readonly object: TxObject;
}

/** What nft's lexer accepts unquoted as a chain/set name. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9/\-_.]*$/;
const MAX_NAME = 255;

const allowedVerbs: Record<TxObject['kind'], readonly Verb[]> = {
  table: ['add', 'create', 'flush', 'delete'],
  chain: ['add', 'create', 'flush', 'delete'],
  set: ['add', 'create', 'flush', 'delete'],
  rule: ['add', 'insert'],
  rules: ['add'],
  elements: ['add', 'create', 'delete'],
};

export class Transaction {
  private readonly ops: TxOp[] = [];
  private firstError: SwitchyardError | undefined;

  get error(): SwitchyardError | undefined {
    return this.firstError;
  }

  get length(): number {
    return this.ops.length;
  }

  get operations(): readonly TxOp[] {
    return this.ops;
  }

  add(family: IPFamily, object: TxObject): this {
    return this.push('add', family, object);
  }
  create(family: IPFamily, object: TxObject): this {
    return this.push('create', family, object);
  }
  flush(family: IPFamily, object: TxObject): this {
    return this.push('flush', family, object);
  }
  delete(family: IPFamily, object: TxObject): this {
    return this.push('delete', family, object);
  }
  insert(family: IPFamily, object: TxObject): this {
    return this.push('insert', family, object);
  }
  /** Replacing a rule needs its kernel handle, which this model does not track: recorded as an error. */
  replace(family: IPFamily, object: TxObject): this {
    return this.push('replace', family, object);
  }

  private fail(message: string): void {
    this.firstError ??= new SwitchyardError('ERR_DATAPLANE_APPLY', `nftables transaction: ${message}`);
  }

  private push(verb: Verb, family: IPFamily, object: TxObject): this {
    if (!allowedVerbs[object.kind].includes(verb)) {
      this.fail(`verb "${verb}" is not supported for a ${object.kind}`);
      return this;
    }
    for (const name of namesOf(object)) {
      if (!IDENTIFIER.test(name) || name.length > MAX_NAME) this.fail(`invalid object name ${JSON.stringify(name)}`);
    }
    if (object.kind === 'elements' && object.elements.length === 0) return this;
    if (object.kind === 'rules' && object.chain.rules.length === 0) return this;
    this.ops.push({ verb, family, object });
    return this;
  }

  /** The script for `nft -f -`: one command per line. */
  render(): string {
    let out = '';
    for (const chunk of this.chunks()) out += chunk;
    return out;
  }

  /**
   * The same script as `render()`, rendered lazily in pieces of about `chunkChars` characters (whole lines), so a
   * runner can stream it to nft without the whole text (9 MB at 10k services) ever being in memory at once.
   */
  *chunks(chunkChars = 64 * 1024): Generator<string, void, undefined> {
    let lines: string[] = [];
    let size = 0;
    for (const op of this.ops) {
      const line = renderOp(op);
      lines.push(line);
      size += line.length + 1;
      if (size >= chunkChars) {
        yield `${lines.join('\n')}\n`;
        lines = [];
        size = 0;
      }
    }
    if (lines.length > 0) yield `${lines.join('\n')}\n`;
  }
}

const namesOf = (o: TxObject): string[] => {
  switch (o.kind) {
    case 'table':
      return [];
    case 'chain':
      return [o.chain.name];
    case 'set':
      return [o.set.name];
    case 'rule':
      return [o.chain];
    case 'rules':
      return [o.chain.name];
    case 'elements':
      return [o.set.name];
  }
};

export const renderOp = (op: TxOp): string => {
  const where = `${tableFamily(op.family)} ${TABLE_NAME}`;
  const o = op.object;
  const declares = op.verb === 'add' || op.verb === 'create';
  switch (o.kind) {
    case 'table':
      return `${op.verb} table ${where}`;
    case 'chain':
      return `${op.verb} chain ${where} ${o.chain.name}${declares ? renderChainBody({ ...o.chain, rules: [] }) : ''}`;
    case 'set':
      return `${op.verb} ${o.set.kind} ${where} ${o.set.name}${declares ? ` ${renderSetBody(o.set, op.family)}` : ''}`;
    case 'rule':
      return `${op.verb} rule ${where} ${o.chain} ${renderRule(o.rule, op.family)}`;
    case 'rules':
      return o.chain.rules.map((r) => `${op.verb} rule ${where} ${o.chain.name} ${renderRule(r, op.family)}`).join('\n');
    case 'elements': {
      const items = o.elements.map(op.verb === 'delete' ? (e: Element) => e.key : renderElement);
      return `${op.verb} element ${where} ${o.set.name} { ${items.join(', ')} }`;
    }
  }
};
