// A tiny scenario library for the explorer's tests: one 3 s scenario that fits a 3-node cluster, the same
// written for 5 nodes (listed, but unfit to run there) and, on request, a file that does not parse.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SHORT_SCENARIO = `name: short
description: A leader killed once, for the explorer's tests.
nodes: 3
duration: 3s
workload: { type: register, keys: 2, clients: 2, rate: 50/s }
faults:
  - { at: 1s, kill: leader, for: 1s }
checks: [linearizable]
`;

/**
 * Writes short.yaml and five.yaml (and broken.yaml, and lease.yaml, written for lease reads, when asked) into
 * `dir`, which must exist.
 */
export function writeTinyLibrary(dir: string, options: { broken?: boolean; lease?: boolean } = {}): void {
  fs.writeFileSync(path.join(dir, 'short.yaml'), SHORT_SCENARIO);
  fs.writeFileSync(path.join(dir, 'five.yaml'), SHORT_SCENARIO.replace('nodes: 3', 'nodes: 5').replace('name: short', 'name: five'));
  if (options.broken === true) fs.writeFileSync(path.join(dir, 'broken.yaml'), 'name: broken\nnodes: three\n');
  if (options.lease === true)
    fs.writeFileSync(
      path.join(dir, 'lease.yaml'),
      SHORT_SCENARIO.replace('nodes: 3', 'nodes: 3\nreadMode: lease').replace('name: short', 'name: lease'),
    );
}
