import * as path from 'node:path';
import type { FaultyFileSystem } from '../../src/storage/faulty-file-system.js';
import type { FileSystem, StorageFile } from '../../src/storage/file-system.js';

/** Thrown by PowerSwitchFileSystem when the power goes, in the middle of whatever storage was doing. */
export class PowerCut extends Error {
  constructor(readonly operation: string) {
    super(`power cut before ${operation}`);
  }
}

/**
 * Lets a fixed number of disk operations (writes, syncs, creations, renames, removals, directory syncs) through,
 * then cuts the power: that operation and every later one throw PowerCut, and the caller crashes the disk under
 * it. Each operation is named (`write snap/<file>`), so a test can say where its crash points fell. Counting on,
 * a run with no cut numbers the operations the cut runs then stop at, one by one.
 */
export class PowerSwitchFileSystem implements FileSystem {
  operationsLeft = Number.POSITIVE_INFINITY;
  /** The operations let through, named: kind, then the file relative to the root given. */
  readonly done: string[] = [];

  constructor(
    private readonly disk: FaultyFileSystem,
    private readonly root: string,
  ) {}

  /** True once an operation was refused: the node is dead, even if something caught the PowerCut. */
  cut = false;

  private operation(kind: string, file: string): void {
    const name = `${kind} ${path.relative(this.root, file)}`;
    if (this.operationsLeft <= 0) {
      this.cut = true;
      throw new PowerCut(name);
    }
    this.operationsLeft--;
    this.done.push(name);
  }

  open(file: string, options: { create: boolean }): StorageFile {
    if (options.create && !this.disk.exists(file)) this.operation('create', file);
    const handle = this.disk.open(file, options);
    return {
      path: handle.path,
      write: (data, position) => {
        this.operation('write', file);
        handle.write(data, position);
      },
      read: (position, length) => handle.read(position, length),
      size: () => handle.size(),
      sync: () => {
        this.operation('sync', file);
        handle.sync();
      },
      syncAsync: async () => {
        this.operation('sync', file);
        await handle.syncAsync();
      },
      truncate: (length) => {
        this.operation('truncate', file);
        handle.truncate(length);
      },
      close: () => handle.close(),
    };
  }

  exists(file: string): boolean {
    return this.disk.exists(file);
  }
  list(dir: string): string[] {
    return this.disk.list(dir);
  }
  mkdirp(dir: string): void {
    this.disk.mkdirp(dir);
  }
  rename(from: string, to: string): void {
    this.operation('rename', to);
    this.disk.rename(from, to);
  }
  remove(file: string): void {
    this.operation('remove', file);
    this.disk.remove(file);
  }
  syncDir(dir: string): void {
    this.operation('syncdir', dir);
    this.disk.syncDir(dir);
  }
  readFile(file: string): Uint8Array {
    return this.disk.readFile(file);
  }
  freeBytes(): number | null {
    return this.disk.freeBytes();
  }
}
