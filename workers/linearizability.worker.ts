// A piscina worker of the linearizability checker: searches, or shrinks, one partition of a history per task.
import type { FailingPiece } from '../src/chaos/checker/shrink.js';
import { runCheckerTask, type CheckerTask, type PartitionResult } from '../src/chaos/checker/partition-task.js';

export default function checkerTask(task: CheckerTask): PartitionResult | FailingPiece {
  return runCheckerTask(task);
}
