/**
 * Finds where a chunked message body ends (RFC 9112 §7.1) without decoding it, so the proxy can forward the bytes
 * verbatim and know when the upstream connection is free again. Bytes may arrive split anywhere: all progress
 * lives in a few numeric fields.
 */
import { charClass, COLON, CR, FIELD_VALUE, HEX, HTAB, LF, SP, TCHAR } from './tokens.ts';

/** Longest chunk-size [chunk-ext] line, in bytes before its CRLF. */
export const MAX_CHUNK_LINE = 4096;
/** Longest trailer section, in bytes (field lines with their CRLFs, plus the final CRLF). */
export const MAX_TRAILER_SECTION = 16 * 1024;
const MAX_SIZE_DIGITS = 16;

// Scanner states.
const SIZE = 0; // reading chunk-size digits (sizeDigits of them so far)
const EXTENSION = 1; // after ';', up to CR
const SIZE_LF = 2; // saw the CR ending the size line
const DATA = 3; // `remaining` chunk-data bytes to skip
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER_LINE = 6; // start of a trailer field line, or the final CRLF
const TRAILER_NAME = 7;
const TRAILER_VALUE = 8;
const TRAILER_LF = 9; // saw the CR ending a trailer field line
const FINAL_LF = 10; // saw the CR of the final CRLF
const DONE = 11;

export class ChunkedScanner {
  private state = SIZE;
  private sizeDigits = 0;
  private lineLength = 0;
  private remaining = 0;
  private trailerBytes = 0;
  private failure: string | undefined = undefined;

  /** Set (non-empty) once the input was malformed; scan then returns -2 forever. */
  get error(): string | undefined {
    return this.failure;
  }

  /** Ready for a new body (lets a pooled connection keep one scanner). */
  reset(): void {
    this.state = SIZE;
    this.sizeDigits = 0;
    this.lineLength = 0;
    this.remaining = 0;
    this.trailerBytes = 0;
    this.failure = undefined;
  }

  /**
   * Scan buf[start, end). Returns the index just past the body's last byte if it ends in this range, -1 when more
   * bytes are needed, -2 once the input is malformed (see `error`). After the body has ended, returns `start`:
   * none of the new bytes belong to it. Throws nothing.
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    if (this.failure !== undefined) return -2;
    if (this.state === DONE) return start;
    let state = this.state;
    let i = start;
    while (i < end) {
      if (state === DATA) {
        const available = end - i;
        if (available < this.remaining) {
          this.remaining -= available;
          i = end;
          break;
        }
        i += this.remaining;
        this.remaining = 0;
        state = DATA_CR;
        continue;
      }
      const c = buf[i]!;
      i++;
      switch (state) {
        case SIZE: {
          const bits = charClass[c]!;
          if ((bits & HEX) !== 0) {
            if (++this.sizeDigits > MAX_SIZE_DIGITS) return this.fail('chunk size too long');
            const digit = c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
            // Past 2^53 the count would lose precision; no real body is that large.
            if (this.remaining > (Number.MAX_SAFE_INTEGER - digit) / 16) return this.fail('chunk size too large');
            this.remaining = this.remaining * 16 + digit;
            this.lineLength++;
          } else if (this.sizeDigits === 0) {
            return this.fail('chunk size');
          } else if (c === 0x3b /* ; */) {
            this.lineLength++;
            state = EXTENSION;
          } else if (c === CR) {
            state = SIZE_LF;
          } else {
            return this.fail('chunk size');
          }
          break;
        }
        case EXTENSION:
          if (c === CR) state = SIZE_LF;
          else if (c === LF || c === 0) return this.fail('chunk extension');
          else if (++this.lineLength > MAX_CHUNK_LINE) return this.fail('chunk line too long');
          break;
        case SIZE_LF:
          if (c !== LF) return this.fail('chunk line ending');
          this.sizeDigits = 0;
          this.lineLength = 0;
          state = this.remaining === 0 ? TRAILER_LINE : DATA;
          break;
        case DATA_CR:
          if (c !== CR) return this.fail('chunk data ending');
          state = DATA_LF;
          break;
        case DATA_LF:
          if (c !== LF) return this.fail('chunk data ending');
          state = SIZE;
          break;
        case TRAILER_LINE:
          if (++this.trailerBytes > MAX_TRAILER_SECTION) return this.fail('trailer section too long');
          if (c === CR) state = FINAL_LF;
          else if ((charClass[c]! & TCHAR) !== 0) state = TRAILER_NAME;
          else return this.fail(c === SP || c === HTAB ? 'trailer obs-fold' : 'trailer field');
          break;
        case TRAILER_NAME:
          if (++this.trailerBytes > MAX_TRAILER_SECTION) return this.fail('trailer section too long');
          if (c === COLON) state = TRAILER_VALUE;
          else if ((charClass[c]! & TCHAR) === 0) return this.fail('trailer field');
          break;
        case TRAILER_VALUE:
          if (++this.trailerBytes > MAX_TRAILER_SECTION) return this.fail('trailer section too long');
          if (c === CR) state = TRAILER_LF;
          else if ((charClass[c]! & FIELD_VALUE) === 0) return this.fail('trailer field');
          break;
        case TRAILER_LF:
          if (++this.trailerBytes > MAX_TRAILER_SECTION) return this.fail('trailer section too long');
          if (c !== LF) return this.fail('trailer line ending');
          state = TRAILER_LINE;
          break;
        case FINAL_LF:
          if (c !== LF) return this.fail('trailer line ending');
          this.state = DONE;
          return i;
      }
    }
    this.state = state;
    return -1;
  }

  private fail(reason: string): number {
    this.failure = reason;
    return -2;
  }
}
