// The fuzz targets by name: one per hostile-input surface of issue 18, item 6. Each is loaded on demand, so
// a fuzzing worker loads one target's code only (a coverage take costs in proportion to the code loaded).
import type { FuzzTarget } from '../target.js';

const LOADERS: Readonly<Record<string, () => Promise<FuzzTarget>>> = {
  resp: async () => (await import('./resp.js')).respTarget,
  http: async () => (await import('./http.js')).httpTarget,
  'peer-frames': async () => (await import('./peer-frames.js')).peerFramesTarget,
  wal: async () => (await import('./wal.js')).walTarget,
  snapshot: async () => (await import('./snapshot.js')).snapshotTarget,
  scenario: async () => (await import('./scenario.js')).scenarioTarget,
};

export const TARGET_NAMES: readonly string[] = Object.keys(LOADERS);

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const load = LOADERS[name];
  if (load === undefined) throw new Error(`no fuzz target ${name}: the targets are ${TARGET_NAMES.join(', ')}`);
  return load();
}
