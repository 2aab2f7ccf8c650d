// Sick disks in the simulator (issue 18): the disks family's first seeds, disk faults four times as often as
// crashes: stalls past persistStallTicks, fsyncs that fail (and lose the writes they were to make durable, as
// Linux does), full disks, and rot at rest on one node per run. Every safety property must hold, every run must
// heal, and the faults must really have happened. A failure names the command that replays it:
// npm run sim -- --seed S --family disks
import { describe, expect, it } from 'vitest';
import { runFamily } from './run-seeds.js';

describe('simulator: sick disks', () => {
  it('keeps every safety property and heals on 300 seeds of stalls, failed fsyncs, full disks and rot at rest', () => {
    const run = runFamily('disks', 300);
    expect(run.failures).toEqual([]);
    const total = (key: 'diskStalls' | 'fsyncErrors' | 'disksFull' | 'rots' | 'rotFound'): number =>
      run.results.reduce((sum, result) => sum + result.stats[key], 0);
    // Each kind of fault happened many times, and most rot was found at the node's restart (the rest landed
    // where recovery never reads, or the node was not restarted before the run ended).
    for (const key of ['diskStalls', 'fsyncErrors', 'disksFull', 'rots'] as const) expect(total(key), key).toBeGreaterThan(200);
    expect(total('rotFound')).toBeGreaterThan(total('rots') / 2);
  });
});
