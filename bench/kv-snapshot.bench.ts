// How long taking the KV store's state stops a node (issue 15's backups, and every snapshot): snapshot() in
// one call, against snapshotSlices(), whose capture is one pass over the keys and whose slices are encoded
// one per turn (RaftNode.exportSnapshot and the periodic snapshot use it).
//
//   npm run bench:kv-snapshot [-- --keys 1000000 --value-bytes 256 --slice-bytes 1048576 --rounds 3]
import { parseArgs } from 'node:util';
import { encodeBatch } from '../src/kv/commands.js';
import { KvStateMachine } from '../src/kv/kv-state-machine.js';
import { describeMachine, positiveInteger } from './bench-util.js';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'value-bytes': { type: 'string', default: '256' },
    'slice-bytes': { type: 'string', default: String(1 << 20) },
    rounds: { type: 'string', default: '3' },
  },
});
const keys = positiveInteger('--keys', values.keys);
const valueBytes = positiveInteger('--value-bytes', values['value-bytes']);
const sliceBytes = positiveInteger('--slice-bytes', values['slice-bytes']);
const rounds = positiveInteger('--rounds', values.rounds);

console.log(`kv snapshot: ${describeMachine()}; ${keys.toLocaleString('en-US')} keys of ${valueBytes} B`);
const sm = new KvStateMachine();
const encoder = new TextEncoder();
const value = new Uint8Array(valueBytes);
const PER_BATCH = 1000;
for (let b = 0, index = 1; b * PER_BATCH < keys; b++) {
  const pairs: [Uint8Array, Uint8Array][] = [];
  for (let i = b * PER_BATCH; i < Math.min(keys, (b + 1) * PER_BATCH); i++) pairs.push([encoder.encode(`key-${i}`), value]);
  const data = encodeBatch({ timeMs: 0, commands: [{ session: 's', seq: b + 1, ack: b, command: { op: 'mput', pairs } }] });
  sm.apply({ type: 'command', term: 1, index: index++, data });
}
for (let round = 1; round <= rounds; round++) {
  let started = performance.now();
  const whole = sm.snapshot();
  const wholeMs = performance.now() - started;
  started = performance.now();
  const slices = sm.snapshotSlices();
  const captureMs = performance.now() - started;
  let count = 0;
  let longest = 0;
  for (;;) {
    const sliceStarted = performance.now();
    const slice = slices.next(sliceBytes);
    longest = Math.max(longest, performance.now() - sliceStarted);
    if (slice === null) break;
    count++;
  }
  console.log(
    `round ${round}: snapshot() ${wholeMs.toFixed(0)} ms for ${(whole.byteLength / 2 ** 20).toFixed(0)} MiB; ` +
      `snapshotSlices(): capture ${captureMs.toFixed(0)} ms, then ${count} slices, the longest ${longest.toFixed(1)} ms`,
  );
}
