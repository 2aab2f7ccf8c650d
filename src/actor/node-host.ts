// Where a supervised node runs: a worker thread of this process (its peers over MessagePorts, or over TCP for
// `raftkv node`), or a child process of its own (`raftkv cluster --processes`, peers over TCP). The supervisor
// sees both the same way: reports, an exit with its reason, a comlink endpoint for the control plane, a client
// port for the router, and a kill.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Endpoint } from 'comlink';
import type { NodeStartup, ProcessMessage, WorkerReport } from '../protocol/node.js';
import type { NodeId } from '../raft/types.js';
import { ipcControlEndpoint, portEndpoint } from '../transport/comlink-endpoint.js';
import type { FramePort } from '../transport/link.js';

export interface HostedNodeEvents {
  report: [report: WorkerReport];
  /** The thread or process ended (or failed) on its own or by terminate(): why, in words. */
  exit: [reason: string];
}

/** One incarnation of a node: a start of its thread or process, until it ends. */
export interface HostedNode extends EventEmitter<HostedNodeEvents> {
  readonly kind: 'thread' | 'process';
  /** The control plane: NodeControl is exposed on the other end. */
  readonly control: Endpoint;
  /** The router's client port of a thread; null for a process (its router dials the node's client lane). */
  readonly client: FramePort | null;
  /** The child's process id (a process), or null (a thread). */
  readonly pid: number | null;
  /** Ends it at once, as a crash would (worker.terminate, SIGKILL): nothing more is synced. */
  terminate(): Promise<void>;
  /** Closes this side's ports once the node is forgotten. */
  dispose(): void;
}

/** A node's worker module and the extra workerData of each start (tests: another state machine, a crash at start). */
export interface WorkerEntry {
  /** A .ts module (run through workers/ts-entry.mjs under tsx) or a .js one. */
  readonly module: URL;
  readonly data?: (id: NodeId) => object;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const DEFAULT_WORKER_MODULE = new URL(`../../workers/raft-node.worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);
const PROCESS_MODULE = new URL(`../../workers/raft-node.process.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);

/** Running from source (tests, tsx), a small JS entry registers tsx, then loads the TypeScript worker. */
function workerUrlAndData(module: URL): { url: URL; data: Record<string, string> } {
  if (module.pathname.endsWith('.ts'))
    return { url: new URL('../../workers/ts-entry.mjs', import.meta.url), data: { __entry: module.href } };
  return { url: module, data: {} };
}

class ThreadNode extends EventEmitter<HostedNodeEvents> implements HostedNode {
  readonly kind = 'thread';
  readonly pid = null;
  readonly control: Endpoint;
  private ended = false;

  constructor(
    private readonly worker: Worker,
    private readonly controlPort: MessagePort,
    readonly client: MessagePort,
  ) {
    super();
    this.control = portEndpoint(controlPort);
    worker.on('message', (report: WorkerReport) => this.emit('report', report));
    worker.on('error', (error) => this.end(`uncaught ${error.name}: ${error.message}`));
    worker.on('exit', (code) => this.end(`worker exited with code ${code}`));
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  dispose(): void {
    this.controlPort.close();
    this.client.close();
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('exit', reason);
  }
}

/** Starts a node as a worker thread of this process; `peers` are its MessagePorts to the peers that are up. */
export function spawnThread(
  startup: Omit<NodeStartup, 'ports'>,
  peers: Record<NodeId, MessagePort>,
  worker: WorkerEntry | null,
): HostedNode {
  const control = new MessageChannel();
  const client = new MessageChannel();
  const entry = workerUrlAndData(worker?.module ?? DEFAULT_WORKER_MODULE);
  const extra = worker?.data?.(startup.id) ?? {};
  const full: NodeStartup = { ...startup, ports: { peers, control: control.port1, client: client.port1 } };
  const thread = new Worker(entry.url, {
    workerData: { ...extra, ...full, ...entry.data },
    transferList: [...Object.values(peers), control.port1, client.port1],
    stdout: false,
    stderr: false,
  });
  return new ThreadNode(thread, control.port2, client.port2);
}

/** The last lines a child wrote to stderr (an uncaught exception's stack), for the crash reason. */
const STDERR_KEPT_BYTES = 2_048;

class ProcessNode extends EventEmitter<HostedNodeEvents> implements HostedNode {
  readonly kind = 'process';
  readonly client = null;
  readonly control: Endpoint;
  private ended = false;
  private stderr = '';
  private readonly exited: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    super();
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_KEPT_BYTES);
    });
    child.on('message', (message: ProcessMessage) => {
      if (message.type === 'report') this.emit('report', message.report);
    });
    child.on('error', (error) => this.end(`child process: ${error.message}`));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        const last = this.stderr.trim().split('\n').slice(-1)[0] ?? '';
        this.end(`process ${child.pid ?? '?'} exited with ${signal ?? `code ${code}`}${last === '' ? '' : `: ${last}`}`);
        resolve();
      });
    });
    this.control = ipcControlEndpoint(child);
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  async terminate(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  dispose(): void {
    if (this.child.connected) this.child.disconnect();
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('exit', reason);
  }
}

/**
 * Starts a node as a child process of its own (workers/raft-node.process): it gets its start-up message over
 * IPC, speaks the control plane over IPC and everything else over TCP. It ends when this process's IPC
 * channel closes, so a supervisor killed with SIGKILL leaves no node behind.
 */
export function spawnProcess(startup: Omit<NodeStartup, 'ports'>): HostedNode {
  const child = fork(PROCESS_MODULE, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    execArgv: FROM_SOURCE ? ['--import', 'tsx'] : [],
  });
  child.send({ type: 'start', startup: { ...startup, ports: null } } satisfies ProcessMessage);
  return new ProcessNode(child);
}
