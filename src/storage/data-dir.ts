/**
 * The data folder's safety (issue 15): who may use it, and whose data it holds. Before a supervisor starts a
 * node it takes that node folder's lock and checks its identity, so that two clusters never write into the
 * same files (which lost the acknowledged writes of both) and a folder of another cluster, or of a newer
 * raftkv, is refused instead of being mixed in.
 *
 *   DIR/cluster.json     { format, clusterId, nodes, created, members? }: written by the first start, checked by
 *                        the next; `members` once a membership change has added or removed one
 *   DIR/nX/node.json     { format, clusterId, nodeId }: the same for each node folder
 *   DIR/nX/LOCK          { pid, start, host, token, since }: held while a process runs that node
 *
 * The lock is a file made atomically (written under a temporary name, then hard-linked as LOCK: the link fails
 * if LOCK exists). A lock whose process is gone is stale and taken over: the process is looked up by PID, and
 * on Linux by its start time too (/proc/PID/stat), so a PID reused by another process does not hold it. A lock
 * held by another host cannot be checked and is honoured. This is the operating system's job in etcd (flock);
 * Node.js has no flock, and a lock file that names its holder also tells the operator who holds it.
 *
 * Runs in the process that hosts the nodes (the supervisor's thread), with node:fs directly: the storage's
 * FileSystem abstraction is for the WAL and snapshots, whose faults the tests inject.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StorageError } from './errors.js';

/** The layout version of a data folder this raftkv writes; a folder of a higher one is refused. */
export const DATA_DIR_FORMAT = 1;

export interface ClusterIdentity {
  readonly format: number;
  /** Made at the first start (and by a restore from a backup, which makes a new cluster, as etcd does). */
  readonly clusterId: string;
  readonly nodes: number;
  readonly created: string;
}

interface NodeIdentity {
  readonly format: number;
  readonly clusterId: string;
  readonly nodeId: string;
}

interface LockRecord {
  readonly pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22), null where unknown. */
  readonly start: number | null;
  readonly host: string;
  readonly token: string;
  readonly since: string;
}

const CLUSTER_FILE = 'cluster.json';
const NODE_FILE = 'node.json';
const LOCK_FILE = 'LOCK';
/** Tries to take a lock before giving up on a race with another process taking it over at the same time. */
const LOCK_ATTEMPTS = 5;

/** Locks held by this process, by lock file: the token of the holder (another supervisor of this process may ask). */
const heldHere = new Map<string, string>();

/** Reads a JSON file of the data folder; null when absent. Unreadable or malformed is an error, not "absent". */
function readJson(file: string): Record<string, unknown> | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StorageError('STORAGE_BAD_PATH', `cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new StorageError('STORAGE_BAD_PATH', `${file} is not the JSON object raftkv writes: move it away or use another data folder`);
}

/** Writes a file durably: a temporary file fsynced, renamed over the target, the folder fsynced. */
export function writeFileDurably(file: string, bytes: Uint8Array | string): void {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o644);
  try {
    fs.writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  syncDir(path.dirname(path.resolve(file)));
}

function writeJsonDurably(file: string, value: object): void {
  writeFileDurably(file, `${JSON.stringify(value)}\n`);
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function checkFormat(file: string, format: unknown): void {
  if (typeof format === 'number' && format > DATA_DIR_FORMAT) {
    throw new StorageError(
      'STORAGE_DIR_FORMAT',
      `${file} was written by a newer raftkv (data format ${format}; this one reads up to ${DATA_DIR_FORMAT}): run that version, or restore a backup into a new folder`,
    );
  }
}

/**
 * The members recorded in a data folder after a membership change (raftkv cluster starts them all again, the
 * ones added included, the removed ones not), or null when none was made: then the members are n1..nN.
 */
export function recordedMembers(dataDir: string): string[] | null {
  const members = readJson(path.join(dataDir, CLUSTER_FILE))?.members;
  return Array.isArray(members) && members.length > 0 && members.every((id) => typeof id === 'string') ? (members as string[]) : null;
}

/** Records the members after a membership change, durably (see recordedMembers). */
export function recordMembers(dataDir: string, members: readonly string[]): void {
  const file = path.join(dataDir, CLUSTER_FILE);
  const recorded = readJson(file);
  if (recorded === null) throw new StorageError('STORAGE_BAD_PATH', `${file} is missing: the cluster's folder was moved`);
  writeJsonDurably(file, { ...recorded, members: [...members] });
}

/** The node count recorded in a data folder, or null for a new folder (the CLI checks --nodes against it). */
export function recordedNodes(dataDir: string): number | null {
  const recorded = readJson(path.join(dataDir, CLUSTER_FILE));
  return typeof recorded?.nodes === 'number' ? recorded.nodes : null;
}

/**
 * The cluster's identity in `dataDir`: read, or made for a new folder. A folder written before identities
 * existed (no clusterId) is given one. Refused: a newer format, another node count.
 */
export function openClusterIdentity(
  dataDir: string,
  nodes: number,
  /**
   * A member of a cluster of processes or hosts (raftkv node) knows its cluster's id from its flags: a folder
   * of another id is refused, and the member count may change (membership changes), so it is not checked.
   */
  clusterId: string | null = null,
): { identity: ClusterIdentity; resumed: boolean } {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, CLUSTER_FILE);
  const recorded = readJson(file);
  if (recorded === null) {
    const identity: ClusterIdentity = {
      format: DATA_DIR_FORMAT,
      clusterId: clusterId ?? randomUUID(),
      nodes,
      created: new Date().toISOString(),
    };
    writeJsonDurably(file, identity);
    return { identity, resumed: false };
  }
  checkFormat(file, recorded.format);
  if (clusterId !== null) {
    if (recorded.clusterId !== clusterId) {
      throw new StorageError(
        'STORAGE_DIR_CLUSTER',
        `${dataDir} holds data of cluster ${String(recorded.clusterId)}, not of ${clusterId} (the id --peers and --cluster-token make, or --cluster-id): use another --data-dir`,
      );
    }
    return { identity: recorded as unknown as ClusterIdentity, resumed: true };
  }
  if (recorded.nodes !== nodes) {
    throw new StorageError(
      'STORAGE_DIR_CLUSTER',
      `${dataDir} holds a ${String(recorded.nodes)}-node cluster; start it with ${String(recorded.nodes)} nodes or use another data folder`,
    );
  }
  if (typeof recorded.clusterId === 'string' && typeof recorded.format === 'number') {
    return { identity: recorded as unknown as ClusterIdentity, resumed: true };
  }
  const identity: ClusterIdentity = {
    format: DATA_DIR_FORMAT,
    clusterId: randomUUID(),
    nodes,
    created: typeof recorded.created === 'string' ? recorded.created : new Date().toISOString(),
  };
  writeJsonDurably(file, identity);
  return { identity, resumed: true };
}

/**
 * Checks that `nodeDir` holds node `nodeId` of `cluster` (or nothing yet, or data from before identities:
 * then it is marked as such). Refused: another cluster's node, another node's folder, a newer format.
 */
export function checkNodeIdentity(nodeDir: string, nodeId: string, cluster: ClusterIdentity): void {
  fs.mkdirSync(nodeDir, { recursive: true });
  const file = path.join(nodeDir, NODE_FILE);
  const recorded = readJson(file);
  if (recorded === null) {
    const identity: NodeIdentity = { format: DATA_DIR_FORMAT, clusterId: cluster.clusterId, nodeId };
    writeJsonDurably(file, identity);
    return;
  }
  checkFormat(file, recorded.format);
  if (recorded.clusterId !== cluster.clusterId) {
    throw new StorageError(
      'STORAGE_DIR_CLUSTER',
      `${nodeDir} holds data of cluster ${String(recorded.clusterId)}, not of this one (${cluster.clusterId}): it was copied from another cluster; move it away`,
    );
  }
  if (recorded.nodeId !== nodeId) {
    throw new StorageError('STORAGE_DIR_CLUSTER', `${nodeDir} holds node ${String(recorded.nodeId)}'s data, not ${nodeId}'s: move it back`);
  }
}

/** This process's start time in clock ticks since boot, where /proc has it. */
function processStart(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) is in parentheses and may hold spaces: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

function commandOf(pid: number): string | null {
  try {
    const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return command === '' ? null : command;
  } catch {
    return null;
  }
}

/** Whether the process that wrote `lock` still runs (a lock of another host: assumed so). */
function holderAlive(lock: LockRecord, file: string): boolean {
  if (lock.host !== os.hostname()) return true;
  if (lock.pid === process.pid) return heldHere.has(file);
  try {
    process.kill(lock.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(lock.pid);
  return lock.start === null || start === null || start === lock.start;
}

function parseLock(file: string): LockRecord | null {
  const record = readJson(file);
  if (record === null) return null;
  if (typeof record.pid !== 'number' || typeof record.host !== 'string' || typeof record.token !== 'string') {
    throw new StorageError('STORAGE_BAD_PATH', `${file} is not a lock raftkv wrote: if no raftkv uses this folder, remove it`);
  }
  return record as unknown as LockRecord;
}

/** The exclusive lock of one node folder, held until released (or until the process ends: then it is stale). */
export class DataDirLock {
  private released = false;

  private constructor(
    readonly file: string,
    private readonly token: string,
  ) {}

  /** Takes the lock of `dir`, or throws STORAGE_DIR_LOCKED naming the process that holds it. */
  static acquire(dir: string): DataDirLock {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, LOCK_FILE);
    const token = randomUUID();
    const record: LockRecord = {
      pid: process.pid,
      start: processStart(process.pid),
      host: os.hostname(),
      token,
      since: new Date().toISOString(),
    };
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(record)}\n`);
    try {
      for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
        try {
          fs.linkSync(temp, file); // atomic: fails if LOCK exists
          heldHere.set(file, token);
          return new DataDirLock(file, token);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const holder = parseLock(file);
        if (holder === null) continue; // released meanwhile
        if (holderAlive(holder, file)) {
          const command = holder.host === os.hostname() ? commandOf(holder.pid) : null;
          throw new StorageError(
            'STORAGE_DIR_LOCKED',
            `${dir} is in use by process ${holder.pid}${holder.host === os.hostname() ? '' : ` on ${holder.host}`}` +
              `${command === null ? '' : ` (${command})`} since ${holder.since}: stop that process, or use another data folder`,
          );
        }
        // Stale: move it aside (only one of several racing processes can), then try again.
        try {
          fs.renameSync(file, `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          continue;
        }
        for (const name of fs.readdirSync(dir))
          if (name.startsWith(`${LOCK_FILE}.stale.`)) fs.rmSync(path.join(dir, name), { force: true });
      }
      throw new StorageError(
        'STORAGE_DIR_LOCKED',
        `${dir}: could not take its lock after ${LOCK_ATTEMPTS} attempts (other processes are racing for it)`,
      );
    } finally {
      fs.rmSync(temp, { force: true });
    }
  }

  /** Gives the lock up (idempotent). A lock already taken over by another process is left to it. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (heldHere.get(this.file) === this.token) heldHere.delete(this.file);
    try {
      if (parseLock(this.file)?.token === this.token) fs.rmSync(this.file, { force: true });
    } catch {
      // a folder removed under us, or a foreign file in its place: nothing of ours to remove
    }
  }
}
