import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Supervisor } from '../actor/supervisor.js';
import { serverTlsOptions, type ServerTls } from './http-server.js';
import { ERRORS } from '../protocol/errors.js';
import { ConnectionGate, type Limits } from './limits.js';
import type { ConnectionCloseReason, Metrics } from './metrics.js';
import { RESP_COMMANDS } from './resp-commands.js';
import { fail, isErrorReply, resolveCommand, unknownCommand, type RespCommand, type RespCommandContext } from './resp-command-table.js';
import { RespParser, RespProtocolError, encodeReply, type ParsedCommand, type RespValue } from './resp-parser.js';
import type { Router } from './router.js';

export interface RespServerDeps {
  readonly router: Router;
  readonly supervisor: Supervisor;
  readonly limits: Limits;
  readonly metrics: Metrics;
}

let nextLane = 0;

const OK: RespValue = { status: 'OK' };

/** One reply owed to a pipelined command; `value` may legitimately be null (RESP nil) once done. */
interface Slot {
  done: boolean;
  value: RespValue;
}

/**
 * The Redis protocol (RESP2) front door: redis-cli, redis-benchmark and ioredis work unmodified. With `secure`,
 * the same protocol over TLS (tls.Server: `redis-cli --tls`, ioredis's `tls` option), as Redis 6 serves it.
 */
export function createRespServer(deps: RespServerDeps, secure: ServerTls | null = null): net.Server {
  const max = deps.limits.connectionsMax;
  const gate = new ConnectionGate(max, () => deps.metrics.connectionDropped('resp'));
  const refusal = `-${ERRORS.OVERLOADED.redis} max number of clients reached (connectionsMax ${max}); retry later\r\n`;
  const serve = (socket: net.Socket): void => {
    if (gate.admit(socket, refusal)) serveConnection(socket, deps);
  };
  const server = secure === null ? net.createServer(serve) : tls.createServer(serverTlsOptions(secure), serve);
  // The gate answers the connections past the cap; past connectionsRefusingMax more (a flood faster than they
  // close) Node closes new ones before a byte is read ('drop', counted too).
  server.maxConnections = max + deps.limits.connectionsRefusingMax;
  return server;
}

function serveConnection(socket: net.Socket, deps: RespServerDeps): void {
  const context: RespCommandContext = { router: deps.router, supervisor: deps.supervisor, limits: deps.limits, lane: nextLane++ };
  socket.setNoDelay(true);
  const limits = deps.limits;
  const cutOff = (reason: ConnectionCloseReason): void => {
    if (socket.destroyed) return;
    deps.metrics.connectionClosed('resp', reason);
    socket.destroy();
  };
  // Idle: no byte read or written for idleTimeoutMs (Node's socket timeout) and no command being served.
  // A client that stopped reading its replies writes nothing either, so it is idle too.
  socket.setTimeout(limits.idleTimeoutMs, () => {
    if (replies.length === 0) cutOff('idle');
  });
  // A command's frame must arrive whole within requestReceiveTimeoutMs of its first byte, or of the command
  // before it (a trickle of one byte at a time does not keep a frame alive). While the server itself stopped
  // reading (pipeline backpressure), the clock waits.
  let frameTimer: NodeJS.Timeout | null = null;
  const clearFrameTimer = (): void => {
    if (frameTimer !== null) clearTimeout(frameTimer);
    frameTimer = null;
  };
  const armFrameTimer = (): void => {
    frameTimer = setTimeout(() => {
      frameTimer = null;
      if (parser.bufferedBytes === 0) return;
      if (socket.isPaused()) armFrameTimer();
      else cutOff('request-timeout');
    }, limits.requestReceiveTimeoutMs);
  };
  socket.once('close', clearFrameTimer);
  const parser = new RespParser({
    argumentsMax: deps.limits.respArgumentsMax,
    bulkBytesMax: Math.max(deps.limits.valueBytesMax, deps.limits.keyBytesMax) + 1024,
    inlineBytesMax: deps.limits.respInlineBytesMax,
    commandBytesMax: deps.limits.commandBytesMax,
  });
  // Replies go out in request order, whatever order the commands finish in (pipelining).
  const replies: Slot[] = [];
  let closing = false;
  // Commands of one connection take effect in the order they were sent, as in Redis: a read waits until the
  // writes sent before it are answered, a write until the reads before it are. A run of reads, or of writes,
  // still goes out together (one ReadIndex round, one proposal).
  let runKind: 'read' | 'write' | null = null;
  let runStart: Promise<unknown> = Promise.resolve();
  let runSettled: Promise<unknown> = runStart;
  // Answers that complete in the same turn (a pipelined batch) leave in one write.
  let flushScheduled = false;
  const scheduleFlush = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      flushReplies();
    });
  };
  const flushReplies = (): void => {
    const out: Buffer[] = [];
    while (replies.length > 0 && (replies[0] as Slot).done) {
      out.push(encodeReply((replies.shift() as Slot).value));
    }
    if (out.length > 0 && !socket.destroyed) {
      socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
      // A client that does not read its replies (Redis's client-output-buffer-limit): its connection goes.
      if (socket.writableLength > limits.outputBufferBytesMax) {
        cutOff('output-buffer');
        return;
      }
    }
    if (replies.length < deps.limits.respPipelineCommandsMax && socket.isPaused()) socket.resume();
    if (closing && replies.length === 0) socket.end();
  };
  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    let commands: ParsedCommand[];
    try {
      commands = parser.feed(chunk);
      if (commands.length > 0) clearFrameTimer();
      if (parser.bufferedBytes > 0 && frameTimer === null) armFrameTimer();
    } catch (error) {
      const message = error instanceof RespProtocolError ? error.message : 'Protocol error';
      replies.push({ done: true, value: { error: `ERR ${message}` } });
      closing = true;
      flushReplies();
      return;
    }
    for (const argv of commands) {
      const slot: Slot = { done: false, value: null };
      replies.push(slot);
      const started = process.hrtime.bigint();
      // Metrics are labelled by the top-level name only when it is in the table, so clients cannot add labels.
      const command = RESP_COMMANDS.get((argv[0] as Buffer).toString('latin1').toLowerCase());
      const label = command?.name ?? 'unknown';
      const target = command === undefined ? unknownCommand(argv) : resolveCommand(command, argv);
      if ('error' in target) {
        slot.done = true;
        slot.value = target;
        deps.metrics.observeRequest('resp', label, 'error', Number(process.hrtime.bigint() - started) / 1e9);
        continue;
      }
      if (target.name === 'quit') {
        // Nothing pipelined after QUIT runs: reading stops here, and the connection ends once all is answered.
        slot.done = true;
        slot.value = OK;
        closing = true;
        break;
      }
      let done: Promise<RespValue>;
      if (target.effect === 'none') done = run(target.handler, argv, context);
      else {
        if (target.effect !== runKind) {
          runKind = target.effect;
          runStart = runSettled;
        }
        done = runStart.then(() => target.handler(argv, context));
        runSettled = Promise.all([runSettled, done.catch(() => undefined)]);
      }
      void done.then(
        (value) => {
          slot.done = true;
          slot.value = value;
          deps.metrics.observeRequest('resp', label, isErrorReply(value) ? 'error' : 'ok', Number(process.hrtime.bigint() - started) / 1e9);
          scheduleFlush();
        },
        (error: unknown) => {
          slot.done = true;
          slot.value = fail('INTERNAL', (error as Error).message);
          scheduleFlush();
        },
      );
    }
    flushReplies();
    // Backpressure: a client that pipelines more than the limit waits for answers before more is read.
    if (replies.length >= deps.limits.respPipelineCommandsMax) socket.pause();
  });
  socket.on('error', () => socket.destroy());
}

/** A handler's answer as a promise; a handler that throws becomes a rejected promise, answered INTERNAL. */
async function run(handler: RespCommand['handler'], argv: readonly Buffer[], context: RespCommandContext): Promise<RespValue> {
  return handler(argv, context);
}
