/**
 * X-Request-ID values: 32 lower-case hex digits of fresh randomness (128 bits, the shape nginx's $request_id
 * has). Drawn from a pool refilled 4 KiB at a time, because `randomUUID()` plus stripping its dashes cost more
 * per request than the rest of the header rewrite together.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const ID_BYTES = 16;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

export const newRequestId = (): string => {
  if (offset + ID_BYTES > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
};
