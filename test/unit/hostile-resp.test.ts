// Hostile input to the RESP2 request parser (issue 18, item 6): arbitrary bytes and mutated valid commands,
// fed in arbitrary chunk splits. The parser throws nothing but its own protocol error (a registered code), holds
// no more than one command's limit between feeds (a huge declared length is refused, never allocated), and a
// valid command stream parses to the same commands whatever the split.
import { splitAt } from '../support/chunks.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERRORS, isErrorCode } from '../../src/protocol/errors.js';
import { RespParser, RespProtocolError, type ParsedCommand, type RespParserLimits } from '../../src/router/resp-parser.js';

const LIMITS: RespParserLimits = { argumentsMax: 16, bulkBytesMax: 512, inlineBytesMax: 256, commandBytesMax: 2048 };
/** What a parser may hold between feeds: one command's limit, plus an unfinished length line (32 bytes). */
const BUFFERED_BYTES_MAX = Math.max(LIMITS.commandBytesMax, LIMITS.inlineBytesMax) + 64;

function multibulk(args: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) parts.push(Buffer.from(`$${arg.byteLength}\r\n`), Buffer.from(arg), Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

type Outcome = { kind: 'ok'; commands: ParsedCommand[] } | { kind: 'refused'; error: RespProtocolError };

/** Feeds every chunk; checks the buffer bound after each; anything thrown but RespProtocolError fails. */
function feedAll(chunks: readonly Buffer[]): Outcome {
  const parser = new RespParser(LIMITS);
  const commands: ParsedCommand[] = [];
  for (const chunk of chunks) {
    try {
      commands.push(...parser.feed(chunk));
    } catch (error) {
      if (!(error instanceof RespProtocolError)) throw error;
      return { kind: 'refused', error };
    }
    expect(parser.bufferedBytes).toBeLessThanOrEqual(BUFFERED_BYTES_MAX);
  }
  for (const command of commands) {
    expect(command.length).toBeLessThanOrEqual(LIMITS.argumentsMax);
    for (const arg of command) expect(arg.byteLength).toBeLessThanOrEqual(Math.max(LIMITS.bulkBytesMax, LIMITS.inlineBytesMax));
  }
  return { kind: 'ok', commands };
}

function expectRegistered(error: RespProtocolError): void {
  expect(isErrorCode(error.code)).toBe(true);
  expect(error.code).toBe('PROTOCOL_ERROR');
  expect(ERRORS[error.code].status).toBe(400);
  expect(error.message).toMatch(/^Protocol error: /);
}

const argument = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const command = fc.array(argument, { minLength: 1, maxLength: 6 });
const commandStream = fc.array(command, { minLength: 1, maxLength: 5 });
const cuts = fc.array(fc.nat(), { maxLength: 12 });

/** Mutations of a valid stream: the kinds of damage a hostile or broken client sends. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    kind: fc.constant('length' as const),
    nth: fc.nat(),
    value: fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.constantFrom(2147483647, 99999999, 4294967296, 999999999999, -1, -2147483648)),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Buffer, m: Mutation): Buffer {
  if (bytes.byteLength === 0) return bytes;
  switch (m.kind) {
    case 'truncate':
      return bytes.subarray(0, m.at % bytes.byteLength);
    case 'flip': {
      const copy = Buffer.from(bytes);
      const at = m.at % copy.byteLength;
      copy[at] = (copy[at] as number) ^ (1 << m.bit);
      return copy;
    }
    case 'byte': {
      const copy = Buffer.from(bytes);
      copy[m.at % copy.byteLength] = m.value;
      return copy;
    }
    case 'insert': {
      const at = m.at % bytes.byteLength;
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.bytes), bytes.subarray(at)]);
    }
    case 'length': {
      // Rewrites the nth declared length (`*N` or `$N`) with another number.
      const text = bytes.toString('latin1');
      const headers = [...text.matchAll(/[*$]-?\d+\r\n/g)];
      const header = headers[m.nth % Math.max(1, headers.length)];
      if (header === undefined) return bytes;
      const at = header.index;
      const replaced = `${text[at] as string}${m.value}\r\n`;
      return Buffer.from(text.slice(0, at) + replaced + text.slice(at + header[0].length), 'latin1');
    }
  }
}

describe('the RESP parser under hostile input', () => {
  it('arbitrary bytes in arbitrary chunks: commands within the limits, or a PROTOCOL_ERROR, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), cuts, (bytes, at) => {
        const outcome = feedAll(splitAt(Buffer.from(bytes), at));
        if (outcome.kind === 'refused') expectRegistered(outcome.error);
      }),
      { seed: 42, numRuns: 400 },
    );
  });

  it('arbitrary bytes made mostly of RESP tokens: the same', () => {
    const token = fc.constantFrom('*', '$', '\r\n', '\r', '\n', '-1', '0', '3', '99999999', '2147483647', ' ', 'PING', '\0', 'a');
    fc.assert(
      fc.property(fc.array(token, { maxLength: 80 }), cuts, (tokens, at) => {
        const outcome = feedAll(splitAt(Buffer.from(tokens.join(''), 'latin1'), at));
        if (outcome.kind === 'refused') expectRegistered(outcome.error);
      }),
      { seed: 43, numRuns: 400 },
    );
  });

  it('valid commands, mutated (truncated, flipped, lengths altered, huge lengths), in any split: never another exception', () => {
    fc.assert(
      fc.property(commandStream, fc.array(mutation, { minLength: 1, maxLength: 3 }), cuts, (stream, mutations, at) => {
        let bytes: Buffer = Buffer.concat(stream.map(multibulk));
        for (const m of mutations) bytes = mutate(bytes, m);
        const outcome = feedAll(splitAt(bytes, at));
        if (outcome.kind === 'refused') expectRegistered(outcome.error);
      }),
      { seed: 44, numRuns: 500 },
    );
  });

  it('valid commands round-trip whatever the chunk split', () => {
    fc.assert(
      fc.property(commandStream, cuts, (stream, at) => {
        const outcome = feedAll(splitAt(Buffer.concat(stream.map(multibulk)), at));
        expect(outcome.kind).toBe('ok');
        if (outcome.kind !== 'ok') return;
        expect(outcome.commands.map((c) => c.map((a) => a.toString('hex')))).toEqual(stream.map((c) => c.map((a) => a.toString('hex'))));
      }),
      { seed: 45, numRuns: 300 },
    );
  });

  it('a huge declared length is refused by the limit as soon as its line arrives, before any data, and nothing is held for it', () => {
    for (const header of [
      '*99999999\r\n',
      '*2147483647\r\n',
      '*1\r\n$2147483647\r\n',
      '*1\r\n$99999999\r\n',
      '*2\r\n$1\r\na\r\n$4294967295\r\n',
    ]) {
      const parser = new RespParser(LIMITS);
      expect(() => parser.feed(Buffer.from(header, 'latin1')), header).toThrow(RespProtocolError);
    }
    // A length past 12 digits, or a line that never ends, is refused too, after at most 32 bytes.
    expect(() => new RespParser(LIMITS).feed(Buffer.from('*1\r\n$9999999999999999\r\n'))).toThrow(RespProtocolError);
    const endless = new RespParser(LIMITS);
    expect(() => endless.feed(Buffer.from(`*${'9'.repeat(40)}`))).toThrow(RespProtocolError);
  });

  it('a bulk string within the bulk limit but past the command limit is refused before its data arrives', () => {
    const parser = new RespParser({ ...LIMITS, bulkBytesMax: 4096 });
    expect(() => parser.feed(Buffer.from('*1\r\n$4000\r\n'))).toThrow(/command larger than 2048 bytes/);
  });
});
