/**
 * Backups of a running cluster (`raftkv snapshot save|restore|status`, issue 15): one file that holds the
 * state machine at one applied index, with a header naming the cluster, the index and the term, and checksums
 * over both, so that a corrupted or truncated backup is refused instead of restored.
 *
 *   8 bytes magic "RKVBACK1" | u32 header length | u32 header CRC-32 | header (JSON) | data
 *   header: { format, clusterId, index, term, voters, learners, created, dataBytes, dataCrc32 }
 *   (`learners` since learners existed; a backup without it had none.)
 *
 * Restoring lays out a new cluster's data folder from it (as `etcdctl snapshot restore` does): a new cluster
 * id, each node folder holding the backup as its snapshot and nothing else; the nodes' logs start after it.
 */
import { crc32 } from 'node:zlib';
import * as path from 'node:path';
import * as nodeFs from 'node:fs';
import type { Membership, SnapshotMeta } from '../raft/types.js';
import { checkNodeIdentity, openClusterIdentity, recordedNodes, type ClusterIdentity } from './data-dir.js';
import { StorageError } from './errors.js';
import { NodeFileSystem } from './file-system.js';
import { SnapshotStore } from './snapshot-store.js';

const MAGIC = Buffer.from('RKVBACK1', 'latin1');
const PREFIX_BYTES = 16;
/** The format this raftkv writes and reads. */
export const BACKUP_FORMAT = 1;
/** A header is a few hundred bytes; a length past this is corruption, not a header. */
export const BACKUP_HEADER_BYTES_MAX = 64 * 1024;

export interface BackupHeader {
  readonly format: number;
  readonly clusterId: string;
  readonly index: number;
  readonly term: number;
  readonly voters: readonly string[];
  /** The learners of the configuration at `index`; absent in backups written before learners existed. */
  readonly learners?: readonly string[];
  readonly created: string;
  readonly dataBytes: number;
  readonly dataCrc32: number;
}

export interface Backup {
  readonly header: BackupHeader;
  readonly data: Uint8Array;
}

/** The backup file of a state machine snapshot taken in cluster `clusterId`. */
export function encodeBackup(meta: SnapshotMeta, data: Uint8Array, clusterId: string, now = new Date()): Uint8Array {
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    clusterId,
    index: meta.index,
    term: meta.term,
    voters: [...meta.membership.voters],
    learners: [...meta.membership.learners],
    created: now.toISOString(),
    dataBytes: data.byteLength,
    dataCrc32: crc32(data),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(headerBytes.byteLength, 8);
  prefix.writeUInt32LE(crc32(headerBytes), 12);
  return Buffer.concat([prefix, headerBytes, data]);
}

/** Reads and verifies a backup: STORAGE_BACKUP_INVALID, naming what is wrong, for anything but a whole, intact one. */
export function decodeBackup(bytes: Uint8Array, file: string): Backup {
  const fail = (message: string, offset?: number): never => {
    throw new StorageError('STORAGE_BACKUP_INVALID', message, offset === undefined ? { file } : { file, offset });
  };
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.byteLength < PREFIX_BYTES) fail(`${buffer.byteLength} bytes: too short to be a raftkv backup`, 0);
  if (!buffer.subarray(0, 8).equals(MAGIC)) fail('not a raftkv backup (no RKVBACK1 at its start)', 0);
  const headerBytes = buffer.readUInt32LE(8);
  if (headerBytes > BACKUP_HEADER_BYTES_MAX) fail(`a header of ${headerBytes} bytes: the file is corrupt`, 8);
  if (buffer.byteLength < PREFIX_BYTES + headerBytes)
    fail(`truncated: it ends inside its header (${buffer.byteLength} bytes)`, PREFIX_BYTES);
  const headerSlice = buffer.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes);
  if (crc32(headerSlice) !== buffer.readUInt32LE(12)) fail('the header fails its checksum: the file is corrupt', PREFIX_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(headerSlice.toString('utf8'));
  } catch {
    return fail('the header is not JSON: the file is corrupt', PREFIX_BYTES);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('the header is not a JSON object', PREFIX_BYTES);
  const format = (parsed as { format?: unknown }).format;
  if (format !== BACKUP_FORMAT) fail(`backup format ${String(format)}; this raftkv reads format ${BACKUP_FORMAT}`, PREFIX_BYTES);
  // The CRC only says the header is as written: a file made by hand may hold any JSON, so each field is checked
  // before restore or status relies on it.
  const problem = headerProblem(parsed as Record<string, unknown>);
  if (problem !== null) fail(`the header's ${problem}`, PREFIX_BYTES);
  const header = parsed as unknown as BackupHeader;
  const dataStart = PREFIX_BYTES + headerBytes;
  const have = buffer.byteLength - dataStart;
  if (have < header.dataBytes) fail(`truncated: ${have} of ${header.dataBytes} data bytes`, buffer.byteLength);
  if (have > header.dataBytes)
    fail(`${have - header.dataBytes} bytes past the end of the data: the file is corrupt`, dataStart + header.dataBytes);
  const data = buffer.subarray(dataStart);
  if (crc32(data) !== header.dataCrc32) fail('the data fails its checksum: the file is corrupt', dataStart);
  return { header, data };
}

const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isIds = (value: unknown): boolean => Array.isArray(value) && value.every((id) => typeof id === 'string' && id.length > 0);

/** What is wrong with a parsed header's fields (other than its format), or null. */
function headerProblem(header: Record<string, unknown>): string | null {
  if (typeof header.clusterId !== 'string') return 'clusterId is not a string';
  if (!isCount(header.index) || !isCount(header.term)) return 'index or term is not a non-negative integer';
  if (!isIds(header.voters)) return 'voters are not a list of ids';
  if (header.learners !== undefined && !isIds(header.learners)) return 'learners are not a list of ids';
  if (typeof header.created !== 'string') return 'created is not a string';
  if (!isCount(header.dataBytes)) return 'dataBytes is not a non-negative integer';
  if (!isCount(header.dataCrc32) || (header.dataCrc32 as number) > 0xffffffff) return 'dataCrc32 is not a CRC-32';
  return null;
}

export interface RestoreResult {
  readonly identity: ClusterIdentity;
  readonly header: BackupHeader;
}

/**
 * Lays out a new cluster of `nodes` nodes in `dataDir` from a backup: refused if the folder already holds a
 * cluster (restore into a new folder, as etcd requires). Each node folder gets the backup as its snapshot,
 * the configuration being the new cluster's voters (no learners, and no addresses: the new cluster's transport
 * gives them); the cluster gets a new id.
 */
export function restoreBackup(backup: Backup, dataDir: string, nodes: number): RestoreResult {
  if (recordedNodes(dataDir) !== null || (nodeFs.existsSync(dataDir) && nodeFs.readdirSync(dataDir).length > 0)) {
    throw new StorageError('STORAGE_DIR_CLUSTER', `${dataDir} is not empty: restore into a new folder`);
  }
  const { identity } = openClusterIdentity(dataDir, nodes);
  const voters = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const membership: Membership = { voters, learners: [] };
  const files = new NodeFileSystem({ durable: true, bufferUnsynced: false });
  for (const id of voters) {
    const dir = path.join(dataDir, id);
    checkNodeIdentity(dir, id, identity);
    new SnapshotStore(files, path.join(dir, 'snap')).save(
      { index: backup.header.index, term: backup.header.term, membership },
      backup.data,
    );
  }
  return { identity, header: backup.header };
}
