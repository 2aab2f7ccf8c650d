// The load client of `npm run bench`, run in its own process so it never shares a server's event loop:
//
//   node --import tsx bench/load/client.ts     (forked with an IPC channel; the run arrives as a message)
//
// N raw TCP connections, each sending requests back to back, closed loop: `pipeline` requests written at once,
// the next batch once every answer of it is in. One generator for every server, so raftkv, etcd and Redis are
// measured by the same code: only the bytes of a request and the parsing of an answer differ (see codecs.ts).
// Raw sockets rather than node:http keep the client's own CPU small, which matters on a 2-core machine where
// every cycle the client spends is taken from the server under test.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { delay } from '../../src/util/async.js';
import { codecFor, ProtocolMismatch, type Codec, type Reply } from './codecs.js';
import { ERROR_BACKOFF_MS, KeyCounter, serveLoadRun, type LoadGenerator, type LoadRunConfig, type Meter } from './harness.js';

const CONNECT_TIMEOUT_MS = 10_000;
/** Connections that write every key once before a run that reads, whatever the run's own count. */
const PREFILL_CONNECTIONS = 64;

/** One connection: writes a batch, resolves once every answer of it has arrived. */
class Connection {
  private carry: Buffer | null = null;
  private kinds: readonly boolean[] = [];
  private batchStarted = 0;
  private meter: Meter | null = null;
  private settle: ((error: Error | null) => void) | null = null;
  private readonly replies: Reply[] = [];
  private closedWith: Error | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly codec: Codec,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('ECONNCLOSED')));
  }

  static open(host: string, port: number, codec: Codec): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to ${host}:${port} within ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new Connection(socket, codec));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /**
   * Sends one batch as one write; `kinds[i]` says whether request i is a read. Resolves with the answers once
   * all are in (each counted into `meter`, if given, as it arrives).
   */
  exchange(batch: Buffer, kinds: readonly boolean[], meter: Meter | null): Promise<Reply[]> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    if (this.settle !== null) throw new Error('one batch at a time per connection');
    this.kinds = kinds;
    this.meter = meter;
    this.replies.length = 0;
    return new Promise((resolve, reject) => {
      this.settle = (error) => (error === null ? resolve([...this.replies]) : reject(error));
      this.batchStarted = performance.now();
      this.socket.write(batch);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const data = this.carry === null ? chunk : Buffer.concat([this.carry, chunk]);
    const before = this.replies.length;
    let used: number;
    try {
      used = this.codec.parse(data, this.replies);
    } catch (error) {
      this.fail(error as Error);
      this.socket.destroy();
      return;
    }
    this.carry = used === data.byteLength ? null : data.subarray(used);
    const arrived = performance.now();
    const meter = this.meter;
    if (meter !== null) {
      meter.socketRead(arrived);
      for (let i = before; i < this.replies.length; i++) {
        const reply = this.replies[i] as Reply;
        if (reply.ok) meter.succeeded(this.kinds[i] === true, this.batchStarted, arrived);
        else meter.failed(reply.code, arrived);
      }
    }
    if (this.replies.length > this.kinds.length) {
      this.fail(new ProtocolMismatch(`${this.replies.length} answers to ${this.kinds.length} requests`));
      return;
    }
    if (this.replies.length === this.kinds.length) this.finish(null);
  }

  private fail(error: Error): void {
    this.closedWith ??= error;
    this.finish(error);
  }

  private finish(error: Error | null): void {
    const settle = this.settle;
    this.settle = null;
    settle?.(error);
  }
}

/**
 * Which operations read: exactly `readRatio` of them, spread evenly (operation i reads when the running count of
 * reads owed steps up), so a 90/10 mix is the same sequence on every server.
 */
class ReadSchedule {
  private issued = 0;
  constructor(private readonly readRatio: number) {}
  next(): boolean {
    const i = this.issued++;
    return Math.floor((i + 1) * this.readRatio) > Math.floor(i * this.readRatio);
  }
}

class LoadClient implements LoadGenerator {
  private connections: Connection[] = [];
  private readonly keys: KeyCounter;
  private readonly schedule: ReadSchedule;
  private readonly codec: Codec;

  constructor(private readonly config: LoadRunConfig) {
    if (config.protocol !== 'resp' && config.pipeline !== 1)
      throw new RangeError('HTTP/1.1 load has one request in flight per connection (pipeline 1)');
    this.codec = codecFor(config.protocol, config.valueBytes);
    this.keys = new KeyCounter(config.keySpace);
    this.schedule = new ReadSchedule(config.readRatio);
  }

  async open(): Promise<void> {
    if (this.config.readRatio > 0) await this.prefill();
    this.connections = await this.connect(this.config.connections);
    // One write on each connection: the server must accept it before the load starts.
    const first = await Promise.all(
      this.connections.map((connection) => connection.exchange(this.codec.request(false, this.keys.take()), [false], null)),
    );
    const refused = first.flat().find((reply) => !reply.ok);
    if (refused !== undefined && !refused.ok) throw new Error(`the server refused the first write: ${refused.code}`);
  }

  async run(meter: Meter): Promise<void> {
    await Promise.all(this.connections.map((connection) => this.loop(connection, meter)));
  }

  close(): void {
    for (const connection of this.connections) connection.close();
  }

  private async connect(count: number): Promise<Connection[]> {
    const { host, port } = this.config;
    const opened = await Promise.allSettled(Array.from({ length: count }, () => Connection.open(host, port, this.codec)));
    const connections = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failure = opened.find((result) => result.status === 'rejected');
    if (failure !== undefined) {
      for (const connection of connections) connection.close();
      throw new Error(`could not open ${count} connections: ${String((failure as PromiseRejectedResult).reason)}`);
    }
    return connections;
  }

  /** Writes every key once, so that reads find a value of the run's size. */
  private async prefill(): Promise<void> {
    const connections = await this.connect(PREFILL_CONNECTIONS);
    let next = 0;
    const fill = async (connection: Connection): Promise<void> => {
      while (next < this.config.keySpace) {
        const key = next++;
        const [reply] = await connection.exchange(this.codec.request(false, key), [false], null);
        if (reply !== undefined && !reply.ok) throw new Error(`the server refused a prefill write: ${reply.code}`);
      }
    };
    try {
      await Promise.all(connections.map(fill));
    } finally {
      for (const connection of connections) connection.close();
    }
  }

  private async loop(connection: Connection, meter: Meter): Promise<void> {
    const depth = this.config.pipeline;
    while (!meter.stopping) {
      const kinds: boolean[] = [];
      const parts: Buffer[] = [];
      for (let i = 0; i < depth; i++) {
        const read = this.schedule.next();
        kinds.push(read);
        parts.push(this.codec.request(read, this.keys.take()));
      }
      meter.inFlight += depth;
      try {
        const replies = await connection.exchange(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), kinds, meter);
        if (replies.some((reply) => !reply.ok && reply.code.startsWith('HTTP 5'))) await delay(ERROR_BACKOFF_MS);
      } catch (error) {
        meter.failed((error as Error).message.split(' ')[0] ?? 'error', performance.now());
        await delay(ERROR_BACKOFF_MS);
        return; // a broken connection stays broken
      } finally {
        meter.inFlight -= depth;
      }
    }
  }
}

serveLoadRun((config) => new LoadClient(config));
