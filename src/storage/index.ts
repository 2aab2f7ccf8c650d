export { DiskStorage, type DiskStorageOptions } from './disk-storage.js';
export { MemoryStorage } from './memory-storage.js';
export { StorageError, type StorageErrorCode } from './errors.js';
export { NodeFileSystem, type FileSystem, type StorageFile } from './file-system.js';
export { FaultyFileSystem, type CrashRandom } from './faulty-file-system.js';
export { SnapshotStore, readAllSnapshot } from './snapshot-store.js';
export { WriteAheadLog, WAL_DEFAULTS, type WalOptions, type WalRecovery } from './wal.js';
export type { PersistBatch, RaftStorage } from './types.js';
