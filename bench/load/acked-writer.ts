// The membership suite's writer (bench/suites/membership.ts), in its own process so it never shares the
// supervisor's event loop: N keep-alive HTTP connections, each writing its own keys in turn, closed loop, and a
// record of every acknowledged write.
//
//   node --import tsx bench/load/acked-writer.ts     (forked with an IPC channel; the run arrives as a message)
//
// Connection c owns the keys c, c + N, c + 2N, ... and writes them one after the other, so each key has one
// writer and its writes are sequential: the value of a key's k-th write starts with `k:`. After the run, a key
// must read back its last acknowledged write or a later attempt (an answer lost in flight may still commit).
// node:http rather than the raw sockets of client.ts: the load here is steady, not a maximum, and node:http
// handles a connection that breaks during a membership change without a codec of its own.
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { delay } from '../../src/util/async.js';

/** A request unanswered this long is given up (indefinite: it may still commit). */
const REQUEST_TIMEOUT_MS = 10_000;
/** After a failed write, the connection waits this long before its next, so a dead server is not spun on. */
const ERROR_BACKOFF_MS = 10;
/** After `stop`, in-flight writes may take this long to finish. */
const DRAIN_TIMEOUT_MS = 12_000;

export interface AckedWriterConfig {
  readonly type: 'run';
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  /** Keys are key-0 .. key-(keySpace-1). */
  readonly keySpace: number;
  readonly valueBytes: number;
}

export interface AckedWriterReport {
  /** Wall time (performance.timeOrigin + now, ms) of every acknowledgement, in order. */
  readonly ackTimesMs: number[];
  /** Per key: the sequence number of its last acknowledged write (0: none), and of its last attempt. */
  readonly lastAckedSeq: number[];
  readonly lastAttemptedSeq: number[];
  /** Writes answered with an error or not at all, by cause. */
  readonly failures: Record<string, number>;
  /** Writes still unanswered at the end of the drain. */
  readonly abandoned: number;
}

export type AckedWriterMessage =
  | { readonly type: 'started' }
  | { readonly type: 'report'; readonly report: AckedWriterReport }
  | { readonly type: 'failed'; readonly message: string };

export function valueOf(seq: number, valueBytes: number): string {
  const head = `${seq}:`;
  return head.padEnd(Math.max(valueBytes, head.length), 'x');
}

/** The sequence number a stored value starts with, or NaN. */
export function seqOf(value: string): number {
  const colon = value.indexOf(':');
  return colon <= 0 ? Number.NaN : Number(value.slice(0, colon));
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function put(agent: http.Agent, config: AckedWriterConfig, key: number, body: string): Promise<string | null> {
  return new Promise((resolve) => {
    const request = http.request(
      {
        agent,
        host: config.host,
        port: config.port,
        method: 'PUT',
        path: `/v1/kv/key-${key}`,
        headers: { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body) },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          if (response.statusCode === 200) resolve(null);
          else {
            let code = String(response.statusCode);
            try {
              code += ` ${(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string }).code ?? ''}`;
            } catch {
              // not JSON: the status alone
            }
            resolve(code.trim());
          }
        });
        response.on('error', (error) => resolve(error.message));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
    request.end(body);
  });
}

async function run(config: AckedWriterConfig, stopped: Promise<void>): Promise<AckedWriterReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections });
  const ackTimesMs: number[] = [];
  const lastAckedSeq = new Array<number>(config.keySpace).fill(0);
  const lastAttemptedSeq = new Array<number>(config.keySpace).fill(0);
  const failures: Record<string, number> = {};
  let stopping = false;
  let inFlight = 0;
  void stopped.then(() => {
    stopping = true;
  });
  const connection = async (index: number): Promise<void> => {
    for (let turn = 0; !stopping; turn++) {
      const keysOwned = Math.ceil((config.keySpace - index) / config.connections);
      const key = index + (turn % keysOwned) * config.connections;
      const seq = (lastAttemptedSeq[key] as number) + 1;
      lastAttemptedSeq[key] = seq;
      inFlight++;
      const failure = await put(agent, config, key, valueOf(seq, config.valueBytes));
      inFlight--;
      if (failure === null) {
        ackTimesMs.push(now());
        lastAckedSeq[key] = seq;
      } else {
        failures[failure] = (failures[failure] ?? 0) + 1;
        await delay(ERROR_BACKOFF_MS);
      }
    }
  };
  const loops = Promise.all(Array.from({ length: Math.min(config.connections, config.keySpace) }, (_, i) => connection(i)));
  process.send?.({ type: 'started' } satisfies AckedWriterMessage);
  await stopped;
  const drained = await Promise.race([loops.then(() => true), delay(DRAIN_TIMEOUT_MS).then(() => false)]);
  agent.destroy();
  return { ackTimesMs, lastAckedSeq, lastAttemptedSeq, failures, abandoned: drained ? 0 : inFlight };
}

process.on('message', (message: AckedWriterConfig | { type: 'stop' }) => {
  if (message.type !== 'run') return;
  const stopped = new Promise<void>((resolve) => {
    process.on('message', (next: { type: string }) => {
      if (next.type === 'stop') resolve();
    });
  });
  run(message, stopped).then(
    (report) => process.send?.({ type: 'report', report } satisfies AckedWriterMessage, () => process.exit(0)),
    (error: unknown) => process.send?.({ type: 'failed', message: String(error) } satisfies AckedWriterMessage, () => process.exit(1)),
  );
});
