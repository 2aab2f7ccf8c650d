// A node's clock in a worker (src/protocol/clock.ts): the ticker that drives RaftNode.tick at the clock's
// rate, and the client handler that stamps proposals with the clock's skewed wall time.
import { decodeBatch, encodeBatch } from '../kv/commands.js';
import { TRUE_CLOCK, validateClock, type NodeClock } from '../protocol/clock.js';
import type { ClientHandler } from '../transport/client-port.js';

/**
 * Calls `tick` once every tickMs / rate ms of real time. Each tick is due a whole period after the one before
 * (fractions of a millisecond kept, so a rate of 1.05 gives 105 ticks in a second, not a timer's whole
 * milliseconds); a tick that comes late is taken once, and if the event loop was held past the next one too,
 * the missed ones are dropped and the count starts again from now, as setInterval would: time is not replayed.
 */
export class NodeTicker {
  private clock: NodeClock = TRUE_CLOCK;
  private dueMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly tickMs: number,
    private readonly tick: () => void,
    clock: NodeClock = TRUE_CLOCK,
  ) {
    if (!(tickMs > 0)) throw new RangeError(`tickMs must be above 0, got ${tickMs}`);
    this.setClock(clock);
  }

  get periodMs(): number {
    return this.tickMs / this.clock.rate;
  }

  get current(): NodeClock {
    return this.clock;
  }

  /** A new clock takes effect from now: the next tick is one new period away. */
  setClock(clock: NodeClock): void {
    this.clock = validateClock(clock);
    if (this.stopped) return;
    this.dueMs = performance.now() + this.periodMs;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), Math.max(0, this.dueMs - performance.now()));
  }

  private fire(): void {
    const now = performance.now();
    if (now < this.dueMs) {
      this.arm(); // a timer may fire a fraction of a millisecond early
      return;
    }
    this.dueMs += this.periodMs;
    if (this.dueMs <= now) this.dueMs = now + this.periodMs;
    this.arm();
    this.tick();
  }
}

/**
 * The client handler with the clock's skew in the time each proposal is stamped with: the router stamps a
 * batch with its wall time (CommandBatch.timeMs, by which KV sessions expire), and a node whose clock is off
 * moves that stamp by its skew, as if it had stamped the batch itself. Data that is no command batch (another
 * state machine's) passes unchanged. With no skew the handler is the node's own.
 */
export function skewedClientHandler(handler: ClientHandler, clock: () => NodeClock): ClientHandler {
  return {
    submit: (commands, done) => {
      const { skewMs } = clock();
      handler.submit(skewMs === 0 ? commands : commands.map((command) => skewStamp(command, skewMs)), done);
    },
    query: (query, done) => handler.query(query, done),
    readStale: (query) => handler.readStale(query),
    status: () => handler.status(),
    changeMembers: (change, done) => handler.changeMembers(change, done),
  };
}

/** The batch with `skewMs` added to its time stamp; anything that is not a command batch, as it is. */
export function skewStamp(command: Uint8Array, skewMs: number): Uint8Array {
  let batch;
  try {
    batch = decodeBatch(command);
  } catch {
    return command;
  }
  return encodeBatch({ ...batch, timeMs: batch.timeMs + skewMs });
}
