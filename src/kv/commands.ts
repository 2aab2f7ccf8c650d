// The commands and queries of the KV state machine, and how a batch of them travels in one log entry.
import { Packr } from 'msgpackr';

/** Keys and values are bytes; keys are held internally as latin1 strings (one char per byte, lossless). */
export type KvCommand =
  | {
      readonly op: 'put';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      /** Compare-and-set on the key's last-modified index; 0 = the key must not exist. */
      readonly ifIndex?: number;
      /** Redis NX / XX. */
      readonly ifAbsent?: boolean;
      readonly ifExists?: boolean;
      /** Answer with the previous value (Redis SET ... GET). */
      readonly returnPrevious?: boolean;
    }
  | { readonly op: 'delete'; readonly keys: readonly Uint8Array[] }
  | { readonly op: 'incr'; readonly key: Uint8Array; readonly by: number }
  | { readonly op: 'mput'; readonly pairs: readonly (readonly [Uint8Array, Uint8Array])[] };

/** The key and value bytes a command carries (its encoded entry adds a small, bounded overhead). */
export function commandBytes(command: KvCommand): number {
  switch (command.op) {
    case 'put':
      return command.key.byteLength + command.value.byteLength;
    case 'delete':
    case 'incr': {
      const keys = command.op === 'incr' ? [command.key] : command.keys;
      let bytes = 0;
      for (const key of keys) bytes += key.byteLength;
      return bytes;
    }
    case 'mput': {
      let bytes = 0;
      for (const [key, value] of command.pairs) bytes += key.byteLength + value.byteLength;
      return bytes;
    }
  }
}

export type KvQuery =
  | { readonly op: 'get'; readonly keys: readonly Uint8Array[] }
  | { readonly op: 'exists'; readonly keys: readonly Uint8Array[] }
  | { readonly op: 'scan'; readonly prefix: Uint8Array; readonly after: Uint8Array | null; readonly limit: number }
  | { readonly op: 'size' }
  | { readonly op: 'digest' }
  /** Many reads answered by one ReadIndex round. */
  | { readonly op: 'batch'; readonly queries: readonly KvQuery[] };

export interface KvItem {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly index: number;
}

/**
 * The codes a command may fail with; each is registered in src/protocol/errors.ts (checked by
 * test/unit/error-registry.test.ts: kv imports nothing above the core).
 */
export const KV_RESULT_CODES = ['CAS_FAILED', 'CONDITION_NOT_MET', 'NOT_AN_INTEGER', 'SESSION_EXPIRED', 'SESSION_LIMIT'] as const;
export type KvResultCode = (typeof KV_RESULT_CODES)[number];

/** Results are plain data: they cross MessagePorts and are cached in client sessions (snapshotted). */
export type KvResult =
  | { readonly ok: true; readonly index: number; readonly previous?: KvItem | null; readonly deleted?: number; readonly value?: number }
  | { readonly ok: false; readonly code: KvResultCode; readonly index: number; readonly message: string };

export type KvQueryResult =
  | { readonly op: 'get'; readonly items: readonly (KvItem | null)[] }
  | { readonly op: 'exists'; readonly count: number }
  | { readonly op: 'scan'; readonly items: readonly KvItem[]; readonly more: boolean }
  | { readonly op: 'size'; readonly keys: number }
  | { readonly op: 'digest'; readonly keys: number; readonly checksum: number; readonly commands: number }
  | { readonly op: 'batch'; readonly results: readonly KvQueryResult[] };

/** One client session's command: the session id, its sequence number, and the highest sequence it has seen answered. */
export interface SessionCommand {
  readonly session: string;
  readonly seq: number;
  readonly ack: number;
  readonly command: KvCommand;
}

/** A batch of commands proposed as one log entry, stamped with the leader-side time (for session expiry). */
export interface CommandBatch {
  readonly timeMs: number;
  readonly commands: readonly SessionCommand[];
}

const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeBatch(batch: CommandBatch): Uint8Array {
  return packr.pack(batch);
}

export function decodeBatch(data: Uint8Array): CommandBatch {
  const batch = packr.unpack(data) as CommandBatch;
  if (typeof batch !== 'object' || batch === null || !Array.isArray(batch.commands) || typeof batch.timeMs !== 'number') {
    throw new TypeError('not a command batch');
  }
  return batch;
}

export { packr as kvPackr };
