// Schedules per minute over a fixed range of mixed seeds: npx tsx test/sim/sim-rate.ts FIRST COUNT
// (what docs/SIMULATOR.md's cost figures measure; wall time, so run before/after pairs interleaved).
import { runSchedule } from './simulator.js';

const firstSeed = Number(process.argv[2] ?? 1);
const count = Number(process.argv[3] ?? 400);
const started = process.hrtime.bigint();
let failed = 0;
for (let seed = firstSeed; seed < firstSeed + count; seed++) if (!runSchedule(seed).ok) failed++;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`${count} schedules in ${seconds.toFixed(1)} s: ${Math.round((count / seconds) * 60)} schedules/min, ${failed} failed`);
