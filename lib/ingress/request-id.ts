/**
 * X-Request-ID values: 32 lower-case hex digits of fresh randomness (128 bits, the shape nginx's $request_id
 * has). Drawn from a pool refilled 4 KiB at a time, because `randomUUID()` plus stripping its dashes cost more
 * per request than the rest of the header rewrite together.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const ID_BYTES = 16;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let nextByte = POOL_BYTES;

const refill = (): void => {
  randomFillSync(pool);
  nextByte = 0;
};

export const newRequestId = (): string => {
  if (nextByte + ID_BYTES > POOL_BYTES) refill();
  const id = pool.toString('hex', nextByte, nextByte + ID_BYTES);
  nextByte += ID_BYTES;
  return id;
};

/** Length of every generated id. */
export const REQUEST_ID_LENGTH = ID_BYTES * 2;

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** Write a fresh id (the same shape newRequestId returns) into out[offset, offset + REQUEST_ID_LENGTH). */
export const writeRequestId = (out: Buffer, offset: number): void => {
  if (nextByte + ID_BYTES > POOL_BYTES) refill();
  for (let i = 0; i < ID_BYTES; i++) {
    const b = pool[nextByte + i]!;
    out[offset + 2 * i] = HEX_DIGITS[b >> 4]!;
    out[offset + 2 * i + 1] = HEX_DIGITS[b & 15]!;
  }
  nextByte += ID_BYTES;
};
