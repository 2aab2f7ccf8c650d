import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The few file operations storage needs. Two implementations: the real disk (NodeFileSystem, whose files hold
 * unsynced writes in the process so that a kill loses them) and an in-memory disk that loses unsynced writes
 * on a simulated crash (FaultyFileSystem).
 */
export interface StorageFile {
  readonly path: string;
  /**
   * The caller leaves `data` unchanged until the next sync, truncate or close of this file: a file may hold
   * it until then, not a copy (copying each record cost up to 0.8 µs per 100 B entry, bench/storage.bench.ts).
   */
  write(data: Uint8Array, position: number): void;
  read(position: number, length: number): Uint8Array;
  size(): number;
  /** fdatasync, blocking. */
  sync(): void;
  /** fdatasync off the event loop (libuv's thread pool), so the caller keeps working meanwhile. */
  syncAsync(): Promise<void>;
  truncate(length: number): void;
  close(): void;
}

export interface FileSystem {
  open(file: string, options: { create: boolean }): StorageFile;
  exists(file: string): boolean;
  list(dir: string): string[];
  mkdirp(dir: string): void;
  rename(from: string, to: string): void;
  remove(file: string): void;
  /** fsync of a directory: makes file creations, renames and removals in it durable. */
  syncDir(dir: string): void;
  readFile(file: string): Uint8Array;
  /** Bytes free for this process on the volume holding `dir`, or null where that is not known. */
  freeBytes(dir: string): number | null;
}

class NodeFile implements StorageFile {
  constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly durable: boolean,
  ) {}

  write(data: Uint8Array, position: number): void {
    let written = 0;
    while (written < data.byteLength) {
      written += fs.writeSync(this.fd, data, written, data.byteLength - written, position + written);
    }
  }

  /** Buffers that follow each other on disk from `position`, in one writev when there are several. */
  writeRun(buffers: readonly Uint8Array[], position: number): void {
    const only = buffers[0];
    if (buffers.length === 1 && only !== undefined) {
      this.write(only, position);
      return;
    }
    const total = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
    const written = fs.writevSync(this.fd, buffers as Uint8Array[], position);
    if (written === total) return;
    // A short writev (rare on a regular file): the rest, buffer by buffer.
    let offset = 0;
    for (const buffer of buffers) {
      const end = offset + buffer.byteLength;
      if (end > written) {
        const from = Math.max(0, written - offset);
        this.write(buffer.subarray(from), position + offset + from);
      }
      offset = end;
    }
  }

  read(position: number, length: number): Uint8Array {
    const out = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = fs.readSync(this.fd, out, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got === length ? out : out.subarray(0, got);
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  sync(): void {
    if (this.durable) fs.fdatasyncSync(this.fd);
  }

  syncAsync(): Promise<void> {
    if (!this.durable) return Promise.resolve();
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (error) => (error ? reject(error) : resolve())));
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** At most this many buffers go to one writev (Linux's IOV_MAX). */
const WRITEV_BUFFERS_MAX = 1024;

/**
 * A file whose writes stay in this process until synced, so that killing the process (a worker's terminate,
 * SIGKILL) loses them, as a crash of the machine would: the page cache survives a process kill, so with
 * plain writes a kill would lose nothing, and a missing sync could go unnoticed. `sync` and `syncAsync` hand
 * the held writes to the OS (contiguous ones as one writev) and then fdatasync; `close` hands them over too
 * (a clean close), without a sync of its own. A read or truncate hands them over first: no storage path reads
 * or truncates a file while it holds unsynced writes to it, so this costs the loss nothing in practice.
 */
class BufferedNodeFile implements StorageFile {
  private pending: { data: Uint8Array; position: number }[] = [];

  constructor(private readonly file: NodeFile) {}

  get path(): string {
    return this.file.path;
  }

  write(data: Uint8Array, position: number): void {
    // Held as it is, not copied: StorageFile.write's callers leave it unchanged until the next sync.
    this.pending.push({ data, position });
  }

  read(position: number, length: number): Uint8Array {
    this.flush();
    return this.file.read(position, length);
  }

  size(): number {
    let end = this.file.size();
    for (const write of this.pending) end = Math.max(end, write.position + write.data.byteLength);
    return end;
  }

  sync(): void {
    this.flush();
    this.file.sync();
  }

  syncAsync(): Promise<void> {
    this.flush();
    return this.file.syncAsync();
  }

  truncate(length: number): void {
    this.flush();
    this.file.truncate(length);
  }

  close(): void {
    this.flush();
    this.file.close();
  }

  /** Hands the held writes to the OS in order; a run of contiguous ones (a WAL's records) is one writev. */
  private flush(): void {
    const pending = this.pending;
    this.pending = [];
    let runStart = 0;
    while (runStart < pending.length) {
      const first = pending[runStart] as { data: Uint8Array; position: number };
      let runEnd = runStart + 1;
      let end = first.position + first.data.byteLength;
      while (runEnd < pending.length && runEnd - runStart < WRITEV_BUFFERS_MAX) {
        const next = pending[runEnd] as { data: Uint8Array; position: number };
        if (next.position !== end) break;
        end += next.data.byteLength;
        runEnd++;
      }
      this.file.writeRun(
        pending.slice(runStart, runEnd).map((write) => write.data),
        first.position,
      );
      runStart = runEnd;
    }
  }
}

export interface NodeFileSystemOptions {
  /**
   * False skips every fsync: for `--memory` clusters in /dev/shm, where nothing is meant to survive the
   * machine. Their writes are still held until `sync` (with bufferUnsynced, the default), which then hands
   * them to the files in /dev/shm: a killed node loses what it had not synced, as a node on disk does, and
   * keeps the rest, as a RAM disk outlives the crash of a process (not of the machine).
   */
  readonly durable: boolean;
  /**
   * True (the default): writes stay in the process until synced, so a kill loses them as a crash would
   * (BufferedNodeFile). False: writes go to the OS at once, so a killed process loses nothing it wrote (the
   * page cache keeps it); for measuring what holding them costs, and for tools that run no node.
   */
  readonly bufferUnsynced?: boolean;
}

export class NodeFileSystem implements FileSystem {
  constructor(private readonly options: NodeFileSystemOptions = { durable: true }) {}

  open(file: string, options: { create: boolean }): StorageFile {
    const flags = options.create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR;
    const handle = new NodeFile(file, fs.openSync(file, flags, 0o644), this.options.durable);
    return this.options.bufferUnsynced === false ? handle : new BufferedNodeFile(handle);
  }

  exists(file: string): boolean {
    return fs.existsSync(file);
  }

  list(dir: string): string[] {
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  }

  mkdirp(dir: string): void {
    if (fs.existsSync(dir)) return;
    fs.mkdirSync(dir, { recursive: true });
    this.syncDir(path.dirname(dir));
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  remove(file: string): void {
    fs.rmSync(file, { force: true });
  }

  syncDir(dir: string): void {
    if (!this.options.durable) return;
    const fd = fs.openSync(dir, fs.constants.O_RDONLY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  readFile(file: string): Uint8Array {
    return fs.readFileSync(file);
  }

  freeBytes(dir: string): number | null {
    try {
      const stats = fs.statfsSync(dir);
      return stats.bavail * stats.bsize;
    } catch {
      return null;
    }
  }
}
