/**
 * An incremental RESP2 request parser with a limit on everything: arguments per command, bulk length,
 * inline line length. Feed it bytes as they arrive; it returns the complete commands and keeps the rest.
 * A malformed or oversized frame is a protocol error: the connection is answered and closed, as Redis does.
 */
export interface RespParserLimits {
  readonly argumentsMax: number;
  readonly bulkBytesMax: number;
  readonly inlineBytesMax: number;
  /** A whole multibulk command, framing included: bounds the buffer one command may hold (and its log entry). */
  readonly commandBytesMax: number;
}

export class RespProtocolError extends Error {
  readonly code = 'PROTOCOL_ERROR';
}

export type ParsedCommand = Buffer[];

const CR = 13;
const LF = 10;

export class RespParser {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: RespParserLimits) {}

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buffer.byteLength;
  }

  feed(chunk: Buffer): ParsedCommand[] {
    this.buffer = this.buffer.byteLength === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const commands: ParsedCommand[] = [];
    let offset = 0;
    for (;;) {
      const parsed = this.buffer[offset] === 0x2a /* '*' */ ? this.parseMultibulk(offset) : this.parseInline(offset);
      if (parsed === null) break;
      offset = parsed.next;
      if (parsed.command.length > 0) commands.push(parsed.command);
      if (offset >= this.buffer.byteLength) break;
    }
    this.buffer = offset >= this.buffer.byteLength ? Buffer.alloc(0) : this.buffer.subarray(offset);
    return commands;
  }

  /** Reads a CRLF-terminated line of digits (after a type byte) at `offset`; null if incomplete. */
  private readNumberLine(offset: number, what: string): { value: number; next: number } | null {
    const end = this.buffer.indexOf(LF, offset);
    if (end === -1) {
      if (this.buffer.byteLength - offset > 32) throw new RespProtocolError(`Protocol error: invalid ${what}`);
      return null;
    }
    if (end === offset || this.buffer[end - 1] !== CR) throw new RespProtocolError(`Protocol error: expected CRLF after ${what}`);
    const text = this.buffer.toString('latin1', offset + 1, end - 1);
    if (!/^-?\d{1,12}$/.test(text)) throw new RespProtocolError(`Protocol error: invalid ${what}`);
    return { value: Number(text), next: end + 1 };
  }

  private parseMultibulk(start: number): { command: ParsedCommand; next: number } | null {
    const header = this.readNumberLine(start, 'multibulk length');
    if (header === null) return null;
    const count = header.value;
    if (count > this.limits.argumentsMax) throw new RespProtocolError('Protocol error: invalid multibulk length');
    if (count <= 0) return { command: [], next: header.next };
    const args: Buffer[] = [];
    let offset = header.next;
    for (let i = 0; i < count; i++) {
      if (offset >= this.buffer.byteLength) return null;
      if (this.buffer[offset] !== 0x24 /* '$' */) {
        throw new RespProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(this.buffer[offset] as number)}'`);
      }
      const bulk = this.readNumberLine(offset, 'bulk length');
      if (bulk === null) return null;
      const length = bulk.value;
      if (length < 0 || length > this.limits.bulkBytesMax) throw new RespProtocolError('Protocol error: invalid bulk length');
      const end = bulk.next + length;
      if (end + 2 - start > this.limits.commandBytesMax) {
        throw new RespProtocolError(`Protocol error: command larger than ${this.limits.commandBytesMax} bytes`);
      }
      if (end + 2 > this.buffer.byteLength) return null;
      if (this.buffer[end] !== CR || this.buffer[end + 1] !== LF)
        throw new RespProtocolError('Protocol error: expected CRLF after bulk data');
      args.push(this.buffer.subarray(bulk.next, end));
      offset = end + 2;
    }
    return { command: args, next: offset };
  }

  /** Inline commands ("PING\r\n", as telnet and redis-cli's tests send): space-separated words. */
  private parseInline(start: number): { command: ParsedCommand; next: number } | null {
    const end = this.buffer.indexOf(LF, start);
    if (end === -1) {
      if (this.buffer.byteLength - start > this.limits.inlineBytesMax)
        throw new RespProtocolError('Protocol error: too big inline request');
      return null;
    }
    if (end - start > this.limits.inlineBytesMax) throw new RespProtocolError('Protocol error: too big inline request');
    const lineEnd = end > start && this.buffer[end - 1] === CR ? end - 1 : end;
    const line = this.buffer.subarray(start, lineEnd);
    if (line.includes(0)) throw new RespProtocolError('Protocol error: binary data in an inline request');
    const words = line
      .toString('latin1')
      .split(' ')
      .filter((w) => w.length > 0)
      .map((w) => Buffer.from(w, 'latin1'));
    if (words.length > this.limits.argumentsMax) throw new RespProtocolError('Protocol error: too many arguments');
    return { command: words, next: end + 1 };
  }
}

// ---------------------------------------------------------------------------
// Replies.

export type RespValue = string | number | Buffer | null | RespValue[] | { readonly error: string } | { readonly status: string };

export function encodeReply(value: RespValue): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

function write(value: RespValue, parts: Buffer[]): void {
  if (value === null) {
    parts.push(Buffer.from('$-1\r\n'));
  } else if (typeof value === 'number') {
    parts.push(Buffer.from(`:${value}\r\n`));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    parts.push(Buffer.from(`$${bytes.byteLength}\r\n`), bytes, Buffer.from('\r\n'));
  } else if (Buffer.isBuffer(value)) {
    parts.push(Buffer.from(`$${value.byteLength}\r\n`), value, Buffer.from('\r\n'));
  } else if (Array.isArray(value)) {
    parts.push(Buffer.from(`*${value.length}\r\n`));
    for (const item of value) write(item, parts);
  } else if ('error' in value) {
    parts.push(Buffer.from(`-${value.error.replace(/[\r\n]+/g, ' ')}\r\n`));
  } else {
    parts.push(Buffer.from(`+${value.status}\r\n`));
  }
}
