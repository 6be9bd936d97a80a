import test from 'ava';
import { ChunkedScanner, MAX_CHUNK_LINE, MAX_TRAILER_SECTION } from '../../../lib/ingress/http1/chunked.ts';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** Feeds `input` in pieces cut at `cuts`; returns the absolute end index, -1, or -2 like one big scan would. */
function scanInPieces(scanner: ChunkedScanner, input: Uint8Array, cuts: readonly number[]): number {
  let from = 0;
  for (const to of [...cuts, input.length]) {
    const result = scanner.scan(input, from, to);
    if (result !== -1) return result;
    from = to;
  }
  return -1;
}

const valid: ReadonlyArray<readonly [string, string]> = [
  ['empty body', '0\r\n\r\n'],
  ['one chunk', '5\r\nhello\r\n0\r\n\r\n'],
  ['several chunks, hex sizes both cases', 'a\r\n0123456789\r\nB\r\nabcdefghijk\r\n1\r\nz\r\n0\r\n\r\n'],
  ['leading zeros, 16 digits', '0000000000000003\r\nabc\r\n0000\r\n\r\n'],
  ['data that looks like framing', '7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n'],
  ['binary data', '4\r\n\0\xff\r\n\r\n0\r\n\r\n'],
  ['extensions', '5;name=value;flag\r\nhello\r\n0;last="yes; really"\r\n\r\n'],
  ['extension with SP, HTAB and obs-text', '2; a = b\t\xe9\r\nhi\r\n0\r\n\r\n'],
  ['trailers', '3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum:abc \t\r\nEmpty:\r\n\r\n'],
];

const malformed: ReadonlyArray<readonly [string, string, string]> = [
  ['no size', '\r\n', 'chunk size'],
  ['non-hex size', 'g\r\n', 'chunk size'],
  ['space before size', ' 5\r\nhello\r\n0\r\n\r\n', 'chunk size'],
  ['space after size (BWS)', '5 \r\nhello\r\n0\r\n\r\n', 'chunk size'],
  ['space before ;', '5 ;x\r\nhello\r\n0\r\n\r\n', 'chunk size'],
  ['sign', '+5\r\nhello\r\n', 'chunk size'],
  ['17 size digits', '00000000000000005\r\nhello\r\n', 'chunk size too long'],
  ['size beyond 2^53', 'ffffffffffffff\r\n', 'chunk size too large'],
  ['bare LF after size', '5\nhello\r\n0\r\n\r\n', 'chunk size'],
  ['CR then not LF after size', '5\rxhello', 'chunk line ending'],
  ['bare LF in extension', '5;a\nhello', 'chunk extension'],
  ['NUL in extension', '5;a\0\r\nhello', 'chunk extension'],
  ['data longer than size', '3\r\nhello\r\n0\r\n\r\n', 'chunk data ending'],
  ['bare LF after data', '5\r\nhello\n0\r\n\r\n', 'chunk data ending'],
  ['CR then not LF after data', '5\r\nhello\r0\r\n\r\n', 'chunk data ending'],
  ['bare LF ending the body', '0\r\n\n', 'trailer field'],
  ['CR then not LF ending the body', '0\r\n\rx', 'trailer line ending'],
  ['trailer obs-fold', '0\r\nA: b\r\n c\r\n\r\n', 'trailer obs-fold'],
  ['trailer without colon', '0\r\nA b\r\n\r\n', 'trailer field'],
  ['trailer with CTL', '0\r\nA: b\x01\r\n\r\n', 'trailer field'],
  ['trailer bare LF', '0\r\nA: b\n\r\n', 'trailer field'],
  ['trailer CR then not LF', '0\r\nA: b\rX\r\n\r\n', 'trailer line ending'],
];

for (const [name, body] of valid) {
  const input = bytes(body + 'HTTP/1.1 200 OK\r\n');
  const bodyEnd = body.length;

  test(`ends where it should: ${name}`, (t) => {
    t.is(new ChunkedScanner().scan(input, 0, input.length), bodyEnd, 'with the next response behind it');
    t.is(new ChunkedScanner().scan(input, 0, bodyEnd), bodyEnd, 'exactly the body');
    t.is(new ChunkedScanner().scan(input, 0, bodyEnd - 1), -1, 'one byte short');
  });

  test(`any single split point: ${name}`, (t) => {
    for (let cut = 0; cut <= input.length; cut++) {
      const scanner = new ChunkedScanner();
      t.is(scanInPieces(scanner, input, [cut]), bodyEnd, `cut at ${cut}`);
      t.is(scanner.error, undefined);
    }
  });

  test(`byte by byte: ${name}`, (t) => {
    const cuts = Array.from({ length: input.length }, (_, n) => n);
    t.is(scanInPieces(new ChunkedScanner(), input, cuts), bodyEnd);
  });

  test(`inside a larger buffer: ${name}`, (t) => {
    const padded = bytes('junk' + body + 'more');
    t.is(new ChunkedScanner().scan(padded, 4, padded.length), 4 + bodyEnd);
  });
}

for (const [name, body, error] of malformed) {
  test(`malformed: ${name}`, (t) => {
    const input = bytes(body);
    const scanner = new ChunkedScanner();
    t.is(scanner.scan(input, 0, input.length), -2);
    t.is(scanner.error, error);
    t.is(scanner.scan(bytes('0\r\n\r\n'), 0, 5), -2, 'stays failed');
    const byteByByte = new ChunkedScanner();
    t.is(scanInPieces(byteByByte, input, Array.from({ length: input.length }, (_, n) => n)), -2);
    t.is(byteByByte.error, error, 'same verdict byte by byte');
  });
}

test('a size line of 4096 bytes passes, 4097 fails', (t) => {
  const line = (length: number) => '1;' + 'e'.repeat(length - 2);
  const ok = bytes(`${line(MAX_CHUNK_LINE)}\r\nx\r\n0\r\n\r\n`);
  t.is(new ChunkedScanner().scan(ok, 0, ok.length), ok.length);
  const scanner = new ChunkedScanner();
  const long = bytes(`${line(MAX_CHUNK_LINE + 1)}\r\nx\r\n0\r\n\r\n`);
  t.is(scanner.scan(long, 0, long.length), -2);
  t.is(scanner.error, 'chunk line too long');
});

test('the trailer section is capped at 16 KiB', (t) => {
  const field = 'X-Pad: ' + 'p'.repeat(100) + '\r\n';
  const fits = Math.floor((MAX_TRAILER_SECTION - 2) / field.length);
  const ok = bytes('0\r\n' + field.repeat(fits) + '\r\n');
  t.is(new ChunkedScanner().scan(ok, 0, ok.length), ok.length);
  const scanner = new ChunkedScanner();
  const big = bytes('0\r\n' + field.repeat(fits + 1) + '\r\n');
  t.is(scanner.scan(big, 0, big.length), -2);
  t.is(scanner.error, 'trailer section too long');
});

test('a large chunk is skipped across many reads without looking at its bytes', (t) => {
  const size = 1 << 20;
  const data = new Uint8Array(size).fill(0x0a); // all LF: would be errors if inspected
  const input = Buffer.concat([bytes(size.toString(16) + '\r\n'), data, bytes('\r\n0\r\n\r\n')]);
  const cuts: number[] = [];
  for (let at = 1000; at < input.length; at += 65536) cuts.push(at);
  t.is(scanInPieces(new ChunkedScanner(), input, cuts), input.length);
});

test('after the end, further bytes do not belong to the body; reset starts over', (t) => {
  const scanner = new ChunkedScanner();
  const first = bytes('0\r\n\r\n');
  t.is(scanner.scan(first, 0, first.length), first.length);
  t.is(scanner.scan(first, 2, first.length), 2);
  scanner.reset();
  const second = bytes('2\r\nhi\r\n0\r\n\r\n');
  t.is(scanner.scan(second, 0, 5), -1);
  t.is(scanner.scan(second, 5, second.length), second.length);
  const failed = new ChunkedScanner();
  failed.scan(bytes('x'), 0, 1);
  failed.reset();
  t.is(failed.error, undefined);
  t.is(failed.scan(first, 0, first.length), first.length);
});

test('an empty range needs more bytes', (t) => {
  t.is(new ChunkedScanner().scan(new Uint8Array(0), 0, 0), -1);
});
