// A chaos run shows its progress (issue 15, item 8): on a terminal one line redrawn with the elapsed time, the
// operations completed and per second, the share of the run and the faults in force; cleared at the end.
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/chaos/runner.js';
import { parseScenario } from '../../src/chaos/scenario.js';
import { SHORT_SCENARIO } from '../support/scenario-library.js';

describe('chaos progress', () => {
  it('draws the run on a terminal: operations, share of the run, the fault in force; clears the line after', async () => {
    const terminal = {
      isTTY: true,
      text: '',
      write(text: string) {
        this.text += text;
      },
    };
    const log: string[] = [];
    const result = await runScenario(parseScenario(SHORT_SCENARIO, 'short'), { log: (line) => log.push(line), progress: terminal });
    expect(result.ok, log.join('\n')).toBe(true);
    const lines = terminal.text
      .split('\r')
      .map((line) => line.replace('\x1b[K', ''))
      .filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line).toMatch(/^chaos short: \d+s · [\d,]+ ops( · [\d,.]+ ops\/(s|min))? · \d+% of 3s · /);
    expect(lines.some((line) => /· kill/.test(line))).toBe(true);
    expect(lines.some((line) => line.endsWith('· no fault'))).toBe(true);
    expect(terminal.text.endsWith('\r\x1b[K')).toBe(true);
  });
});
