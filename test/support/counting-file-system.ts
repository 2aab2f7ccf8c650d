import type { FileSystem, StorageFile } from '../../src/storage/file-system.js';

/**
 * A FileSystem that counts the fsyncs of the one it wraps: the storage tests and bench/storage.bench.ts measure
 * group commit with it. A test hook, so it lives with the tests and not in src/.
 */
export class CountingFileSystem implements FileSystem {
  fileSyncs = 0;
  constructor(private readonly inner: FileSystem) {}

  open(file: string, options: { create: boolean }): StorageFile {
    const handle = this.inner.open(file, options);
    return {
      path: handle.path,
      write: (data, position) => handle.write(data, position),
      read: (position, length) => handle.read(position, length),
      size: () => handle.size(),
      sync: () => {
        this.fileSyncs++;
        handle.sync();
      },
      syncAsync: () => {
        this.fileSyncs++;
        return handle.syncAsync();
      },
      truncate: (length) => handle.truncate(length),
      close: () => handle.close(),
    };
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
    this.inner.rename(from, to);
  }
  remove(file: string): void {
    this.inner.remove(file);
  }
  syncDir(dir: string): void {
    this.inner.syncDir(dir);
  }
  readFile(file: string): Uint8Array {
    return this.inner.readFile(file);
  }
  freeBytes(dir: string): number | null {
    return this.inner.freeBytes(dir);
  }
}
