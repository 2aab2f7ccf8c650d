// The faults of a node's disk as the supervisor sets them (NodeControl.setDiskFaults, POST /v1/faults/disk,
// scenarios): the node's file system carries them out (FaultInjectingFileSystem in src/storage/disk-faults.ts,
// which has the same fields: storage imports nothing from this room).

/** A sick disk. Setting names only what changes; `DISK_FAULTS_NONE` is a healthy disk. */
export interface DiskFaults {
  /** Extra time every fsync takes, in ms: a slow disk (tens of ms) or a stall (seconds). 0: none. */
  readonly syncDelayMs: number;
  /** The next this-many fsyncs fail with EIO (after their delay): the node crashes and restarts from its disk. */
  readonly syncErrors: number;
  /** The next this-many writes fail with EIO: the node crashes and restarts from its disk. */
  readonly writeErrors: number;
  /**
   * Bytes the disk can still take (growing a file takes space, overwriting it does not, removing a file gives its
   * size back); a write past it fails with ENOSPC. The node reports at most this much free. null: the real disk.
   */
  readonly spaceBytes: number | null;
  /** Renames report success and do nothing: a disk that loses them. */
  readonly loseRenames: boolean;
}

export const DISK_FAULTS_NONE: DiskFaults = Object.freeze({
  syncDelayMs: 0,
  syncErrors: 0,
  writeErrors: 0,
  spaceBytes: null,
  loseRenames: false,
});

/** Rot at rest: a bit flipped, or the file cut short, at a seeded place in the written part of the newest file. */
export interface DiskRot {
  readonly target: 'wal' | 'snapshot';
  readonly kind: 'flip' | 'truncate';
}

/** What rot did: the file, and the offset of the flipped byte or of the cut. */
export interface DiskRotReport {
  readonly file: string;
  readonly offset: number;
  readonly kind: DiskRot['kind'];
}

/** A node's disk faults now, and how many of each it has injected since it started. */
export interface DiskFaultsStatus {
  readonly faults: DiskFaults;
  readonly injected: {
    readonly syncsDelayed: number;
    readonly syncErrors: number;
    readonly writeErrors: number;
    readonly noSpace: number;
    readonly renamesLost: number;
  };
}

/** A stall of an hour is a dead disk, not a slow one. */
export const DISK_SYNC_DELAY_MS_MAX = 3_600_000;
/** Errors queued at once. */
export const DISK_ERRORS_MAX = 1_000_000;

/** Checks a partial setting field by field (from HTTP or a scenario); throws a RangeError naming the field. */
export function validateDiskFaults(input: Readonly<Record<string, unknown>>): Partial<DiskFaults> {
  const out: { -readonly [K in keyof DiskFaults]?: DiskFaults[K] } = {};
  const integer = (name: string, max: number): number | undefined => {
    const value = input[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
      throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const known = new Set(['syncDelayMs', 'syncErrors', 'writeErrors', 'spaceBytes', 'loseRenames']);
  for (const key of Object.keys(input)) if (!known.has(key)) throw new RangeError(`unknown disk fault '${key}'`);
  const syncDelayMs = integer('syncDelayMs', DISK_SYNC_DELAY_MS_MAX);
  if (syncDelayMs !== undefined) out.syncDelayMs = syncDelayMs;
  const syncErrors = integer('syncErrors', DISK_ERRORS_MAX);
  if (syncErrors !== undefined) out.syncErrors = syncErrors;
  const writeErrors = integer('writeErrors', DISK_ERRORS_MAX);
  if (writeErrors !== undefined) out.writeErrors = writeErrors;
  if (input.spaceBytes === null) out.spaceBytes = null;
  else {
    const spaceBytes = integer('spaceBytes', Number.MAX_SAFE_INTEGER);
    if (spaceBytes !== undefined) out.spaceBytes = spaceBytes;
  }
  if (input.loseRenames !== undefined) {
    if (typeof input.loseRenames !== 'boolean') throw new RangeError(`loseRenames must be true or false`);
    out.loseRenames = input.loseRenames;
  }
  return out;
}
