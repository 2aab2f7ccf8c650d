// Checks on what the storage readers hand the node once they accept a file: values of their types (the core
// trusts them: a NaN term or a fractional index would break it later, far from the file that held it).
import type { Entry, HardState, SnapshotMeta } from '../../../src/raft/types.js';
import { check } from '../target.js';

const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

export function checkHardState(hardState: HardState | null): void {
  if (hardState === null) return;
  check(isCount(hardState.term), `a recovered hard state with term ${hardState.term}`);
  check(isCount(hardState.commitIndex), `a recovered hard state with commit index ${hardState.commitIndex}`);
  check(hardState.votedFor === null || typeof hardState.votedFor === 'string', 'a recovered vote that is not a node id');
}

export function checkPosition(what: string, position: { readonly index: number; readonly term: number } | null): void {
  if (position === null) return;
  check(isCount(position.index) && isCount(position.term), `a recovered ${what} at index ${position.index}, term ${position.term}`);
}

export function checkEntries(entries: readonly Entry[]): void {
  for (const [i, entry] of entries.entries()) {
    check(isCount(entry.index) && entry.index >= 1 && isCount(entry.term), `a recovered entry at index ${entry.index}, term ${entry.term}`);
    if (i > 0) check(entry.index === (entries[i - 1] as Entry).index + 1, 'recovered entries that do not follow on');
  }
}

export function checkMeta(meta: SnapshotMeta): void {
  checkPosition('snapshot', meta);
  check(
    meta.membership.voters.every((id) => typeof id === 'string') && meta.membership.learners.every((id) => typeof id === 'string'),
    'a snapshot membership with ids that are not strings',
  );
}
