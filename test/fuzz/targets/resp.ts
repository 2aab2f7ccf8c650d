// Fuzz target: the RESP2 request parser (src/router/resp-parser.ts), fed the input whole and again in pieces of
// 7 bytes. Oracles (as test/unit/hostile-resp.test.ts): only RespProtocolError (PROTOCOL_ERROR) is thrown;
// the parser never holds more than one command's limit between feeds; every command is within the argument
// and bulk limits; and the stream parses the same whatever the split (the same commands, or refused both ways).
import { RespParser, RespProtocolError, type ParsedCommand, type RespParserLimits } from '../../../src/router/resp-parser.js';
import { chunksOf, expectRefusal } from '../oracles.js';
import { check, type FuzzTarget } from '../target.js';

const LIMITS: RespParserLimits = { argumentsMax: 16, bulkBytesMax: 512, inlineBytesMax: 256, commandBytesMax: 2048 };
/** What a parser may hold between feeds: one command's limit, plus an unfinished length line (32 bytes). */
const BUFFERED_BYTES_MAX = Math.max(LIMITS.commandBytesMax, LIMITS.inlineBytesMax) + 64;
const SPLIT_BYTES = 7;

type Outcome = { readonly commands: ParsedCommand[]; readonly refused: boolean; readonly buffered: number };

function feedAll(chunks: readonly Buffer[]): Outcome {
  const parser = new RespParser(LIMITS);
  const commands: ParsedCommand[] = [];
  for (const chunk of chunks) {
    try {
      commands.push(...parser.feed(chunk));
    } catch (error) {
      expectRefusal(error, RespProtocolError, ['PROTOCOL_ERROR']);
      check((error as Error).message.startsWith('Protocol error: '), `a refusal without the Redis prefix: ${(error as Error).message}`);
      return { commands, refused: true, buffered: 0 };
    }
    check(parser.bufferedBytes <= BUFFERED_BYTES_MAX, `the parser holds ${parser.bufferedBytes} bytes between feeds`);
  }
  for (const command of commands) {
    check(command.length <= LIMITS.argumentsMax, `a command of ${command.length} arguments`);
    for (const arg of command)
      check(arg.byteLength <= Math.max(LIMITS.bulkBytesMax, LIMITS.inlineBytesMax), `an argument of ${arg.byteLength} bytes`);
  }
  return { commands, refused: false, buffered: parser.bufferedBytes };
}

const hex = (commands: readonly ParsedCommand[]): string => commands.map((c) => c.map((a) => a.toString('hex')).join(' ')).join('|');

function run(data: Buffer): void {
  const whole = feedAll([data]);
  const split = feedAll(chunksOf(data, SPLIT_BYTES));
  check(whole.refused === split.refused, `refused ${whole.refused ? 'whole but not in pieces' : 'in pieces but not whole'}`);
  if (whole.refused) return;
  check(hex(whole.commands) === hex(split.commands), 'the commands differ between the whole input and its pieces');
  check(whole.buffered === split.buffered, `${whole.buffered} bytes held after the whole input, ${split.buffered} after its pieces`);
}

export const respTarget: FuzzTarget = {
  name: 'resp',
  description: 'the RESP2 request parser, whole and in 7-byte pieces',
  coverage: ['src/router/resp-parser'],
  dictionary: [
    '*',
    '$',
    '\r\n',
    '\r',
    '\n',
    '-1',
    '*1\r\n',
    '*2\r\n$3\r\nGET\r\n',
    '$0\r\n\r\n',
    'PING',
    'SET',
    'GET',
    ' ',
    '\0',
    '99999999',
    '2147483647',
  ],
  inputBytesMax: 4096,
  inputMsMax: 2_000,
  run,
};
