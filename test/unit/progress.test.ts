// Progress of long work (src/util/progress.ts): a terminal gets one line redrawn in place, a log a line every
// few seconds; done/total, the rate and the time left are computed from the clock it is given.
import { describe, expect, it } from 'vitest';
import { PROGRESS_LINE_INTERVAL_MS, PROGRESS_REDRAW_INTERVAL_MS, Progress, formatDuration } from '../../src/util/progress.js';

function fakeStream(isTTY: boolean): { isTTY: boolean; text: string; write(text: string): void } {
  return {
    isTTY,
    text: '',
    write(text: string) {
      this.text += text;
    },
  };
}

describe('progress', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(42_400)).toBe('42s');
    expect(formatDuration(65_000)).toBe('1m05s');
    expect(formatDuration(7_380_000)).toBe('2h03m');
  });

  it('in a log: no line before the first interval, then one line per interval with rate and time left', () => {
    let now = 0;
    const stream = fakeStream(false);
    const progress = new Progress({ label: 'sim', total: 1000, unit: 'seeds', stream, now: () => now });
    now = 1000;
    progress.update(10);
    expect(stream.text).toBe('');
    now = PROGRESS_LINE_INTERVAL_MS;
    progress.update(100, 'family mixed');
    expect(stream.text).toBe('sim: 5s · 100/1,000 seeds · 10% · 20 seeds/s · ~45s left · family mixed\n');
    now += PROGRESS_LINE_INTERVAL_MS - 1;
    progress.update(150);
    expect(stream.text.split('\n')).toHaveLength(2); // not due yet
    now += 1;
    progress.update(200);
    expect(stream.text.split('\n')[1]).toBe('sim: 10s · 200/1,000 seeds · 20% · 20 seeds/s · ~40s left · family mixed');
    progress.log('FAIL seed 7');
    progress.stop();
    expect(stream.text.endsWith('FAIL seed 7\n')).toBe(true);
  });

  it('on a terminal: redraws one line in place, clears it for the output and at the end; slow work in units/min', () => {
    let now = 0;
    const stream = fakeStream(true);
    const progress = new Progress({ label: 'bench', total: 648, unit: 'cells', stream, now: () => now });
    progress.update(0, 'write http 3 nodes');
    expect(stream.text).toBe('\rbench: 0s · 0/648 cells · 0% · write http 3 nodes\x1b[K');
    now = 60_000;
    progress.update(3);
    expect(stream.text.endsWith('\rbench: 1m00s · 3/648 cells · 0% · 3.0 cells/min · ~3h35m left · write http 3 nodes\x1b[K')).toBe(true);
    const before = stream.text.length;
    now += PROGRESS_REDRAW_INTERVAL_MS - 1;
    progress.update(3);
    expect(stream.text.length).toBe(before);
    progress.log('a row');
    expect(stream.text.slice(before)).toBe('\r\x1b[Ka row\n');
    now += PROGRESS_REDRAW_INTERVAL_MS;
    progress.update(4);
    progress.stop();
    expect(stream.text.endsWith('\x1b[K\r\x1b[K')).toBe(true);
  });

  it("on a terminal, takes the work's own output: the line is cleared before it and drawn again after a whole line", () => {
    const now = 0;
    const stream = fakeStream(true);
    const progress = new Progress({ label: 'bench', total: 2, unit: 'cells', stream, now: () => now }).start().interceptOutput();
    progress.update(1, 'cell one');
    stream.write('raftkv row\n');
    expect(stream.text).toBe(
      '\rbench: 0s · 1/2 cells · 50% · cell one\x1b[K\r\x1b[Kraftkv row\n\rbench: 0s · 1/2 cells · 50% · cell one\x1b[K',
    );
    progress.stop();
    stream.write('after\n');
    expect(stream.text.endsWith('\x1b[K\r\x1b[Kafter\n')).toBe(true);
    // Not a terminal: nothing is wrapped.
    const log = fakeStream(false);
    const plain = new Progress({ label: 'x', total: 1, unit: 'u', stream: log, now: () => now }).interceptOutput();
    log.write('row\n');
    plain.stop();
    expect(log.text).toBe('row\n');
  });

  it('without a total: a count, no percentage, no time left', () => {
    let now = 0;
    const progress = new Progress({ label: 'chaos', total: null, unit: 'ops', stream: fakeStream(false), now: () => now });
    now = 2_000;
    progress.update(5_000, 'fault: partition');
    expect(progress.line()).toBe('chaos: 2s · 5,000 ops · 2,500 ops/s · fault: partition');
  });
});
