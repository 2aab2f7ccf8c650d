// The operator's log (issue 15, item 4): JSON and pretty lines, level filtering, the repeat limiter on a fake
// clock, and the --log-format / --log-level settings of raftkv cluster.
import { describe, expect, it } from 'vitest';
import { parseClusterArgs } from '../../src/cli/cluster-command.js';
import { ConfigError, resolveClusterArgv } from '../../src/cli/config-file.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { createLogger, RepeatLimiter, type LimiterClock, type LogContext, type LogFormat, type LogLevel } from '../../src/util/log.js';

/** A logger writing into an array, one entry per line, at a fixed time. */
function capture(format: LogFormat, level: LogLevel, now = Date.UTC(2026, 0, 2, 3, 4, 5, 67)) {
  const lines: string[] = [];
  const logger = createLogger({
    format,
    level,
    now: () => now,
    sink: { write: (text: string) => lines.push(...text.split('\n').slice(0, -1)) },
  });
  return { lines, log: logger.log };
}

describe('the logger', () => {
  it('writes one JSON object per line with time, level, msg, and node and term when given', () => {
    const { lines, log } = capture('json', 'info');
    log('leader n2 (term 5)', { node: 'n2', term: 5, announce: true });
    log('healed all links');
    log('TRANSPORT_BAD_FRAME from n3: bad tag', { level: 'warn', node: 'n1' });
    expect(lines).toHaveLength(3);
    const [leader, healed, bad] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(leader).toEqual({ level: 'info', time: '2026-01-02T03:04:05.067Z', node: 'n2', term: 5, msg: 'leader n2 (term 5)' });
    // Not about a node: no node or term key at all.
    expect(healed).toEqual({ level: 'info', time: '2026-01-02T03:04:05.067Z', msg: 'healed all links' });
    expect(bad).toMatchObject({ level: 'warn', node: 'n1', msg: 'TRANSPORT_BAD_FRAME from n3: bad tag' });
    expect(bad).not.toHaveProperty('term');
  });

  it('writes only the lines at or above its level, announcements included', () => {
    const { lines, log } = capture('json', 'warn');
    for (const level of ['trace', 'debug', 'info', 'warn', 'error'] as const) log(`at ${level}`, { level });
    log('HTTP API: http://127.0.0.1:7379', { announce: true });
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['at warn', 'at error']);
    const all = capture('pretty', 'trace');
    for (const level of ['trace', 'debug', 'info', 'warn', 'error'] as const) all.log(`at ${level}`, { level });
    expect(all.lines).toHaveLength(5);
  });

  it('pretty: HH:MM:SS.mmm LEVEL [node term] message, and announcements exactly as they are', () => {
    const { lines, log } = capture('pretty', 'info');
    log('TRANSPORT_BAD_FRAME from n3: bad tag', { level: 'warn', node: 'n2', term: 5 });
    log('n1 restarting: worker exited with code 1', { level: 'warn', node: 'n1' });
    log('healed all links');
    log('leader n1 (term 1)', { node: 'n1', term: 1, announce: true });
    log('HTTP API: http://127.0.0.1:7379', { announce: true });
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.067 WARN {2}\[n2 t5\] TRANSPORT_BAD_FRAME from n3: bad tag$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.067 WARN {2}\[n1\] n1 restarting: worker exited with code 1$/);
    expect(lines[2]).toMatch(/^\d\d:\d\d:\d\d\.067 INFO {2}healed all links$/);
    expect(lines.slice(3)).toEqual(['leader n1 (term 1)', 'HTTP API: http://127.0.0.1:7379']);
  });
});

/** A clock the test moves by hand; `after` callbacks run when their time comes. */
function fakeClock(): LimiterClock & { advance(ms: number): void } {
  let now = 1_000_000;
  let timers: { at: number; run: () => void }[] = [];
  return {
    now: () => now,
    after: (ms, run) => void timers.push({ at: now + ms, run }),
    advance(ms) {
      now += ms;
      const due = timers.filter((timer) => timer.at <= now);
      timers = timers.filter((timer) => timer.at > now);
      for (const timer of due) timer.run();
    },
  };
}

describe('RepeatLimiter', () => {
  const limit = { lines: 3, windowMs: 1_000 };

  function limited() {
    const clock = fakeClock();
    const written: { message: string; context: LogContext | undefined }[] = [];
    const limiter = new RepeatLimiter(limit, (message, context) => written.push({ message, context }), clock);
    return { clock, written, limiter, messages: () => written.map((line) => line.message) };
  }

  it('writes the first lines of a window, then one summary line with the count at its end', () => {
    const { clock, written, limiter, messages } = limited();
    for (let i = 0; i < 100; i++) limiter.log('n1', `bad frame ${i}`, { level: 'warn', node: 'n1' });
    expect(messages()).toEqual(['bad frame 0', 'bad frame 1', 'bad frame 2']);
    clock.advance(999);
    expect(written).toHaveLength(3);
    clock.advance(1);
    expect(messages()).toEqual(['bad frame 0', 'bad frame 1', 'bad frame 2', 'bad frame 99 (repeated 97 times in the last 1 s)']);
    // The summary keeps the held-back line's level and node.
    expect(written[3]?.context).toEqual({ level: 'warn', node: 'n1' });
    // The next window starts afresh.
    limiter.log('n1', 'bad frame 100');
    expect(messages().at(-1)).toBe('bad frame 100');
  });

  it('counts each key on its own', () => {
    const { limiter, messages } = limited();
    for (let i = 0; i < 5; i++) {
      limiter.log('n1', `n1 ${i}`);
      limiter.log('n2', `n2 ${i}`);
    }
    expect(messages()).toEqual(['n1 0', 'n2 0', 'n1 1', 'n2 1', 'n1 2', 'n2 2']);
  });

  it('writes nothing more when nothing was held back, and a late line after a quiet window starts a new one', () => {
    const { clock, limiter, messages } = limited();
    limiter.log('n1', 'a');
    clock.advance(5_000);
    limiter.log('n1', 'b');
    limiter.log('n1', 'c');
    limiter.log('n1', 'd');
    expect(messages()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('refuses a limit that would write nothing', () => {
    expect(() => new RepeatLimiter({ lines: 0, windowMs: 1_000 }, () => {})).toThrow(RangeError);
    expect(() => new RepeatLimiter({ lines: 1, windowMs: 0 }, () => {})).toThrow(RangeError);
  });
});

describe('--log-format and --log-level', () => {
  const options = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseClusterArgs(resolveClusterArgv(argv, env, () => undefined));

  it('default to pretty and info; flags and RAFTKV_LOG_* set them', () => {
    expect(options([])).toMatchObject({ logFormat: 'pretty', logLevel: 'info' });
    expect(options(['--log-format', 'json', '--log-level', 'debug'])).toMatchObject({ logFormat: 'json', logLevel: 'debug' });
    expect(options([], { RAFTKV_LOG_FORMAT: 'json', RAFTKV_LOG_LEVEL: 'warn' })).toMatchObject({ logFormat: 'json', logLevel: 'warn' });
    // A flag wins over the environment.
    expect(options(['--log-level', 'error'], { RAFTKV_LOG_LEVEL: 'warn' })).toMatchObject({ logLevel: 'error' });
  });

  it('refuse an unknown value: a usage error (64) on the command line, a configuration error (78) in the environment', () => {
    const bogus = (): unknown => options(['--log-level', 'bogus']);
    expect(bogus).toThrow(UsageError);
    expect(bogus).toThrow('--log-level must be one of trace, debug, info, warn, error, got bogus');
    expect(bogus).toThrow(expect.objectContaining({ exitCode: 64 }));
    expect(() => options(['--log-format', 'xml'])).toThrow('--log-format must be json or pretty, got xml');
    expect(() => options([], { RAFTKV_LOG_LEVEL: 'loud' })).toThrow(ConfigError);
  });
});
