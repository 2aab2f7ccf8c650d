import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The few file operations storage needs. Two implementations: the real disk (NodeFileSystem) and an
 * in-memory disk that loses unsynced writes on a simulated crash (FaultyFileSystem).
 */
export interface StorageFile {
  readonly path: string;
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

/**
 * A file whose writes stay in this process until synced, so that killing the process loses them, as power
 * loss would (the page cache survives a process kill). Chaos scenarios use it for "kill with loss of
 * unsynced writes".
 */
class BufferedNodeFile implements StorageFile {
  private pending: { data: Uint8Array; position: number }[] = [];

  constructor(private readonly file: NodeFile) {}

  get path(): string {
    return this.file.path;
  }

  write(data: Uint8Array, position: number): void {
    this.pending.push({ data: data.slice(), position });
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

  private flush(): void {
    for (const write of this.pending) this.file.write(write.data, write.position);
    this.pending = [];
  }
}

export interface NodeFileSystemOptions {
  /** False skips every fsync: for `--memory` clusters in /dev/shm, where nothing is meant to survive the machine. */
  readonly durable: boolean;
  /** Hold writes in the process until synced, so a killed worker loses them (chaos testing). */
  readonly bufferUnsynced?: boolean;
}

export class NodeFileSystem implements FileSystem {
  constructor(private readonly options: NodeFileSystemOptions = { durable: true }) {}

  open(file: string, options: { create: boolean }): StorageFile {
    const flags = options.create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR;
    const handle = new NodeFile(file, fs.openSync(file, flags, 0o644), this.options.durable);
    return this.options.bufferUnsynced === true ? new BufferedNodeFile(handle) : handle;
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
}
