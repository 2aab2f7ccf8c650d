import * as path from 'node:path';
import type { CrashRandom } from './faulty-file-system.js';
import type { FileSystem, StorageFile } from './file-system.js';

/** The faults of a sick disk: the fields of DiskFaults in src/protocol/disk-faults.ts, documented there. */
export interface DiskFaults {
  readonly syncDelayMs: number;
  readonly syncErrors: number;
  readonly writeErrors: number;
  readonly spaceBytes: number | null;
  readonly loseRenames: boolean;
}

const HEALTHY: DiskFaults = { syncDelayMs: 0, syncErrors: 0, writeErrors: 0, spaceBytes: null, loseRenames: false };

/** What rot at rest did: which file, which byte, and what happened to it. */
export interface RotReport {
  readonly file: string;
  readonly offset: number;
  /** `flip`: one bit of the byte at `offset` inverted; `truncate`: the file cut to `offset` bytes. */
  readonly kind: 'flip' | 'truncate';
}

function systemError(code: 'EIO' | 'ENOSPC', syscall: string, file: string): Error {
  const message = code === 'EIO' ? 'i/o error' : 'no space left on device';
  return Object.assign(new Error(`${code}: ${message}, ${syscall} '${file}' (injected disk fault)`), { code, syscall, path: file });
}

interface StalledSync {
  readonly startedAt: number;
  readonly file: string;
  timer: ReturnType<typeof setTimeout> | null;
  readonly run: () => void;
}

/**
 * A file system wrapped with the faults of a sick disk (issue 18): slow and stalled fsyncs, EIO on fsync or
 * write, a full disk, lost renames, and rot at rest (a flipped bit, a truncated file). With no faults set it
 * passes every call through. A stall set while syncs are waiting applies to them too, and lifting it lets
 * them finish at once: each waits until its start plus the delay now in force. A blocking sync stalls its
 * thread, as a blocked fdatasync would.
 */
export class FaultInjectingFileSystem implements FileSystem {
  private faults: DiskFaults = HEALTHY;
  private readonly stalled = new Set<StalledSync>();
  /** Counted since the fault was set; for the metrics and the report of POST /v1/faults/disk. */
  readonly injected = { syncsDelayed: 0, syncErrors: 0, writeErrors: 0, noSpace: 0, renamesLost: 0 };

  constructor(
    private readonly inner: FileSystem,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): DiskFaults {
    return this.faults;
  }

  set(faults: Partial<DiskFaults>): DiskFaults {
    this.faults = { ...this.faults, ...faults };
    for (const sync of this.stalled) this.schedule(sync);
    return this.faults;
  }

  open(file: string, options: { create: boolean }): StorageFile {
    const existed = this.inner.exists(file);
    if (!existed && options.create) this.take(1, 'open', file);
    return this.wrap(this.inner.open(file, options));
  }

  exists(file: string): boolean {
    return this.inner.exists(file);
  }

  list(dir: string): string[] {
    return this.inner.list(dir);
  }

  mkdirp(dir: string): void {
    this.inner.mkdirp(dir);
  }

  rename(from: string, to: string): void {
    if (this.faults.loseRenames) {
      this.injected.renamesLost++;
      return;
    }
    this.inner.rename(from, to);
  }

  remove(file: string): void {
    if (this.faults.spaceBytes !== null && this.inner.exists(file)) {
      const handle = this.inner.open(file, { create: false });
      const size = handle.size();
      handle.close();
      this.faults = { ...this.faults, spaceBytes: this.faults.spaceBytes + size };
    }
    this.inner.remove(file);
  }

  syncDir(dir: string): void {
    this.blockingSync(dir, () => this.inner.syncDir(dir));
  }

  readFile(file: string): Uint8Array {
    return this.inner.readFile(file);
  }

  freeBytes(dir: string): number | null {
    const real = this.inner.freeBytes(dir);
    const left = this.faults.spaceBytes;
    if (left === null) return real;
    return real === null ? left : Math.min(real, left);
  }

  /**
   * Rot at rest: flips one bit, or cuts the file, at a seeded place in the newest file of `dir` whose name ends
   * in `suffix`, within the range `written` gives (for a WAL segment: its records, or its last one). The
   * running node is not told: it finds out when it next reads the file (at its next start).
   */
  rot(
    dir: string,
    suffix: string,
    kind: RotReport['kind'],
    random: CrashRandom,
    written?: (data: Uint8Array) => readonly [start: number, end: number],
  ): RotReport {
    const name = this.inner
      .list(dir)
      .filter((n) => n.endsWith(suffix))
      .at(-1);
    if (name === undefined) throw new RangeError(`no ${suffix} file in ${dir} to rot`);
    const file = path.join(dir, name);
    const data = this.inner.readFile(file);
    const [start, end] = written?.(data) ?? [0, data.byteLength];
    // A cut keeps at least a byte: a file cut to nothing is a lost file, which recovery cannot see (STORAGE.md).
    const from = kind === 'flip' ? start : Math.max(1, start);
    if (end <= from) throw new RangeError(`${file} holds too little written to rot`);
    const offset = random.int(from, end);
    const handle = this.inner.open(file, { create: false });
    try {
      if (kind === 'flip') handle.write(Uint8Array.of((data[offset] as number) ^ (1 << random.int(0, 8))), offset);
      else handle.truncate(offset);
      handle.sync();
    } finally {
      handle.close();
    }
    return { file, offset, kind };
  }

  // -------------------------------------------------------------------------

  /** Takes `bytes` of the space left, or fails with ENOSPC. */
  private take(bytes: number, syscall: string, file: string): void {
    const left = this.faults.spaceBytes;
    if (left === null || bytes <= 0) return;
    if (bytes > left) {
      this.injected.noSpace++;
      throw systemError('ENOSPC', syscall, file);
    }
    this.faults = { ...this.faults, spaceBytes: left - bytes };
  }

  private failWrite(file: string): void {
    if (this.faults.writeErrors <= 0) return;
    this.faults = { ...this.faults, writeErrors: this.faults.writeErrors - 1 };
    this.injected.writeErrors++;
    throw systemError('EIO', 'write', file);
  }

  /** The error the next fsync fails with, if it is to fail; counts it. */
  private syncError(file: string): Error | null {
    if (this.faults.syncErrors <= 0) return null;
    this.faults = { ...this.faults, syncErrors: this.faults.syncErrors - 1 };
    this.injected.syncErrors++;
    return systemError('EIO', 'fdatasync', file);
  }

  private blockingSync(file: string, sync: () => void): void {
    const delay = this.faults.syncDelayMs;
    if (delay > 0) {
      this.injected.syncsDelayed++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
    }
    const error = this.syncError(file);
    if (error !== null) throw error;
    sync();
  }

  private asyncSync(file: string, sync: () => Promise<void>): Promise<void> {
    if (this.faults.syncDelayMs <= 0) {
      const error = this.syncError(file);
      return error === null ? sync() : Promise.reject(error);
    }
    this.injected.syncsDelayed++;
    return new Promise<void>((resolve, reject) => {
      const stalled: StalledSync = {
        startedAt: this.now(),
        file,
        timer: null,
        run: () => {
          this.stalled.delete(stalled);
          const error = this.syncError(file);
          if (error !== null) reject(error);
          else sync().then(resolve, reject);
        },
      };
      this.stalled.add(stalled);
      this.schedule(stalled);
    });
  }

  private schedule(sync: StalledSync): void {
    if (sync.timer !== null) clearTimeout(sync.timer);
    const wait = Math.max(0, sync.startedAt + this.faults.syncDelayMs - this.now());
    sync.timer = setTimeout(sync.run, wait);
  }

  private wrap(file: StorageFile): StorageFile {
    return {
      path: file.path,
      write: (data, position) => {
        this.failWrite(file.path);
        const left = this.faults.spaceBytes;
        // The hot path when the disk is healthy: no size asked (an fstat, and a walk of the held writes).
        if (left === null) return file.write(data, position);
        const growth = position + data.byteLength - file.size();
        if (growth > left) {
          // As a real disk does: what fits is written, then the write fails.
          const fits = data.byteLength - (growth - left);
          if (fits > 0) file.write(data.subarray(0, fits), position);
          this.faults = { ...this.faults, spaceBytes: 0 };
          this.injected.noSpace++;
          throw systemError('ENOSPC', 'write', file.path);
        }
        this.take(growth, 'write', file.path);
        file.write(data, position);
      },
      read: (position, length) => file.read(position, length),
      size: () => file.size(),
      sync: () => this.blockingSync(file.path, () => file.sync()),
      syncAsync: () => this.asyncSync(file.path, () => file.syncAsync()),
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
  }
}
