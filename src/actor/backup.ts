// A backup of a running cluster, taken from one node (src/storage/backup.ts has the file format): the node's
// state machine as of its applied index, with the cluster's id in the header. The caller (GET /v1/snapshot)
// has that node confirm its leadership with a ReadIndex first, so every write acknowledged before is in it.
import type { NodeId } from '../raft/types.js';
import { encodeBackup } from '../storage/backup.js';
import type { Supervisor } from './supervisor.js';

export async function backupOf(supervisor: Supervisor, id: NodeId): Promise<Uint8Array> {
  const snapshot = await supervisor.exportSnapshot(id);
  return encodeBackup(snapshot.meta, snapshot.data, supervisor.identity?.clusterId ?? 'unknown');
}
