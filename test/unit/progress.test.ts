import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvariantError, Progress } from '../../src/raft/index.js';

const MESSAGES_MAX = 3;
const BYTES_MAX = 1000;

function replicating(match: number): Progress {
  const progress = new Progress(match + 1);
  progress.maybeUpdate(match);
  progress.becomeReplicate();
  return progress;
}

describe('Progress in probe state', () => {
  it('starts probing at the given next index with nothing known', () => {
    const progress = new Progress(11);
    expect([progress.state, progress.match, progress.next, progress.probeSent, progress.inflightCount]).toEqual(['probe', 0, 11, false, 0]);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(false);
  });

  it('sends one append at a time: paused until it is answered', () => {
    const progress = new Progress(11);
    progress.sentEntries(12, 50, 1);
    expect(progress.probeSent).toBe(true);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(true);
    // In probe state `next` does not move optimistically and nothing is counted in flight.
    expect([progress.next, progress.inflightCount]).toEqual([11, 0]);
    expect(progress.maybeUpdate(12)).toBe(true);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(false);
    expect([progress.match, progress.next]).toEqual([12, 13]);
  });

  it('a stale acknowledgement does not move match back nor unpause the probe', () => {
    const progress = new Progress(11);
    progress.maybeUpdate(10);
    progress.sentEntries(12, 50, 1);
    expect(progress.maybeUpdate(7)).toBe(false);
    expect([progress.match, progress.next, progress.probeSent]).toEqual([10, 11, true]);
  });

  it('becomeProbe restarts from just after the match', () => {
    const progress = replicating(5);
    progress.sentEntries(9, 10, 1);
    expect(progress.next).toBe(10);
    progress.becomeProbe();
    expect([progress.state, progress.next, progress.inflightCount, progress.probeSent]).toEqual(['probe', 6, 0, false]);
  });
});

describe('Progress in replicate state', () => {
  it('becomeReplicate continues right after the match', () => {
    const progress = new Progress(3);
    progress.maybeUpdate(7);
    progress.becomeReplicate();
    expect([progress.state, progress.next]).toEqual(['replicate', 8]);
  });

  it('advances next optimistically and counts what is in flight', () => {
    const progress = replicating(5);
    progress.sentEntries(8, 100, 1);
    progress.sentEntries(10, 100, 1);
    expect([progress.next, progress.inflightCount]).toEqual([11, 2]);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(false);
  });

  it('pauses when the window is full by message count', () => {
    const progress = replicating(0);
    for (let i = 1; i <= MESSAGES_MAX; i++) progress.sentEntries(i, 1, 1);
    expect(progress.inflightCount).toBe(MESSAGES_MAX);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(true);
    progress.maybeUpdate(1);
    expect(progress.inflightCount).toBe(MESSAGES_MAX - 1);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(false);
  });

  it('pauses when the window is full by bytes', () => {
    const progress = replicating(0);
    progress.sentEntries(1, 600, 1);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(false);
    progress.sentEntries(2, 400, 1);
    expect(progress.inflightCount).toBe(2);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(true);
    progress.maybeUpdate(1);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(false);
  });

  it('an acknowledgement frees every message it covers, and only those', () => {
    const progress = replicating(0);
    progress.sentEntries(3, 10, 1);
    progress.sentEntries(6, 10, 1);
    progress.sentEntries(9, 10, 1);
    progress.maybeUpdate(7); // covers the first two, not the third
    expect([progress.match, progress.inflightCount]).toEqual([7, 1]);
    progress.maybeUpdate(9);
    expect(progress.inflightCount).toBe(0);
  });

  it('moving to another state empties the window', () => {
    const progress = replicating(0);
    for (let i = 1; i <= MESSAGES_MAX; i++) progress.sentEntries(i, 1, 1);
    progress.becomeProbe();
    expect(progress.inflightCount).toBe(0);
    progress.becomeReplicate();
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(false);
  });
});

describe('Progress in snapshot state', () => {
  it('is always paused and refuses to send entries', () => {
    const progress = replicating(3);
    progress.becomeSnapshot(50);
    expect([progress.state, progress.snapshotIndex, progress.snapshotOffsetBytes]).toEqual(['snapshot', 50, 0]);
    expect(progress.isPaused(MESSAGES_MAX, BYTES_MAX)).toBe(true);
    expect(() => progress.sentEntries(4, 1, 1)).toThrow(InvariantError);
  });

  it('probes from after the snapshot once it is installed', () => {
    const progress = replicating(3);
    progress.becomeSnapshot(50);
    progress.snapshotOffsetBytes = 4096;
    progress.becomeProbe();
    expect([progress.state, progress.next, progress.snapshotIndex, progress.snapshotOffsetBytes]).toEqual(['probe', 51, 0, 0]);
  });

  it('probes from after the match if the follower got further than the snapshot', () => {
    const progress = replicating(3);
    progress.becomeSnapshot(50);
    progress.maybeUpdate(60);
    progress.becomeProbe();
    expect(progress.next).toBe(61);
  });
});

describe('Progress isStalled', () => {
  it('is never stalled with nothing in flight', () => {
    const progress = replicating(0);
    progress.ackedRound = 100;
    expect(progress.isStalled()).toBe(false);
  });

  it('stalls once the follower answers a round started after the oldest unanswered append', () => {
    const progress = replicating(0);
    progress.sentEntries(5, 10, 4);
    progress.ackedRound = 4; // the append's own round: its answer may still be coming
    expect(progress.isStalled()).toBe(false);
    progress.ackedRound = 5; // a later heartbeat was answered first: on an ordered link the append is lost
    expect(progress.isStalled()).toBe(true);
    progress.maybeUpdate(5);
    expect(progress.isStalled()).toBe(false);
  });

  it('looks at the oldest message in flight', () => {
    const progress = replicating(0);
    progress.sentEntries(2, 10, 1);
    progress.sentEntries(4, 10, 7);
    progress.ackedRound = 7;
    expect(progress.isStalled()).toBe(true);
    progress.maybeUpdate(2);
    expect(progress.isStalled()).toBe(false);
  });
});

type WindowEvent =
  { readonly kind: 'send'; readonly count: number; readonly bytes: number } | { readonly kind: 'ack'; readonly back: number };

describe('Progress window properties', () => {
  it('never lets more than the window into flight when the sender honours isPaused, and frees exactly what is acknowledged', () => {
    const eventArbitrary: fc.Arbitrary<WindowEvent> = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), count: fc.integer({ min: 1, max: 5 }), bytes: fc.integer({ min: 1, max: 400 }) }),
      fc.record({ kind: fc.constant('ack' as const), back: fc.nat({ max: 6 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(eventArbitrary, { maxLength: 80 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 100, max: 1500 }),
        (events, messagesMax, bytesMax) => {
          const progress = replicating(0);
          const sent: { lastIndex: number; bytes: number }[] = [];
          let acked = 0;
          for (const event of events) {
            if (event.kind === 'send') {
              if (progress.isPaused(messagesMax, bytesMax)) continue;
              const lastIndex = progress.next - 1 + event.count;
              progress.sentEntries(lastIndex, event.bytes, 1);
              sent.push({ lastIndex, bytes: event.bytes });
            } else {
              const highest = sent.at(-1)?.lastIndex ?? 0;
              const index = Math.max(0, highest - event.back);
              progress.maybeUpdate(index);
              acked = Math.max(acked, index);
            }
            const outstanding = sent.filter((message) => message.lastIndex > acked);
            const outstandingBytes = outstanding.reduce((sum, message) => sum + message.bytes, 0);
            expect(progress.inflightCount).toBe(outstanding.length);
            expect(progress.inflightCount).toBeLessThanOrEqual(messagesMax);
            // The byte limit may be overshot by the last message sent (a message is never split).
            expect(outstandingBytes - (outstanding.at(-1)?.bytes ?? 0)).toBeLessThan(bytesMax);
            expect(progress.isPaused(messagesMax, bytesMax)).toBe(outstanding.length >= messagesMax || outstandingBytes >= bytesMax);
            expect(progress.match).toBe(acked);
            expect(progress.next).toBe(Math.max(acked, sent.at(-1)?.lastIndex ?? 0) + 1);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
