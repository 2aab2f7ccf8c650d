import type { Entry, HardState } from '../../src/raft/types.js';
import { StorageError } from '../../src/storage/errors.js';

/** A command entry whose bytes follow from its index and term, so a wrong or torn entry shows. */
export function command(index: number, term: number, sizeBytes = 8): Entry {
  const data = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { type: 'command', index, term, data };
}

export function commands(first: number, count: number, term: number, sizeBytes = 8): Entry[] {
  return Array.from({ length: count }, (_, i) => command(first + i, term, sizeBytes));
}

export function hardState(term: number, commitIndex = 0, votedFor: string | null = 'n1'): HardState {
  return { term, votedFor, commitIndex };
}

/** The StorageError `action` throws; anything else it throws, or nothing, fails the test. */
export function storageErrorOf(action: () => unknown): StorageError {
  try {
    action();
  } catch (error) {
    if (error instanceof StorageError) return error;
    throw error;
  }
  throw new Error('expected a StorageError, but nothing was thrown');
}
