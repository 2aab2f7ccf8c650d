/**
 * `raftkv snapshot save|restore|status`: backups of a running cluster and new clusters made from them, after
 * `etcdctl snapshot save/restore/status`. The file format is src/storage/backup.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CLUSTER_NODES_MAX } from '../actor/supervisor.js';
import { decodeBackup, restoreBackup, type BackupHeader } from '../storage/backup.js';
import { writeFileDurably } from '../storage/data-dir.js';
import { UsageError } from './usage-error.js';

export const SNAPSHOT_USAGE = `usage: raftkv snapshot save FILE [--endpoint URL] [--admin-token T]
       raftkv snapshot restore FILE --data-dir DIR [--nodes N]
       raftkv snapshot status FILE
  save      a backup of the running cluster at --endpoint (default http://127.0.0.1:7379): the leader's state
            as of one index, after it confirmed its leadership, so every write acknowledged before is in it;
            written to a temporary file, fsynced, then renamed to FILE. --admin-token (or RAFTKV_ADMIN_TOKEN) when
            the cluster has one
  restore   lays out a new cluster of N nodes (default 3) in DIR, which must be empty or absent, from FILE:
            a new cluster id, every node starting from the backup; then: raftkv cluster --data-dir DIR --nodes N
  status    checks FILE (magic, checksums, length) and prints what it holds
  A corrupt or truncated file is refused (STORAGE_BACKUP_INVALID), exit 65.`;

/** sysexits' EX_DATAERR: the backup file is not a whole, intact one. */
export const EXIT_BAD_BACKUP = 65;
/** How long a save may wait for the cluster's answer: a big state takes a while to send. */
const SAVE_TIMEOUT_MS = 120_000;

function describe(header: BackupHeader, bytes: number): string {
  return (
    `cluster ${header.clusterId}, index ${header.index}, term ${header.term}, voters ${header.voters.join(',')}, ` +
    `${bytes.toLocaleString('en-US')} bytes (data ${header.dataBytes.toLocaleString('en-US')}), taken ${header.created}`
  );
}

/** Runs `raftkv snapshot ...`; returns the exit code. A StorageError (a bad file, a folder in use) is thrown to main. */
export async function runSnapshotCommand(argv: readonly string[], out: (line: string) => void = console.log): Promise<number> {
  const [verb, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        endpoint: { type: 'string', default: 'http://127.0.0.1:7379' },
        'admin-token': { type: 'string' },
        'data-dir': { type: 'string' },
        nodes: { type: 'string', default: '3' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, SNAPSHOT_USAGE);
  }
  const { values, positionals } = parsed;
  const file = positionals[0];
  if (file === undefined || positionals.length > 1) throw new UsageError('give exactly one FILE', SNAPSHOT_USAGE);
  switch (verb) {
    case 'save': {
      const token = values['admin-token'] ?? process.env.RAFTKV_ADMIN_TOKEN ?? null;
      const url = new URL('/v1/snapshot', values.endpoint);
      const response = await fetch(url, {
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(SAVE_TIMEOUT_MS),
      }).catch((error: unknown) => {
        throw new Error(`cannot reach ${url.origin}: ${(error as Error).message}`);
      });
      const body = new Uint8Array(await response.arrayBuffer());
      if (response.status !== 200) {
        throw new Error(`${url.href} answered ${response.status}: ${Buffer.from(body).toString('utf8').slice(0, 500)}`);
      }
      // Checked before it is kept: a backup that cannot be restored is worse than none.
      const backup = decodeBackup(body, url.href);
      writeFileDurably(file, body);
      out(`saved ${file}: ${describe(backup.header, body.byteLength)}`);
      return 0;
    }
    case 'restore': {
      const dataDir = values['data-dir'];
      if (dataDir === undefined) throw new UsageError('restore needs --data-dir DIR (a new folder)', SNAPSHOT_USAGE);
      const nodes = Number(values.nodes);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > CLUSTER_NODES_MAX)
        throw new UsageError(`--nodes must be an integer from 1 to ${CLUSTER_NODES_MAX}, got ${values.nodes}`, SNAPSHOT_USAGE);
      const backup = decodeBackup(fs.readFileSync(file), file);
      const restored = restoreBackup(backup, path.resolve(dataDir), nodes);
      out(
        `restored ${file} (cluster ${backup.header.clusterId}, index ${backup.header.index}) into ${dataDir}: ` +
          `a new cluster ${restored.identity.clusterId} of ${nodes} nodes; start it with raftkv cluster --data-dir ${dataDir} --nodes ${nodes}`,
      );
      return 0;
    }
    case 'status': {
      const bytes = fs.readFileSync(file);
      const backup = decodeBackup(bytes, file);
      out(`${file}: ok, ${describe(backup.header, bytes.byteLength)}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown snapshot command ${verb ?? '(none)'}`, SNAPSHOT_USAGE);
  }
}
