import { Packr } from 'msgpackr';
import type { ClientAnswer, ClientRequest, StatusOutcome } from '../protocol/client.js';
import { ERRORS } from '../protocol/errors.js';
import type { NodeRefusal, NodeStatus, ProposeOutcome, ReadOutcome } from '../protocol/node.js';
import type { MembershipChange } from '../raft/types.js';
import type { FramePort } from './link.js';

// The client data plane (its messages: src/protocol/client.ts). Comlink stays the control plane (status,
// kill, faults): at one proxy and one UUID per call it costs several times more per request.

/** Most requests in one frame. */
export const CLIENT_FRAME_REQUESTS_MAX = 4096;

const packr = new Packr({ useRecords: false, moreTypes: false });

function post(port: FramePort, items: readonly unknown[]): void {
  for (let start = 0; start < items.length; start += CLIENT_FRAME_REQUESTS_MAX) {
    const frame = new Uint8Array(
      packr.pack(items.length <= CLIENT_FRAME_REQUESTS_MAX ? items : items.slice(start, start + CLIENT_FRAME_REQUESTS_MAX)),
    );
    port.postMessage(frame, [frame.buffer as ArrayBuffer]);
  }
}

type Outcome = ProposeOutcome | ReadOutcome | StatusOutcome;

/** Every answer a request gets when its node goes away before answering: it may or may not have applied. */
const UNAVAILABLE: NodeRefusal = {
  ok: false,
  code: 'ANSWER_LOST',
  message: ERRORS.ANSWER_LOST.message,
  leaderId: null,
  definite: false,
};

/** The router's end: call() returns the node's answer. */
export class ClientPortClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (outcome: Outcome) => void>();
  private outbox: ClientRequest[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(private readonly port: FramePort) {
    port.on('message', (frame: Uint8Array) => {
      for (const answer of packr.unpack(frame) as ClientAnswer[]) {
        const resolve = this.waiting.get(answer.id);
        if (resolve === undefined) continue;
        this.waiting.delete(answer.id);
        resolve(answer.outcome);
      }
    });
    port.unref?.();
  }

  /**
   * The channel broke (a TCP lane reconnects; a MessagePort never does): every request in flight gets an
   * indefinite refusal, since the node may have taken it; later calls go on the new connection.
   */
  reset(): void {
    for (const resolve of this.waiting.values()) resolve(UNAVAILABLE);
    this.waiting.clear();
  }

  propose(commands: Uint8Array[]): Promise<ProposeOutcome> {
    return this.call({ id: this.nextId++, kind: 'propose', commands }) as Promise<ProposeOutcome>;
  }

  read(query: unknown): Promise<ReadOutcome> {
    return this.call({ id: this.nextId++, kind: 'read', query }) as Promise<ReadOutcome>;
  }

  readStale(query: unknown): Promise<ReadOutcome> {
    return this.call({ id: this.nextId++, kind: 'stale', query }) as Promise<ReadOutcome>;
  }

  changeMembership(change: MembershipChange): Promise<ProposeOutcome> {
    return this.call({ id: this.nextId++, kind: 'member', change }) as Promise<ProposeOutcome>;
  }

  status(): Promise<StatusOutcome> {
    return this.call({ id: this.nextId++, kind: 'status' }) as Promise<StatusOutcome>;
  }

  /** The node is gone: every pending request gets an indefinite refusal. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.waiting.values()) resolve(UNAVAILABLE);
    this.waiting.clear();
    this.outbox = [];
    this.port.close();
  }

  private call(request: ClientRequest): Promise<Outcome> {
    if (this.closed) return Promise.resolve(UNAVAILABLE);
    return new Promise((resolve) => {
      this.waiting.set(request.id, resolve);
      this.outbox.push(request);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    post(this.port, batch);
  }
}

/**
 * The well-formed requests of a frame. Over TCP a frame comes from another process (an authenticated peer's
 * router, or a tool): a malformed one is skipped whole, never half-served, and never crashes the node.
 */
function requestsOf(frame: Uint8Array): ClientRequest[] {
  let requests: unknown;
  try {
    requests = packr.unpack(frame);
  } catch {
    return [];
  }
  if (!Array.isArray(requests) || requests.length > CLIENT_FRAME_REQUESTS_MAX) return [];
  const wellFormed = (r: unknown): r is ClientRequest => {
    const request = r as Partial<Record<'id' | 'kind' | 'commands' | 'change', unknown>> | null;
    if (typeof request !== 'object' || request === null || !Number.isSafeInteger(request.id)) return false;
    if (request.kind === 'propose') return Array.isArray(request.commands) && request.commands.every((c) => c instanceof Uint8Array);
    if (request.kind === 'member') {
      const change = request.change as Partial<Record<'kind' | 'id' | 'address', unknown>> | null;
      return (
        typeof change === 'object' &&
        change !== null &&
        typeof change.id === 'string' &&
        ['add-voter', 'add-learner', 'promote', 'remove'].includes(change.kind as string) &&
        (change.address === undefined || typeof change.address === 'string')
      );
    }
    return request.kind === 'read' || request.kind === 'stale' || request.kind === 'status';
  };
  return requests.every(wellFormed) ? requests : [];
}

/** What the node's end serves requests with. */
export interface ClientHandler {
  submit(commands: readonly Uint8Array[], done: (outcome: ProposeOutcome) => void): void;
  query(query: unknown, done: (outcome: ReadOutcome) => void): void;
  readStale(query: unknown): ReadOutcome;
  status(): NodeStatus;
  changeMembers(change: MembershipChange, done: (outcome: ProposeOutcome) => void): void;
}

/** The node's end: answers are gathered during a turn and posted together. */
export function serveClientPort(port: FramePort, handler: ClientHandler): void {
  let answers: ClientAnswer[] = [];
  let flushScheduled = false;
  const answer = (id: number, outcome: Outcome): void => {
    answers.push({ id, outcome });
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      const batch = answers;
      answers = [];
      post(port, batch);
    });
  };
  port.on('message', (frame: Uint8Array) => {
    for (const request of requestsOf(frame)) {
      switch (request.kind) {
        case 'propose':
          handler.submit(request.commands, (outcome) => answer(request.id, outcome));
          break;
        case 'read':
          handler.query(request.query, (outcome) => answer(request.id, outcome));
          break;
        case 'stale':
          answer(request.id, handler.readStale(request.query));
          break;
        case 'member':
          handler.changeMembers(request.change, (outcome) => answer(request.id, outcome));
          break;
        case 'status':
          answer(request.id, { ok: true, status: handler.status() });
          break;
      }
    }
  });
}
