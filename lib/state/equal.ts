/** Structural equality for plain readonly data (primitives, arrays, plain objects); what reflect.DeepEqual is to Go. */
export const deepEqual = (a: unknown, b: unknown): boolean => {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  // Keys whose value is undefined count as absent, so optional fields compare by meaning.
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  for (const key of keys) if (!deepEqual(x[key], y[key])) return false;
  return true;
};
