/**
 * Label and field selectors with the API server's syntax. A parse failure throws SelectorError, which the server
 * turns into a 400 BadRequest Status, as the real API server does.
 */
export class SelectorError extends Error {
  override name = 'SelectorError';
}

type Labels = Readonly<Record<string, string>>;
export type LabelPredicate = (labels: Labels) => boolean;

/** Splits on commas that are not inside `( … )`. */
const splitTopLevel = (text: string): string[] => {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
};

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;
const checkKey = (key: string, source: string): string => {
  if (!KEY.test(key)) throw new SelectorError(`invalid label key "${key}" in selector "${source}"`);
  return key;
};

const parseRequirement = (req: string, source: string): LabelPredicate => {
  const setMatch = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(req);
  if (setMatch) {
    const key = checkKey(setMatch[1]!, source);
    const values = new Set(setMatch[3]!.split(',').map((v) => v.trim()).filter((v) => v !== ''));
    return setMatch[2] === 'in'
      ? (labels) => key in labels && values.has(labels[key]!)
      : (labels) => !(key in labels) || !values.has(labels[key]!);
  }
  const opMatch = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(req);
  if (opMatch) {
    const key = checkKey(opMatch[1]!, source);
    const value = opMatch[3]!.trim();
    return opMatch[2] === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
  }
  if (req.startsWith('!')) {
    const key = checkKey(req.slice(1).trim(), source);
    return (labels) => !(key in labels);
  }
  const key = checkKey(req, source);
  return (labels) => key in labels;
};

export const parseLabelSelector = (selector: string | null | undefined): LabelPredicate => {
  if (!selector) return () => true;
  const preds = splitTopLevel(selector).map((r) => parseRequirement(r, selector));
  return (labels) => preds.every((p) => p(labels));
};

export type FieldPredicate = (object: Record<string, unknown>) => boolean;

const fieldValue = (object: Record<string, unknown>, field: string): string => {
  let value: unknown = object;
  for (const part of field.split('.')) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  return value === undefined || value === null ? '' : String(value);
};

/** Fields each kind supports in field selectors, like the real API server's field label conversion. */
const SUPPORTED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Secret: ['type'],
  Node: ['spec.unschedulable'],
};

export const parseFieldSelector = (selector: string | null | undefined, kind: string): FieldPredicate => {
  if (!selector) return () => true;
  const allowed = ['metadata.name', 'metadata.namespace', ...(SUPPORTED_FIELDS[kind] ?? [])];
  const preds = splitTopLevel(selector).map((req): FieldPredicate => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(req);
    if (!m) throw new SelectorError(`invalid field selector "${selector}"`);
    const field = m[1]!;
    if (!allowed.includes(field)) {
      throw new SelectorError(`field label not supported: ${field}`);
    }
    const value = m[3]!.trim();
    return m[2] === '!=' ? (o) => fieldValue(o, field) !== value : (o) => fieldValue(o, field) === value;
  });
  return (o) => preds.every((p) => p(o));
};
