/**
 * Stable codes for storage failures. A node that sees one of these must not vote or lead: it stops. Each is
 * registered in src/protocol/errors.ts (checked by test/unit/error-registry.test.ts: storage imports
 * nothing above the core, so the check is a test rather than a type).
 */
export const STORAGE_ERROR_CODES = [
  'STORAGE_CORRUPT_RECORD',
  'STORAGE_MISSING_SEGMENT',
  'STORAGE_LOG_GAP',
  'STORAGE_SNAPSHOT_CORRUPT',
  'STORAGE_BAD_PATH',
  'STORAGE_RECORD_TOO_LARGE',
  'STORAGE_CLOSED',
  'STORAGE_DIR_LOCKED',
  'STORAGE_DIR_FORMAT',
  'STORAGE_DIR_CLUSTER',
  'STORAGE_BACKUP_INVALID',
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly file: string | null;
  readonly offset: number | null;

  constructor(code: StorageErrorCode, message: string, where: { file?: string; offset?: number } = {}) {
    const location = where.file === undefined ? '' : ` (${where.file}${where.offset === undefined ? '' : ` at offset ${where.offset}`})`;
    super(`${code}: ${message}${location}`);
    this.name = 'StorageError';
    this.code = code;
    this.file = where.file ?? null;
    this.offset = where.offset ?? null;
  }
}
