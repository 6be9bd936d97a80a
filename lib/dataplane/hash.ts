/**
 * Short, stable, collision-resistant name hashes for per-service kernel objects (chains, sets). Pure: two FNV-1a
 * passes with different seeds give 64 bits, written as base32 characters (upper case and digits, so the result is
 * valid in nft and iptables names).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

const fnv1a = (s: string, seed: number): number => {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
};

/** `chars` base32 characters (5 bits each, at most 12) of a 64-bit hash of `s`. */
export const base32Hash = (s: string, chars: number): string => {
  let bits = (BigInt(fnv1a(s, 0x811c9dc5)) << 32n) | BigInt(fnv1a(s, 0x9e3779b9));
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += ALPHABET[Number(bits & 31n)];
    bits >>= 5n;
  }
  return out;
};
