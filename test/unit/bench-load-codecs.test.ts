// The benchmark's load client counts an operation only from a parsed answer: the codecs must frame answers
// exactly (split across reads, either header case, chunked) and tell successes from errors.
import { describe, expect, it } from 'vitest';
import { codecFor, ProtocolMismatch, type Reply } from '../../bench/load/codecs.js';

function parseAll(protocol: Parameters<typeof codecFor>[0], chunks: string[]): Reply[] {
  const codec = codecFor(protocol, 8);
  const replies: Reply[] = [];
  let carry = Buffer.alloc(0);
  for (const chunk of chunks) {
    const data = Buffer.concat([carry, Buffer.from(chunk, 'latin1')]);
    carry = data.subarray(codec.parse(data, replies));
  }
  expect(carry.byteLength).toBe(0);
  return replies;
}

describe('bench load codecs', () => {
  it('frames HTTP answers by Content-Length in either case, split anywhere', () => {
    const node = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"index":123}';
    const go = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
    const stream = node + go + node;
    for (let cut = 1; cut < stream.length; cut += 7) {
      expect(parseAll('raftkv-http', [stream.slice(0, cut), stream.slice(cut)])).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    }
  });

  it('frames chunked answers and reports error codes', () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n';
    const refused = 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 40\r\n\r\n{"error":{"code":"NO_LEADER","m":"x"}}  ';
    expect(parseAll('raftkv-http', [chunked, refused])).toEqual([{ ok: true }, { ok: false, code: 'HTTP 503 NO_LEADER' }]);
    expect(parseAll('etcd-http', ['HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'])).toEqual([{ ok: false, code: 'HTTP 404 ' }]);
  });

  it('parses RESP answers and refuses a stream out of step', () => {
    expect(parseAll('resp', ['+OK\r\n$3\r\nabc\r\n$-1\r', '\n-ERR no quorum\r\n:7\r\n'])).toEqual([
      { ok: true },
      { ok: true },
      { ok: true },
      { ok: false, code: 'ERR' },
      { ok: true },
    ]);
    expect(() => parseAll('resp', ['?what\r\n'])).toThrow(ProtocolMismatch);
    expect(() => parseAll('raftkv-http', ['garbage\r\n\r\n'])).toThrow(ProtocolMismatch);
  });

  it('builds the same request bytes for a key every time', () => {
    const codec = codecFor('etcd-http', 4);
    const first = codec.request(false, 42).toString('latin1');
    expect(first).toContain('POST /v3/kv/put');
    expect(first).toContain(Buffer.from('key-42').toString('base64'));
    expect(codec.request(false, 42).toString('latin1')).toBe(first);
    expect(codec.request(true, 42).toString('latin1')).toContain('POST /v3/kv/range');
  });
});
