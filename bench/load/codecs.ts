// The bytes of a request and the parsing of an answer, one codec per server the load client speaks to. Requests
// are built from prepared pieces (the value is encoded once), answers are parsed just enough to know success and
// where the next begins.
import type { LoadProtocol } from './harness.js';

export type Reply = { readonly ok: true } | { readonly ok: false; readonly code: string };

/** The stream is out of step with the protocol: the connection cannot go on. */
export class ProtocolMismatch extends Error {}

export interface Codec {
  /** One request: a linearizable read of `key-<key>` or a write of the run's value to it. */
  request(read: boolean, key: number): Buffer;
  /** Appends the answers complete in `data` to `replies`; returns how many bytes they took. */
  parse(data: Buffer, replies: Reply[]): number;
}

/** Longest header block or reply line accepted before the stream is declared out of step. */
const HEAD_BYTES_MAX = 16 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');

export function codecFor(protocol: LoadProtocol, valueBytes: number): Codec {
  const value = Buffer.alloc(valueBytes, 'v');
  switch (protocol) {
    case 'raftkv-http':
      return new HttpCodec(
        (key) => Buffer.from(`GET /v1/kv/key-${key} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1'),
        (key) =>
          Buffer.concat([
            Buffer.from(
              `PUT /v1/kv/key-${key} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${valueBytes}\r\n\r\n`,
              'latin1',
            ),
            value,
          ]),
        // A read of a key never written is an answer too (404), though prefilled runs do not see one.
        (status) => status === 200 || status === 404,
        raftkvErrorCode,
      );
    case 'etcd-http': {
      // etcd's v3 JSON gateway: keys and values in base64; ranges are linearizable unless "serializable" is set.
      const value64 = value.toString('base64');
      const post = (path: string, body: string): Buffer =>
        Buffer.from(
          `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          'latin1',
        );
      const key64 = (key: number): string => Buffer.from(`key-${key}`).toString('base64');
      return new HttpCodec(
        (key) => post('/v3/kv/range', `{"key":"${key64(key)}"}`),
        (key) => post('/v3/kv/put', `{"key":"${key64(key)}","value":"${value64}"}`),
        (status) => status === 200,
        (body) => body.toString('utf8', 0, Math.min(body.byteLength, 60)),
      );
    }
    case 'resp':
      return new RespCodec(value);
  }
}

/** Requests built once per key and kind, then reused: the client's CPU is taken from the server under test. */
class RequestCache {
  private readonly reads: (Buffer | undefined)[] = [];
  private readonly writes: (Buffer | undefined)[] = [];

  constructor(
    private readonly read: (key: number) => Buffer,
    private readonly write: (key: number) => Buffer,
  ) {}

  get(read: boolean, key: number): Buffer {
    const cache = read ? this.reads : this.writes;
    let request = cache[key];
    if (request === undefined) {
      request = read ? this.read(key) : this.write(key);
      cache[key] = request;
    }
    return request;
  }
}

/** Where the decimal Content-Length value of a header block starts, or -1 (Node writes the name as given, Go canonical). */
function contentLengthAt(data: Buffer, from: number, headEnd: number): number {
  for (const name of CONTENT_LENGTH_NAMES) {
    const at = data.indexOf(name, from);
    if (at !== -1 && at < headEnd) return at + name.byteLength;
  }
  return -1;
}

const CONTENT_LENGTH_NAMES = ['\r\ncontent-length:', '\r\nContent-Length:'].map((name) => Buffer.from(name, 'latin1'));

/** HTTP/1.1 keep-alive: answers framed by Content-Length or chunked encoding. */
class HttpCodec implements Codec {
  private readonly requests: RequestCache;

  constructor(
    read: (key: number) => Buffer,
    write: (key: number) => Buffer,
    private readonly success: (status: number) => boolean,
    private readonly errorCode: (body: Buffer) => string,
  ) {
    this.requests = new RequestCache(read, write);
  }

  request(read: boolean, key: number): Buffer {
    return this.requests.get(read, key);
  }

  parse(data: Buffer, replies: Reply[]): number {
    let offset = 0;
    for (;;) {
      const headEnd = data.indexOf('\r\n\r\n', offset, 'latin1');
      if (headEnd === -1) {
        if (data.byteLength - offset > HEAD_BYTES_MAX) throw new ProtocolMismatch('HTTP header block too long');
        return offset;
      }
      if (data.toString('latin1', offset, offset + 5) !== 'HTTP/')
        throw new ProtocolMismatch(`not an HTTP answer: ${JSON.stringify(data.toString('latin1', offset, offset + 40))}`);
      const status =
        ((data[offset + 9] as number) - 48) * 100 + ((data[offset + 10] as number) - 48) * 10 + ((data[offset + 11] as number) - 48);
      const bodyStart = headEnd + 4;
      let bodyEnd: number;
      let next: number;
      let lengthAt = contentLengthAt(data, offset, headEnd);
      if (lengthAt !== -1) {
        while (data[lengthAt] === 0x20) lengthAt++;
        let length = 0;
        for (let c = data[lengthAt] as number; c >= 48 && c <= 57; c = data[++lengthAt] as number) length = length * 10 + (c - 48);
        bodyEnd = bodyStart + length;
        next = bodyEnd;
        if (next > data.byteLength) return offset;
      } else if (/\r\ntransfer-encoding:\s*chunked/.test(data.toString('latin1', offset, headEnd).toLowerCase())) {
        const end = chunkedEnd(data, bodyStart);
        if (end === -1) return offset;
        bodyEnd = end;
        next = end;
      } else {
        throw new ProtocolMismatch('an HTTP answer with neither Content-Length nor chunked encoding');
      }
      replies.push(
        this.success(status) ? { ok: true } : { ok: false, code: `HTTP ${status} ${this.errorCode(data.subarray(bodyStart, bodyEnd))}` },
      );
      offset = next;
    }
  }
}

/** Where a chunked body that starts at `start` ends (after its last CRLF), or -1 if it is not all in `data`. */
function chunkedEnd(data: Buffer, start: number): number {
  let offset = start;
  for (;;) {
    const lineEnd = data.indexOf(CRLF, offset);
    if (lineEnd === -1) return -1;
    const size = parseInt(data.toString('latin1', offset, lineEnd), 16);
    if (!Number.isInteger(size) || size < 0) throw new ProtocolMismatch('bad chunk size');
    if (size === 0) {
      // No trailers are expected: the last chunk is followed by an empty line.
      return lineEnd + 4 <= data.byteLength ? lineEnd + 4 : -1;
    }
    offset = lineEnd + 2 + size + 2;
    if (offset > data.byteLength) return -1;
  }
}

/** The error code of raftkv's JSON error body, or the start of any other body. */
function raftkvErrorCode(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string') return parsed.error.code;
  } catch {
    // not JSON
  }
  return body.toString('utf8', 0, Math.min(body.byteLength, 40));
}

/** RESP2: SET key value / GET key; answers +OK, -ERR..., $-1 (nil), bulk strings, and :n for safety. */
class RespCodec implements Codec {
  private readonly requests: RequestCache;

  constructor(value: Buffer) {
    const valueHeader = Buffer.from(`$${value.byteLength}\r\n`, 'latin1');
    const name = (key: number): string => `key-${key}`;
    this.requests = new RequestCache(
      (key) => Buffer.from(`*2\r\n$3\r\nGET\r\n$${name(key).length}\r\n${name(key)}\r\n`, 'latin1'),
      (key) =>
        Buffer.concat([Buffer.from(`*3\r\n$3\r\nSET\r\n$${name(key).length}\r\n${name(key)}\r\n`, 'latin1'), valueHeader, value, CRLF]),
    );
  }

  request(read: boolean, key: number): Buffer {
    return this.requests.get(read, key);
  }

  parse(data: Buffer, replies: Reply[]): number {
    let offset = 0;
    for (;;) {
      const lineEnd = data.indexOf(CRLF, offset);
      if (lineEnd === -1) {
        if (data.byteLength - offset > HEAD_BYTES_MAX) throw new ProtocolMismatch('reply line too long');
        return offset;
      }
      const kind = data[offset];
      if (kind === 0x2b /* + */ || kind === 0x3a /* : */) {
        replies.push({ ok: true });
        offset = lineEnd + 2;
      } else if (kind === 0x2d /* - */) {
        const text = data.toString('latin1', offset + 1, lineEnd);
        const space = text.indexOf(' ');
        replies.push({ ok: false, code: space === -1 ? text : text.slice(0, space) });
        offset = lineEnd + 2;
      } else if (kind === 0x24 /* $ */) {
        const length = Number(data.toString('latin1', offset + 1, lineEnd));
        if (!Number.isInteger(length) || length < -1)
          throw new ProtocolMismatch(`bad bulk length ${data.toString('latin1', offset, lineEnd)}`);
        const end = length === -1 ? lineEnd + 2 : lineEnd + 2 + length + 2;
        if (end > data.byteLength) return offset;
        replies.push({ ok: true });
        offset = end;
      } else {
        throw new ProtocolMismatch(`unexpected reply ${JSON.stringify(data.toString('latin1', offset, Math.min(lineEnd, offset + 40)))}`);
      }
    }
  }
}
