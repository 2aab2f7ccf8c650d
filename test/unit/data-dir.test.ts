// The data folder's lock and identity (src/storage/data-dir.ts): two users of one node folder are refused,
// naming the holder; a lock whose process is gone is taken over; a folder of another cluster, another node or a
// newer raftkv is refused; a folder from before identities is adopted.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DATA_DIR_FORMAT,
  DataDirLock,
  checkNodeIdentity,
  openClusterIdentity,
  recordedNodes,
  type ClusterIdentity,
} from '../../src/storage/data-dir.js';
import { StorageError } from '../../src/storage/errors.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-data-dir-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The StorageError code a call throws (fails the test if it throws nothing, or something else). */
function codeOf(call: () => unknown): { code: string; message: string } {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(StorageError);
    return { code: (error as StorageError).code, message: (error as StorageError).message };
  }
  throw new Error('expected a StorageError, nothing was thrown');
}

const lockFile = (node: string): string => path.join(dir, node, 'LOCK');
const writeLock = (node: string, record: object): void => {
  fs.mkdirSync(path.join(dir, node), { recursive: true });
  fs.writeFileSync(lockFile(node), JSON.stringify(record));
};

describe('the node folder lock', () => {
  it('is exclusive: a second holder is refused with the first one named, and may take it once released', () => {
    const node = path.join(dir, 'n1');
    const first = DataDirLock.acquire(node);
    const refused = codeOf(() => DataDirLock.acquire(node));
    expect(refused.code).toBe('STORAGE_DIR_LOCKED');
    expect(refused.message).toContain(`in use by process ${process.pid}`);
    first.release();
    expect(fs.existsSync(lockFile('n1'))).toBe(false);
    const second = DataDirLock.acquire(node);
    expect(JSON.parse(fs.readFileSync(lockFile('n1'), 'utf8'))).toMatchObject({ pid: process.pid, host: os.hostname() });
    first.release(); // a released lock releasing again leaves the new holder's alone
    expect(fs.existsSync(lockFile('n1'))).toBe(true);
    second.release();
  });

  it('takes over a lock whose process has ended, and one left by this process without a holder', () => {
    // A PID that surely ran and ended: a child that exited.
    const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeLock('n1', { pid: Number(ended.stdout), start: null, host: os.hostname(), token: 'gone', since: 'then' });
    DataDirLock.acquire(path.join(dir, 'n1')).release();
    writeLock('n2', { pid: process.pid, start: null, host: os.hostname(), token: 'no-holder', since: 'then' });
    DataDirLock.acquire(path.join(dir, 'n2')).release();
    expect(fs.readdirSync(path.join(dir, 'n1'))).toEqual([]);
  });

  it("honours a live process's lock, naming its PID and command, until it ends; a reused PID does not hold it", async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const pid = holder.pid as number;
      writeLock('n1', { pid, start: null, host: os.hostname(), token: 'live', since: '2026-12-07T00:00:00Z' });
      const refused = codeOf(() => DataDirLock.acquire(path.join(dir, 'n1')));
      expect(refused.code).toBe('STORAGE_DIR_LOCKED');
      expect(refused.message).toContain(`in use by process ${pid}`);
      expect(refused.message).toContain('setTimeout'); // its command line
      // The same PID with another start time is another process that got the number: the lock is stale.
      writeLock('n2', { pid, start: 1, host: os.hostname(), token: 'reused', since: 'then' });
      DataDirLock.acquire(path.join(dir, 'n2')).release();
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    DataDirLock.acquire(path.join(dir, 'n1')).release();
  });

  it("honours another host's lock (it cannot be checked), and refuses a LOCK that raftkv did not write", () => {
    writeLock('n1', { pid: 1, start: null, host: 'elsewhere.example', token: 'far', since: 'then' });
    expect(codeOf(() => DataDirLock.acquire(path.join(dir, 'n1'))).message).toContain('on elsewhere.example');
    writeLock('n2', { hello: 'world' });
    expect(codeOf(() => DataDirLock.acquire(path.join(dir, 'n2'))).code).toBe('STORAGE_BAD_PATH');
  });
});

describe('the data folder identity', () => {
  it('makes an identity for a new folder and resumes it after; another node count is refused', () => {
    const made = openClusterIdentity(dir, 3);
    expect(made.resumed).toBe(false);
    expect(made.identity).toMatchObject({ format: DATA_DIR_FORMAT, nodes: 3 });
    expect(made.identity.clusterId).toMatch(/^[0-9a-f-]{36}$/);
    const again = openClusterIdentity(dir, 3);
    expect(again).toEqual({ identity: made.identity, resumed: true });
    expect(recordedNodes(dir)).toBe(3);
    const other = codeOf(() => openClusterIdentity(dir, 5));
    expect(other.code).toBe('STORAGE_DIR_CLUSTER');
    expect(other.message).toContain('holds a 3-node cluster');
  });

  it('adopts a folder from before identities, and refuses one of a newer format', () => {
    fs.writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify({ nodes: 3, created: '2026-01-01T00:00:00.000Z' }));
    const adopted = openClusterIdentity(dir, 3);
    expect(adopted.resumed).toBe(true);
    expect(adopted.identity).toMatchObject({ format: DATA_DIR_FORMAT, nodes: 3, created: '2026-01-01T00:00:00.000Z' });
    expect(openClusterIdentity(dir, 3).identity.clusterId).toBe(adopted.identity.clusterId);
    fs.writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify({ ...adopted.identity, format: DATA_DIR_FORMAT + 1 }));
    const newer = codeOf(() => openClusterIdentity(dir, 3));
    expect(newer.code).toBe('STORAGE_DIR_FORMAT');
    expect(newer.message).toContain(`data format ${DATA_DIR_FORMAT + 1}`);
    fs.writeFileSync(path.join(dir, 'cluster.json'), '{not json');
    expect(codeOf(() => openClusterIdentity(dir, 3)).code).toBe('STORAGE_BAD_PATH');
  });

  it("marks each node folder as its cluster's and node's, and refuses one of another cluster or node", () => {
    const cluster: ClusterIdentity = openClusterIdentity(dir, 3).identity;
    const n1 = path.join(dir, 'n1');
    checkNodeIdentity(n1, 'n1', cluster);
    checkNodeIdentity(n1, 'n1', cluster); // again: it is this node's
    const foreign = codeOf(() => checkNodeIdentity(n1, 'n1', { ...cluster, clusterId: 'another-cluster' }));
    expect(foreign.code).toBe('STORAGE_DIR_CLUSTER');
    expect(foreign.message).toContain(`holds data of cluster ${cluster.clusterId}`);
    const swapped = codeOf(() => checkNodeIdentity(n1, 'n2', cluster));
    expect(swapped.message).toContain("holds node n1's data, not n2's");
    fs.writeFileSync(
      path.join(n1, 'node.json'),
      JSON.stringify({ format: DATA_DIR_FORMAT + 1, clusterId: cluster.clusterId, nodeId: 'n1' }),
    );
    expect(codeOf(() => checkNodeIdentity(n1, 'n1', cluster)).code).toBe('STORAGE_DIR_FORMAT');
  });
});
