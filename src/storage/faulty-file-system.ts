import * as path from 'node:path';
import type { FileSystem, StorageFile } from './file-system.js';

/** A deterministic source of choices for crash outcomes (the simulator passes its seeded PRNG). */
export interface CrashRandom {
  /** An integer in [min, max). */
  int(min: number, max: number): number;
}

interface PendingWrite {
  readonly position: number;
  readonly data: Uint8Array;
}

/** A byte array that grows by doubling, so appends cost their own size. */
class Bytes {
  private buffer = new Uint8Array(64);
  length = 0;

  write(position: number, data: Uint8Array): void {
    this.ensure(position + data.byteLength);
    this.buffer.set(data, position);
    this.length = Math.max(this.length, position + data.byteLength);
  }

  truncate(length: number): void {
    this.ensure(length);
    if (length < this.length) this.buffer.fill(0, length, this.length);
    this.length = length;
  }

  view(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  copy(): Bytes {
    const out = new Bytes();
    out.write(0, this.view());
    return out;
  }

  flip(offset: number, bit: number): void {
    this.buffer[offset] = (this.buffer[offset] as number) ^ (1 << bit);
  }

  private ensure(length: number): void {
    if (length <= this.buffer.byteLength) return;
    let capacity = this.buffer.byteLength;
    while (capacity < length) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }
}

type PendingOp = PendingWrite | { readonly truncate: number };

class Inode {
  durable = new Bytes();
  current = new Bytes();
  pending: PendingOp[] = [];

  applyToDurable(op: PendingOp, partialBytes?: number): void {
    if ('truncate' in op) this.durable.truncate(op.truncate);
    else this.durable.write(op.position, partialBytes === undefined ? op.data : op.data.subarray(0, partialBytes));
  }
}

type DirOp = { readonly kind: 'link'; readonly file: string; readonly inode: Inode } | { readonly kind: 'unlink'; readonly file: string };

/**
 * An in-memory disk with the failure modes of a real one: writes are lost on a crash unless synced (a
 * random prefix of them survives, the last one possibly torn mid-way); file creations, renames and removals
 * are lost unless their directory was synced; bits can be flipped on purpose.
 */
export class FaultyFileSystem implements FileSystem {
  private readonly current = new Map<string, Inode>();
  private readonly durable = new Map<string, Inode>();
  private readonly dirs = new Set<string>(['/']);
  private readonly pendingDirOps = new Map<string, DirOp[]>();
  syncCount = 0;

  open(file: string, options: { create: boolean }): StorageFile {
    let inode = this.current.get(file);
    if (inode === undefined) {
      if (!options.create) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      inode = new Inode();
      this.link(file, inode);
    }
    return this.handle(file, inode);
  }

  exists(file: string): boolean {
    return this.current.has(file) || this.dirs.has(file);
  }

  list(dir: string): string[] {
    const names: string[] = [];
    for (const file of this.current.keys()) if (path.dirname(file) === dir) names.push(path.basename(file));
    return names.sort();
  }

  mkdirp(dir: string): void {
    for (let d = dir; !this.dirs.has(d); d = path.dirname(d)) this.dirs.add(d);
  }

  rename(from: string, to: string): void {
    const inode = this.current.get(from);
    if (inode === undefined) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' });
    this.unlink(from);
    this.link(to, inode);
  }

  remove(file: string): void {
    if (this.current.has(file)) this.unlink(file);
  }

  syncDir(dir: string): void {
    this.syncCount++;
    for (const op of this.pendingDirOps.get(dir) ?? []) this.applyDirOp(this.durable, op);
    this.pendingDirOps.delete(dir);
  }

  readFile(file: string): Uint8Array {
    const inode = this.current.get(file);
    if (inode === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return inode.current.view().slice();
  }

  /** Unbounded: a full disk is FaultInjectingFileSystem's `spaceBytes` over this one. */
  freeBytes(): number | null {
    return null;
  }

  /**
   * Power loss. For every file, a random prefix of its unsynced writes reaches the disk, the last of them
   * possibly only in part; for every directory, a random prefix of its unsynced changes. The rest is gone.
   */
  crash(random: CrashRandom, options: { torn: boolean }): void {
    for (const [dir, ops] of this.pendingDirOps) {
      const keep = options.torn ? random.int(0, ops.length + 1) : 0;
      for (const op of ops.slice(0, keep)) this.applyDirOp(this.durable, op);
      this.pendingDirOps.delete(dir);
    }
    const inodes = new Set([...this.current.values(), ...this.durable.values()]);
    for (const inode of inodes) {
      const keep = options.torn ? random.int(0, inode.pending.length + 1) : 0;
      for (let i = 0; i < keep; i++) {
        const op = inode.pending[i] as PendingOp;
        const torn = i === keep - 1 && !('truncate' in op) ? random.int(0, op.data.byteLength + 1) : undefined;
        inode.applyToDurable(op, torn);
      }
      inode.pending = [];
      inode.current = inode.durable.copy();
    }
    this.current.clear();
    for (const [file, inode] of this.durable) this.current.set(file, inode);
  }

  /**
   * A failed fsync as Linux does it ("fsyncgate"): the writes it was to make durable are dropped from the page
   * cache's care. The process still reads them, but they never reach the disk: a crash loses them even if a
   * later fsync succeeds.
   */
  loseUnsynced(): void {
    for (const inode of new Set([...this.current.values(), ...this.durable.values()])) inode.pending = [];
  }

  /** Flips one bit of a file, durably (bit rot, a bad sector, a stray write). */
  flipBit(file: string, offset: number, bit = 0): void {
    const inode = this.current.get(file);
    if (inode === undefined || offset >= inode.current.length) throw new RangeError(`cannot flip ${file}@${offset}`);
    for (const op of inode.pending) inode.applyToDurable(op);
    inode.pending = [];
    inode.current.flip(offset, bit);
    inode.durable = inode.current.copy();
  }

  private handle(file: string, inode: Inode): StorageFile {
    const sync = (): void => {
      this.syncCount++;
      for (const op of inode.pending) inode.applyToDurable(op);
      inode.pending = [];
    };
    return {
      path: file,
      write(data: Uint8Array, position: number): void {
        const copy = data.slice();
        inode.current.write(position, copy);
        inode.pending.push({ position, data: copy });
      },
      read(position: number, length: number): Uint8Array {
        const view = inode.current.view();
        return view.slice(position, Math.min(view.byteLength, position + length));
      },
      size(): number {
        return inode.current.length;
      },
      sync,
      syncAsync(): Promise<void> {
        sync();
        return Promise.resolve();
      },
      truncate(length: number): void {
        inode.current.truncate(length);
        inode.pending.push({ truncate: length });
      },
      close(): void {},
    };
  }

  private link(file: string, inode: Inode): void {
    const op: DirOp = { kind: 'link', file, inode };
    this.applyDirOp(this.current, op);
    this.queueDirOp(op);
  }

  private unlink(file: string): void {
    const op: DirOp = { kind: 'unlink', file };
    this.applyDirOp(this.current, op);
    this.queueDirOp(op);
  }

  private queueDirOp(op: DirOp): void {
    const dir = path.dirname(op.file);
    const ops = this.pendingDirOps.get(dir) ?? [];
    ops.push(op);
    this.pendingDirOps.set(dir, ops);
  }

  private applyDirOp(namespace: Map<string, Inode>, op: DirOp): void {
    if (op.kind === 'link') namespace.set(op.file, op.inode);
    else namespace.delete(op.file);
  }
}
