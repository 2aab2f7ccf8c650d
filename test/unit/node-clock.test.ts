// A node's clock in the worker: the ticker runs at the clock's rate (fractions of a millisecond kept), a new
// clock takes effect at once, and a skewed clock moves the time stamp of the proposals its node takes.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeBatch, encodeBatch } from '../../src/kv/commands.js';
import { NodeTicker, skewStamp, skewedClientHandler } from '../../src/node/node-clock.js';
import { CLOCK_RATE_MAX, TRUE_CLOCK, validateClock } from '../../src/protocol/clock.js';
import type { ProposeOutcome } from '../../src/protocol/node.js';
import type { ClientHandler } from '../../src/transport/client-port.js';

describe('NodeTicker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks tickMs / rate apart, fractions of a millisecond kept', () => {
    let ticks = 0;
    const ticker = new NodeTicker(10, () => ticks++, { rate: 1.05, skewMs: 0 });
    vi.advanceTimersByTime(10_000);
    expect(ticks).toBe(1050);
    ticker.setClock({ rate: 0.8, skewMs: 0 });
    vi.advanceTimersByTime(10_000);
    expect(ticks).toBe(1050 + 800);
    ticker.setClock(TRUE_CLOCK);
    vi.advanceTimersByTime(1_000);
    expect(ticks).toBe(1050 + 800 + 100);
    ticker.stop();
    vi.advanceTimersByTime(1_000);
    expect(ticks).toBe(1950);
  });

  it('refuses a clock outside its range', () => {
    expect(() => validateClock({ rate: CLOCK_RATE_MAX * 2, skewMs: 0 })).toThrow(RangeError);
    expect(() => validateClock({ rate: 1, skewMs: 0.5 })).toThrow(RangeError);
    expect(() => new NodeTicker(10, () => {}, { rate: 0, skewMs: 0 })).toThrow(RangeError);
  });
});

describe('a skewed clock stamps proposals with its own time', () => {
  const batch = encodeBatch({
    timeMs: 1_000_000,
    commands: [{ session: 's', seq: 1, ack: 0, command: { op: 'put', key: new Uint8Array([97]), value: new Uint8Array([118]) } }],
  });

  it('moves the batch time by the skew and leaves anything else alone', () => {
    expect(decodeBatch(skewStamp(batch, -2_500)).timeMs).toBe(997_500);
    expect(decodeBatch(skewStamp(batch, -2_500)).commands).toEqual(decodeBatch(batch).commands);
    const other = new Uint8Array([1, 2, 3]);
    expect(skewStamp(other, 100)).toBe(other);
  });

  it('passes the node the skewed batch, or the very same one with no skew', () => {
    const submitted: Uint8Array[][] = [];
    const node: ClientHandler = {
      submit: (commands, done: (outcome: ProposeOutcome) => void) => {
        submitted.push([...commands]);
        done({ ok: true, index: 1, results: [] });
      },
      query: () => {},
      readStale: () => ({ ok: true, index: 0, value: null }),
      status: () => {
        throw new Error('not used');
      },
      changeMembers: () => {},
    };
    let clock = { rate: 1, skewMs: 750 };
    const handler = skewedClientHandler(node, () => clock);
    handler.submit([batch], () => {});
    expect(decodeBatch(submitted[0]?.[0] as Uint8Array).timeMs).toBe(1_000_750);
    clock = { rate: 1, skewMs: 0 };
    handler.submit([batch], () => {});
    expect(submitted[1]?.[0]).toBe(batch);
  });
});
