// A check to run on msgpack bytes from outside (a peer, a file) before msgpackr decodes them. msgpackr sizes an
// array for the length its header declares and reads that many elements before it notices the bytes ran out:
// five bytes declaring 2^24 elements cost it half a second and over 100 MB, and a 10-byte HELLO frame stalled
// a node's event loop for a second (found by the fuzzer, test/fuzz). Here every declared length (of an array,
// a map, a string, binary or extension data) must fit in the bytes left after it, and every array and map must
// end inside the bytes, so the decoder never reads past the end, and its work is bounded by the bytes' length.

/** Bytes a token's length field takes, and how its length counts: elements, or bytes of data to skip. */
const LENGTH_FIELDS: ReadonlyMap<number, { readonly bytes: 1 | 2 | 4; readonly kind: 'data' | 'ext' | 'array' | 'map' }> = new Map([
  [0xc4, { bytes: 1, kind: 'data' }], // bin 8
  [0xc5, { bytes: 2, kind: 'data' }],
  [0xc6, { bytes: 4, kind: 'data' }],
  [0xc7, { bytes: 1, kind: 'ext' }], // ext 8: a type byte, then the data
  [0xc8, { bytes: 2, kind: 'ext' }],
  [0xc9, { bytes: 4, kind: 'ext' }],
  [0xd9, { bytes: 1, kind: 'data' }], // str 8
  [0xda, { bytes: 2, kind: 'data' }],
  [0xdb, { bytes: 4, kind: 'data' }],
  [0xdc, { bytes: 2, kind: 'array' }],
  [0xdd, { bytes: 4, kind: 'array' }],
  [0xde, { bytes: 2, kind: 'map' }],
  [0xdf, { bytes: 4, kind: 'map' }],
]);

/** Bytes after the token of the fixed-size types: numbers and fixext (a type byte and 1 to 16 bytes). */
const FIXED_BYTES: ReadonlyMap<number, number> = new Map([
  [0xca, 4],
  [0xcb, 8],
  [0xcc, 1],
  [0xcd, 2],
  [0xce, 4],
  [0xcf, 8],
  [0xd0, 1],
  [0xd1, 2],
  [0xd2, 4],
  [0xd3, 8],
  [0xd4, 2],
  [0xd5, 3],
  [0xd6, 5],
  [0xd7, 9],
  [0xd8, 17],
]);

/**
 * Whether every length declared in `bytes` fits in what follows it and every array and map ends inside them
 * (see the file's head). One pass, no allocation per token; msgpackr's records (tokens 0x40 to 0x7f of a
 * decoder with useRecords) read as the integers they are in plain msgpack, which can only end an array sooner
 * than the decoder sees it, never refuse a whole frame.
 */
export function msgpackLengthsFit(bytes: Uint8Array): boolean {
  const end = bytes.byteLength;
  /** Elements still to come in each open array or map, innermost last. */
  const open: number[] = [];
  let at = 0;
  while (at < end) {
    const token = bytes[at++] as number;
    let elements = 0;
    if (token >= 0x80 && token <= 0x8f) elements = 2 * (token & 0x0f);
    else if (token >= 0x90 && token <= 0x9f) elements = token & 0x0f;
    else if (token >= 0xa0 && token <= 0xbf) at += token & 0x1f;
    else if (FIXED_BYTES.has(token)) at += FIXED_BYTES.get(token) as number;
    else {
      const field = LENGTH_FIELDS.get(token);
      if (field !== undefined) {
        if (at + field.bytes > end) return false;
        const length = field.bytes === 1 ? (bytes[at] as number) : readUint(bytes, at, field.bytes);
        at += field.bytes;
        if (field.kind === 'data') at += length;
        else if (field.kind === 'ext') at += 1 + length;
        else elements = field.kind === 'map' ? 2 * length : length;
      }
    }
    if (at > end || elements > end - at) return false;
    if (elements > 0) {
      open.push(elements);
      continue;
    }
    // A whole value: it ends the arrays and maps it was the last element of.
    while (open.length > 0) {
      const left = (open.pop() as number) - 1;
      if (left > 0) {
        open.push(left);
        break;
      }
    }
  }
  return open.length === 0;
}

function readUint(bytes: Uint8Array, at: number, width: 2 | 4): number {
  const high = ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
  if (width === 2) return high;
  return high * 0x1_0000 + (((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number));
}
