// The RESP2 request parser and reply encoder on their own: frames, inline commands, partial input,
// every limit, and (fast-check) that any split of a valid pipelined byte stream parses to the same commands.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RespParser, RespProtocolError, encodeReply, type ParsedCommand, type RespParserLimits } from '../../src/router/resp-parser.js';

const LIMITS: RespParserLimits = { argumentsMax: 64, bulkBytesMax: 1024, inlineBytesMax: 256, commandBytesMax: 4096 };

function parser(limits: Partial<RespParserLimits> = {}): RespParser {
  return new RespParser({ ...LIMITS, ...limits });
}

/** Commands as arrays of latin1 strings, for readable comparisons. */
function words(commands: ParsedCommand[]): string[][] {
  return commands.map((args) => args.map((arg) => arg.toString('latin1')));
}

function multibulk(args: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const data = typeof arg === 'string' ? Buffer.from(arg, 'latin1') : Buffer.from(arg);
    parts.push(Buffer.from(`$${data.byteLength}\r\n`), data, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function parseAll(p: RespParser, chunks: readonly Buffer[]): ParsedCommand[] {
  return chunks.flatMap((chunk) => p.feed(chunk));
}

function protocolError(p: RespParser, input: string | Buffer): RespProtocolError {
  try {
    p.feed(typeof input === 'string' ? Buffer.from(input, 'latin1') : input);
  } catch (error) {
    expect(error).toBeInstanceOf(RespProtocolError);
    expect((error as RespProtocolError).code).toBe('PROTOCOL_ERROR');
    return error as RespProtocolError;
  }
  throw new Error('expected a protocol error');
}

describe('RespParser: frames', () => {
  it('parses a multibulk command, binary-safe (CR, LF and NUL inside arguments)', () => {
    const value = Buffer.from([0, 13, 10, 255, 42, 36]);
    expect(parser().feed(multibulk(['SET', 'k', value]))).toEqual([[Buffer.from('SET'), Buffer.from('k'), value]]);
  });

  it('parses pipelined commands in order and keeps an incomplete tail for the next feed', () => {
    const p = parser();
    const stream = Buffer.concat([multibulk(['PING']), multibulk(['SET', 'a', '1']), multibulk(['GET', 'a'])]);
    const cut = stream.byteLength - 4;
    expect(words(p.feed(stream.subarray(0, cut)))).toEqual([['PING'], ['SET', 'a', '1']]);
    expect(p.bufferedBytes).toBeGreaterThan(0);
    expect(words(p.feed(stream.subarray(cut)))).toEqual([['GET', 'a']]);
    expect(p.bufferedBytes).toBe(0);
  });

  it('waits, one byte at a time, until a frame is whole', () => {
    const p = parser();
    const frame = multibulk(['ECHO', 'hello world']);
    for (let i = 0; i < frame.byteLength - 1; i++) expect(p.feed(frame.subarray(i, i + 1))).toEqual([]);
    expect(words(p.feed(frame.subarray(frame.byteLength - 1)))).toEqual([['ECHO', 'hello world']]);
  });

  it('parses inline commands (telnet style), with CRLF or a bare LF, collapsing repeated spaces', () => {
    const p = parser();
    expect(words(p.feed(Buffer.from('PING\r\nSET  k   v\nGET k\r\n')))).toEqual([['PING'], ['SET', 'k', 'v'], ['GET', 'k']]);
  });

  it('ignores empty lines and empty or null multibulks', () => {
    const p = parser();
    expect(words(p.feed(Buffer.from('\r\n\n*0\r\n*-1\r\nPING\r\n')))).toEqual([['PING']]);
  });

  it('accepts an empty bulk string (an empty key, refused later by the server, not the parser)', () => {
    expect(words(parser().feed(Buffer.from('*2\r\n$3\r\nGET\r\n$0\r\n\r\n')))).toEqual([['GET', '']]);
  });
});

describe('RespParser: malformed and oversized input is a protocol error', () => {
  it.each([
    ['a non-bulk argument', '*1\r\n:5\r\n', /expected '\$', got ':'/],
    ['a multibulk length that is not a number', '*x\r\n', /invalid multibulk length/],
    ['a bulk length that is not a number', '*1\r\n$abc\r\n', /invalid bulk length/],
    ['a negative bulk length', '*1\r\n$-1\r\n', /invalid bulk length/],
    ['a bulk length of 2^40', `*1\r\n$${2 ** 40}\r\n`, /invalid bulk length/],
    ['a bulk length of 2^39 (12 digits) above the limit', `*1\r\n$${2 ** 39}\r\n`, /invalid bulk length/],
    ['a bulk length just above the limit', '*1\r\n$1025\r\n', /invalid bulk length/],
    ['bulk data without its CRLF', '*1\r\n$3\r\nabcXY', /expected CRLF after bulk data/],
    ['a length line ended by a bare LF', '*1\n', /expected CRLF after multibulk length/],
    ['too many arguments', '*65\r\n', /invalid multibulk length/],
    ['a length line that never ends', `*${'1'.repeat(40)}`, /invalid multibulk length/],
    ['NUL bytes in an inline command', 'PI\u0000NG\r\n', /binary data/],
  ])('%s', (_what, input, message) => {
    expect(protocolError(parser(), input).message).toMatch(message);
  });

  it('an inline line longer than the limit, complete or not', () => {
    expect(protocolError(parser(), `${'A'.repeat(300)}\r\n`).message).toMatch(/too big inline request/);
    expect(protocolError(parser(), 'A'.repeat(300)).message).toMatch(/too big inline request/);
  });

  it('a multibulk command larger than commandBytesMax, complete or not, while each bulk is within its limit', () => {
    const big = multibulk(['MSET', ...Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'.repeat(500)]).flat()]);
    expect(big.byteLength).toBeGreaterThan(4096);
    expect(protocolError(parser(), big).message).toMatch(/command larger than 4096 bytes/);
    // Refused as soon as the declared lengths pass the limit, before the rest arrives.
    expect(protocolError(parser(), big.subarray(0, 4200)).message).toMatch(/command larger than 4096 bytes/);
    expect(words(parser({ commandBytesMax: big.byteLength }).feed(big))[0]?.length).toBe(21);
  });

  it('an inline command with more words than the argument limit', () => {
    expect(protocolError(parser({ argumentsMax: 3 }), 'a b c d\r\n').message).toMatch(/too many arguments/);
  });

  it('binary garbage fails with a protocol error or parses as (unknown) inline words; nothing else escapes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        const p = parser();
        try {
          for (const args of p.feed(Buffer.from(bytes))) expect(args.length).toBeGreaterThan(0);
        } catch (error) {
          expect(error).toBeInstanceOf(RespProtocolError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------
// Property: framing does not depend on how TCP splits the stream.

const argument = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 40 }),
  fc.constantFrom(new Uint8Array([13, 10]), new Uint8Array([42, 49, 13, 10]), new Uint8Array([36, 51, 13, 10])),
);
const word = fc.stringMatching(/^[A-Za-z0-9_:.-]{1,12}$/);
/** A command and how it is sent: a multibulk frame, or an inline line (words only, as a person types). */
const framed = fc.oneof(
  fc.array(argument, { minLength: 1, maxLength: 6 }).map((args) => ({ args: args.map((a) => Buffer.from(a)), bytes: multibulk(args) })),
  fc.tuple(fc.array(word, { minLength: 1, maxLength: 5 }), fc.constantFrom('\r\n', '\n')).map(([ws, end]) => ({
    args: ws.map((w) => Buffer.from(w, 'latin1')),
    bytes: Buffer.from(`${ws.join(' ')}${end}`, 'latin1'),
  })),
);

function splitAt(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (stream.byteLength + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, stream.byteLength]) {
    chunks.push(stream.subarray(from, point)); // empty chunks included: a feed of nothing must be harmless
    from = point;
  }
  return chunks;
}

describe('RespParser: any split of a valid pipelined stream parses to the same commands', () => {
  it('holds for random commands and random cut points', () => {
    fc.assert(
      fc.property(fc.array(framed, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (commands, cuts) => {
        const stream = Buffer.concat(commands.map((c) => c.bytes));
        const expected = commands.map((c) => c.args.map((a) => a.toString('hex')));
        const p = parser();
        const parsed = parseAll(p, splitAt(stream, cuts)).map((args) => args.map((a) => a.toString('hex')));
        expect(parsed).toEqual(expected);
        expect(p.bufferedBytes).toBe(0);
      }),
      { numRuns: 1_000 },
    );
  });

  it('holds when the stream arrives one byte at a time', () => {
    fc.assert(
      fc.property(fc.array(framed, { minLength: 1, maxLength: 8 }), (commands) => {
        const stream = Buffer.concat(commands.map((c) => c.bytes));
        const p = parser();
        const parsed: ParsedCommand[] = [];
        for (let i = 0; i < stream.byteLength; i++) parsed.push(...p.feed(Buffer.from(stream.subarray(i, i + 1))));
        expect(parsed.map((args) => args.map((a) => a.toString('hex')))).toEqual(commands.map((c) => c.args.map((a) => a.toString('hex'))));
      }),
      { numRuns: 200 },
    );
  });
});

describe('encodeReply', () => {
  const encoded = (value: Parameters<typeof encodeReply>[0]): string => encodeReply(value).toString('latin1');

  it('encodes every reply type of RESP2', () => {
    expect(encoded({ status: 'OK' })).toBe('+OK\r\n');
    expect(encoded({ error: 'ERR bad thing' })).toBe('-ERR bad thing\r\n');
    expect(encoded(42)).toBe(':42\r\n');
    expect(encoded(-7)).toBe(':-7\r\n');
    expect(encoded(null)).toBe('$-1\r\n');
    expect(encoded('héllo')).toBe('$6\r\nh\u00c3\u00a9llo\r\n'); // strings are sent as UTF-8
    expect(encoded(Buffer.from([0, 13, 10]))).toBe('$3\r\n\u0000\r\n\r\n');
    expect(encoded([])).toBe('*0\r\n');
    expect(encoded(['0', [Buffer.from('a'), null], 1])).toBe('*3\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$-1\r\n:1\r\n');
  });

  it('keeps an error reply on one line whatever its message holds', () => {
    expect(encoded({ error: 'ERR line one\r\nline two\nthree' })).toBe('-ERR line one line two three\r\n');
  });

  it('a reply of bulk strings parses back (as a request) to the same bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 30 }), { minLength: 1, maxLength: 6 }), (args) => {
        const bytes = encodeReply(args.map((a) => Buffer.from(a)));
        expect(
          parser()
            .feed(bytes)
            .map((c) => c.map((a) => a.toString('hex'))),
        ).toEqual([args.map((a) => Buffer.from(a).toString('hex'))]);
      }),
    );
  });
});
