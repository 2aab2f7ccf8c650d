import { HistoryRecorder, type Operation } from './checker/history.js';
import { KvHttpClient, RespClient, type CallOutcome } from './clients.js';
import type { Workload } from './scenario.js';
import type { SeededRandom } from '../raft/random.js';

/** What a workload leaves behind for the checks: its history and the final state read after healing. */
export interface WorkloadRun {
  readonly history: Operation[];
  /** Filled by `finalReads`: counter values, or the set's elements, or register values. */
  readonly finals: Map<string, string | number | null>;
}

interface ClientContext {
  readonly process: number;
  readonly http: KvHttpClient;
  readonly resp: RespClient;
  /** Register workload: the value and index this client last saw per key (for index-based CAS). */
  readonly seen: Map<string, { value: string | null; index: number }>;
  /** Register workload with `reads: every-node`: the node this client's reads are pinned to. */
  readonly readNode: string | null;
  seq: number;
  /** This client's choices (keys, operations, its first delay), forked from the run's seed. */
  readonly random: SeededRandom;
}

const REGISTER_PREFIX = 'r';
const COUNTER_PREFIX = 'c';
const SET_PREFIX = 'set/';
/** The set's final read pages through the elements this many at a time (the server's scanItemsMax is 10,000). */
const FINAL_READ_PAGE_ITEMS = 1000;

/**
 * Drives `clients` concurrent clients against the real HTTP or Redis-protocol API for `durationMs`, at about
 * `ratePerSecond` in all, recording every operation with Jepsen's semantics (invoke, then ok / fail / info).
 */
export class WorkloadDriver {
  readonly recorder: HistoryRecorder;
  private readonly clients: ClientContext[] = [];
  private stopped = false;
  private readonly finals = new Map<string, string | number | null>();

  constructor(
    private readonly workload: Workload,
    ports: { http: number; resp: number },
    startedAt: number,
    random: SeededRandom,
    /** The cluster's node ids: with `reads: every-node`, client i reads through node i mod their count. */
    nodeIds: readonly string[] = [],
    /** Put before every key, so runs on one cluster (a soak's windows) never meet each other's keys. */
    private readonly keyPrefix = '',
  ) {
    if (workload.reads === 'every-node' && nodeIds.length === 0) throw new Error('reads: every-node needs the node ids');
    this.recorder = new HistoryRecorder({ clock: () => performance.now() - startedAt });
    for (let process = 0; process < workload.clients; process++) {
      this.clients.push({
        process,
        http: new KvHttpClient(ports.http),
        resp: new RespClient(ports.resp),
        seen: new Map(),
        readNode: workload.reads === 'every-node' ? (nodeIds[process % nodeIds.length] as string) : null,
        seq: 0,
        random: random.fork(),
      });
    }
  }

  /** Runs every client until `stop()`; resolves when they have all finished their last operation. */
  async run(): Promise<void> {
    const intervalMs = (1000 * this.workload.clients) / this.workload.ratePerSecond;
    await Promise.all(
      this.clients.map(async (client) => {
        let next = performance.now() + client.random.next() * intervalMs;
        while (!this.stopped) {
          const wait = next - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          if (this.stopped) break;
          next = Math.max(next + intervalMs, performance.now());
          await this.step(client);
        }
      }),
    );
  }

  stop(): void {
    this.stopped = true;
  }

  close(): void {
    for (const client of this.clients) {
      client.http.close();
      client.resp.close();
    }
  }

  private registerKey(k: number): string {
    return `${this.keyPrefix}${REGISTER_PREFIX}${k}`;
  }

  private counterKey(k: number): string {
    return `${this.keyPrefix}${COUNTER_PREFIX}${k}`;
  }

  private get setPrefix(): string {
    return `${this.keyPrefix}${SET_PREFIX}`;
  }

  private randomKey(client: ClientContext): number {
    return client.random.int(0, this.workload.keys);
  }

  private async step(client: ClientContext): Promise<void> {
    switch (this.workload.type) {
      case 'register':
        return this.registerStep(client);
      case 'counter':
        return this.counterStep(client);
      case 'set':
        return this.setStep(client);
    }
  }

  private pick(client: ClientContext): 'read' | 'write' | 'cas' {
    const { read, write, cas } = this.workload.mix;
    const roll = client.random.next() * (read + write + cas);
    return roll < read ? 'read' : roll < read + write ? 'write' : 'cas';
  }

  /** Read, write and compare-and-set on a few keys; every written value is unique. */
  private async registerStep(client: ClientContext): Promise<void> {
    const key = this.registerKey(this.randomKey(client));
    const path = `/v1/kv/${key}`;
    const f = this.pick(client);
    if (f === 'read') {
      const op = this.recorder.invoke({ process: client.process, f: 'read', key, input: null });
      const outcome = await client.http.request('GET', client.readNode === null ? path : `${path}?node=${client.readNode}`);
      if (outcome.status !== 'ok') return this.recorder.complete(op, { status: outcome.status });
      const found = outcome.value.status === 200;
      const value = found ? String(outcome.value.json.value) : null;
      client.seen.set(key, { value, index: found ? Number(outcome.value.json.index) : 0 });
      return this.recorder.complete(op, { status: 'ok', output: value });
    }
    const value = `${client.process}.${++client.seq}`;
    if (f === 'write') {
      const op = this.recorder.invoke({ process: client.process, f: 'write', key, input: value });
      const outcome = await client.http.request('PUT', path, value);
      if (outcome.status === 'ok') client.seen.set(key, { value, index: Number(outcome.value.json.index) });
      return this.recorder.complete(op, { status: outcome.status });
    }
    // CAS by index stands for CAS by value: values are unique, so the index that last wrote a key names its value.
    const seen = client.seen.get(key) ?? { value: null, index: 0 };
    const op = this.recorder.invoke({ process: client.process, f: 'cas', key, input: [seen.value, value] });
    const outcome = await client.http.request('PUT', `${path}?ifIndex=${seen.index}`, value);
    if (outcome.status === 'ok') client.seen.set(key, { value, index: Number(outcome.value.json.index) });
    // A failed CAS keeps its error code as output: the store answered, the register held another value.
    this.recorder.complete(op, outcome.status === 'ok' ? { status: 'ok' } : { status: outcome.status, output: outcome.code });
  }

  /** Increments over the Redis protocol; exactly-once is checked against the final counts. */
  private async counterStep(client: ClientContext): Promise<void> {
    const key = this.counterKey(this.randomKey(client));
    const op = this.recorder.invoke({ process: client.process, f: 'incr', key, input: 1 });
    const outcome = await client.resp.command(['INCR', key]);
    this.recorder.complete(op, outcome.status === 'ok' ? { status: 'ok', output: outcome.value as number } : { status: outcome.status });
  }

  /** Each client adds unique elements; a final read must hold every acknowledged one. */
  private async setStep(client: ClientContext): Promise<void> {
    const element = `${client.process}.${++client.seq}`;
    const op = this.recorder.invoke({ process: client.process, f: 'add', key: 'set', input: element });
    if (this.workload.api === 'resp') {
      const outcome = await client.resp.command(['SET', `${this.setPrefix}${element}`, '1']);
      this.recorder.complete(op, { status: outcome.status });
      return;
    }
    const outcome = await client.http.request('PUT', `/v1/kv/${this.setPrefix}${element}`, '1');
    this.recorder.complete(op, { status: outcome.status });
  }

  /** After healing: read back the final state, retrying until the cluster answers (bounded). */
  async finalReads(deadlineMs: number): Promise<Map<string, string | number | null>> {
    const client = this.clients[0] as ClientContext;
    const retry = async <T>(call: () => Promise<CallOutcome<T>>): Promise<T | undefined> => {
      while (performance.now() < deadlineMs) {
        const outcome = await call();
        if (outcome.status === 'ok') return outcome.value;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return undefined;
    };
    for (let k = 0; k < this.workload.keys; k++) {
      if (this.workload.type === 'register') {
        const key = this.registerKey(k);
        const process = this.workload.clients; // a fresh process for the final reads
        const op = this.recorder.invoke({ process, f: 'read', key, input: null });
        const value = await retry(() => client.http.request('GET', `/v1/kv/${key}`));
        if (value === undefined) this.recorder.complete(op, { status: 'fail' });
        else {
          const read = value.status === 200 ? String(value.json.value) : null;
          this.recorder.complete(op, { status: 'ok', output: read });
          this.finals.set(key, read);
        }
      } else if (this.workload.type === 'counter') {
        const key = this.counterKey(k);
        const value = await retry(() => client.resp.command(['GET', key]));
        if (value !== undefined) this.finals.set(key, value === null ? 0 : Number(value));
      }
    }
    if (this.workload.type === 'set') {
      // Page through every element: a run longer than one page must not report the rest as lost.
      let after: string | null = null;
      for (;;) {
        const page = `/v1/kv?prefix=${encodeURIComponent(this.setPrefix)}&limit=${FINAL_READ_PAGE_ITEMS}`;
        const value = await retry(() =>
          client.http.request('GET', after === null ? page : `${page}&after=${encodeURIComponent(after as string)}`),
        );
        if (value === undefined) {
          this.finals.set('__unreadable__', null);
          break;
        }
        const items = (value.json.items ?? []) as { key: string }[];
        for (const item of items) this.finals.set(item.key.slice(this.setPrefix.length), 1);
        const last = items[items.length - 1];
        if (value.json.more !== true || last === undefined) break;
        after = last.key;
      }
    }
    return this.finals;
  }
}
