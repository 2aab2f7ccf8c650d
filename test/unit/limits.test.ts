// The limits table (src/config/limits.ts): every limit once, with its unit in its name, in step with the rooms'
// defaults and with docs/LIMITS.md; the cross-checks refuse limits that do not agree; the CLI sets and prints them.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseClusterArgs } from '../../src/cli/cluster-command.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { crossCheck, formatLimits, LIMIT_UNITS, LIMITS_TABLE, LimitsError, resolveLimits } from '../../src/config/limits.js';
import { KV_LIMITS_DEFAULTS } from '../../src/kv/kv-state-machine.js';
import { NODE_LIMITS_DEFAULTS } from '../../src/node/raft-node.js';
import { RAFT_DEFAULTS } from '../../src/raft/config.js';
import { LIMITS_DEFAULTS } from '../../src/router/limits.js';
import { ROUTER_LIMITS_DEFAULTS } from '../../src/router/router.js';

const defaults = (): Map<string, number> => new Map(LIMITS_TABLE.map((row) => [row.name, row.defaultValue]));

describe('the limits table', () => {
  it('names every limit once, with a unit word in the name that matches its unit', () => {
    const names = LIMITS_TABLE.map((row) => row.name);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
    for (const row of LIMITS_TABLE) {
      expect(LIMIT_UNITS, row.name).toContain(row.unit);
      const leading = row.unit.charAt(0).toLowerCase() + row.unit.slice(1);
      expect(row.name.includes(row.unit) || row.name.startsWith(leading), `${row.name} carries its unit ${row.unit}`).toBe(true);
      expect(Number.isSafeInteger(row.defaultValue) && row.defaultValue > 0, row.name).toBe(true);
      expect(row.description.length, row.name).toBeGreaterThan(10);
    }
  });

  it('holds every numeric default of the rooms it collects, with the same value', () => {
    const rooms: Record<string, object> = {
      RAFT_DEFAULTS,
      NODE_LIMITS_DEFAULTS,
      KV_LIMITS_DEFAULTS,
      LIMITS_DEFAULTS,
      ROUTER_LIMITS_DEFAULTS,
    };
    const table = defaults();
    for (const [room, object] of Object.entries(rooms)) {
      for (const [name, value] of Object.entries(object)) {
        if (typeof value !== 'number') continue;
        expect(table.has(name), `${room}.${name} is in the table`).toBe(true);
        // The cluster runs the core with the supervisor's election timing, so those two differ from RAFT_DEFAULTS.
        if (room !== 'RAFT_DEFAULTS' || (name !== 'electionTicks' && name !== 'heartbeatTicks'))
          expect(table.get(name), `${room}.${name}`).toBe(value);
      }
    }
  });

  it('the defaults agree with each other', () => {
    expect(crossCheck(defaults())).toEqual([]);
  });

  it.each([
    ['valueBytesMax', 3 * 1024 * 1024, /valueBytesMax .* must fit in bodyBytesMax/],
    ['pendingRequestsMax', 200_000, /sessionResultsMax \(100000\) must be at least pendingRequestsMax \(200000\)/],
    ['heartbeatTicks', 15, /electionTicks \(15\) must exceed heartbeatTicks \(15\)/],
    ['commandBytesMax', 1024, /must fit in commandBytesMax/],
  ])('refuses %s = %d that breaks a cross-check, naming the limits', (name, value, message) => {
    expect(() => resolveLimits({ [name]: value })).toThrow(message);
  });

  it('the largest entry must fit in a WAL record: a huge command limit is refused', () => {
    expect(() => resolveLimits({ commandBytesMax: 300 * 1024 * 1024, valueBytesMax: 1024 })).toThrow(/must fit in a WAL record/);
  });

  it('refuses unknown and fixed limits, and values that are not positive integers', () => {
    expect(() => resolveLimits({ noSuchBytesMax: 1 })).toThrow(LimitsError);
    expect(() => resolveLimits({ walRecordBytesMax: 1 })).toThrow(/cannot be set/);
    expect(() => resolveLimits({ keyBytesMax: 0 })).toThrow(/--key-bytes-max must be a positive integer/);
  });

  it('hands each room its values in force', () => {
    const inForce = resolveLimits({ valueBytesMax: 1000, pausedCallsMax: 7, requestTimeoutMs: 9000, electionTicks: 20 });
    expect(inForce.frontDoor.valueBytesMax).toBe(1000);
    expect(inForce.node.pausedCallsMax).toBe(7);
    expect(inForce.router.requestTimeoutMs).toBe(9000);
    expect(inForce.core.electionTicks).toBe(20);
    // Every core row reaches the core, settable or not, at its value in force.
    for (const row of LIMITS_TABLE.filter((r) => r.room === 'core')) {
      expect((inForce.core as Record<string, unknown>)[row.name], row.name).toBe(inForce.values.get(row.name));
    }
    expect(formatLimits(inForce)).toMatch(/^valueBytesMax\s+front door\s+1000\s+1048576\s+bytes\s+--value-bytes-max\s/m);
  });
});

describe('raftkv cluster limit flags', () => {
  it('sets a limit by its flag and prints the table in force', () => {
    const options = parseClusterArgs(['--print-limits', '--key-bytes-max', '100', '--paused-calls-max', '5']);
    expect(options.printLimits).toBe(true);
    expect(options.limits.frontDoor.keyBytesMax).toBe(100);
    expect(options.limits.node.pausedCallsMax).toBe(5);
  });

  it('--timing demo slows the ticks and elections down for watching; explicit flags still win; an unknown timing is refused', () => {
    const normal = parseClusterArgs([]);
    expect(normal.tickMs).toBe(10);
    const demo = parseClusterArgs(['--timing', 'demo']);
    expect(demo.tickMs).toBe(100);
    expect(demo.limits.core.electionTicks).toBe(20);
    expect(demo.limits.core.heartbeatTicks).toBe(5);
    const mixed = parseClusterArgs(['--timing', 'demo', '--tick-ms', '50', '--election-ticks', '30']);
    expect(mixed.tickMs).toBe(50);
    expect(mixed.limits.core.electionTicks).toBe(30);
    expect(() => parseClusterArgs(['--timing', 'fast'])).toThrow(/--timing must be normal or demo, got fast/);
  });

  it('refuses a malformed value or limits that do not agree, as a usage error (exit 64)', () => {
    expect(() => parseClusterArgs(['--key-bytes-max', '4k'])).toThrow(UsageError);
    expect(() => parseClusterArgs(['--key-bytes-max', '4k'])).toThrow(/--key-bytes-max must be a positive integer \(bytes\), got 4k/);
    expect(() => parseClusterArgs(['--pending-requests-max', '200000'])).toThrow(/sessionResultsMax/);
    expect(() => parseClusterArgs(['--wal-record-bytes-max', '5'])).toThrow(/Unknown option/);
  });
});

describe('docs/LIMITS.md', () => {
  const markdown = fs.readFileSync(new URL('../../docs/LIMITS.md', import.meta.url), 'utf8');
  const documented = new Map(
    markdown
      .split('\n')
      .filter((line) => /^\| `[a-zA-Z]+` \|/.test(line))
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim().replace(/`/g, '')),
      )
      .map((cells) => [cells[0] as string, cells]),
  );

  it.each(LIMITS_TABLE.map((row) => [row.name, row] as const))('documents %s with its room, default, unit and flag', (name, row) => {
    const cells = documented.get(name);
    expect(cells, `${name} has a row`).toBeDefined();
    expect(cells?.slice(1, 5)).toEqual([row.room, row.defaultValue.toLocaleString('en-US'), row.unit.toLowerCase(), row.flag ?? '-']);
  });

  it('documents no limit the table lacks', () => {
    expect([...documented.keys()].filter((name) => !LIMITS_TABLE.some((row) => row.name === name))).toEqual([]);
  });
});
