// The configuration of raftkv cluster (issue 15, item 1): a YAML file whose keys are the options' names,
// RAFTKV_* variables over it, flags over both; every mistake an error with its place, a typo with its nearest key.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseClusterArgs } from '../../src/cli/cluster-command.js';
import { ConfigError, resolveClusterArgv, variableOf } from '../../src/cli/config-file.js';
import { main } from '../../src/cli/main.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-config-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  vi.restoreAllMocks();
});

function configFile(text: string): string {
  const file = path.join(dir, 'raftkv.yaml');
  fs.writeFileSync(file, text);
  return file;
}

function issuesOf(call: () => unknown): string[] {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message.split('\n');
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const options = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseClusterArgs(resolveClusterArgv(argv, env, () => undefined));

describe('the configuration file and RAFTKV_* variables', () => {
  it('gives settings by the options’ own names, limits included; flags and variables override it', () => {
    const file = configFile('nodes: 5\ndata-dir: /tmp/raftkv-somewhere\nhttp-port: 0\nvalue-bytes-max: 65536\nmemory: true\n');
    const fromFile = options(['--config', file]);
    expect(fromFile).toMatchObject({ nodes: 5, dataDir: '/tmp/raftkv-somewhere', httpPort: 0, memory: true });
    expect(fromFile.limits.values.get('valueBytesMax')).toBe(65536);
    expect(options([`--config=${file}`], { RAFTKV_NODES: '3' }).nodes).toBe(3);
    expect(options(['--config', file, '--nodes', '1'], { RAFTKV_NODES: '3' }).nodes).toBe(1);
    expect(options([], { RAFTKV_DATA_DIR: '/srv/raftkv', RAFTKV_MEMORY: 'true' })).toMatchObject({ dataDir: '/srv/raftkv', memory: true });
    expect(variableOf('value-bytes-max')).toBe('RAFTKV_VALUE_BYTES_MAX');
    expect(options(['--config', configFile('')]).nodes).toBe(3); // an empty file sets nothing
  });

  it('turns lease reads on (with CheckQuorum) by --read-mode lease, a file or a variable; safe by default; refuses another mode', () => {
    expect(options([]).limits.core.readMode ?? 'safe').toBe('safe');
    expect(options(['--read-mode', 'lease']).limits.core).toMatchObject({ readMode: 'lease', checkQuorum: true });
    expect(options(['--config', configFile('read-mode: lease\n')]).limits.core.readMode).toBe('lease');
    expect(options([], { RAFTKV_READ_MODE: 'lease' }).limits.core.readMode).toBe('lease');
    expect(() => options(['--read-mode', 'fast'])).toThrow(/--read-mode must be safe or lease, got fast/);
  });

  it('refuses a typo, a wrong type and a value out of range, each with its line (and the nearest key)', () => {
    const file = configFile('nodes: 3\nnodez: 5\nhttp-port: "web"\ntiming: fast\nvalue-bytes-max: -1\n');
    const issues = issuesOf(() => options(['--config', file]));
    expect(issues).toEqual([
      `${file}:2: nodez: unknown key (did you mean nodes?)`,
      expect.stringMatching(new RegExp(`^${file}:3: http-port: `)),
      expect.stringMatching(new RegExp(`^${file}:4: timing: `)),
      expect.stringMatching(new RegExp(`^${file}:5: value-bytes-max: `)),
    ]);
    expect(issuesOf(() => options(['--config', configFile('nodes: 10\n')]))[0]).toMatch(/:1: nodes: /);
    expect(issuesOf(() => options(['--config', configFile('nodes: [\n')]))[0]).toMatch(/not valid YAML/);
    expect(issuesOf(() => options(['--config', path.join(dir, 'absent.yaml')]))[0]).toMatch(/absent\.yaml: cannot read it/);
    expect(issuesOf(() => options(['--config']))[0]).toBe('--config: needs a file');
  });

  it('refuses a variable whose value is wrong, and only warns of an unknown RAFTKV_ variable', () => {
    expect(issuesOf(() => options([], { RAFTKV_NODES: 'ten' }))[0]).toMatch(/^RAFTKV_NODES: .*\(got "ten"\)$/);
    const warnings: string[] = [];
    parseClusterArgs(resolveClusterArgv([], { RAFTKV_NODEZ: '3', RAFTKV_CHROMIUM: '/usr/bin/chromium' }, (line) => warnings.push(line)));
    expect(warnings).toEqual(['raftkv: RAFTKV_NODEZ is not a setting of raftkv cluster; ignored (did you mean RAFTKV_NODES?)']);
  });

  it('raftkv cluster exits 78 (EX_CONFIG) on a bad configuration, saying where', async () => {
    const file = configFile('clientz: 4\n');
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    expect(await main(['cluster', '--config', file])).toBe(78);
    expect(errors.join('\n')).toContain(`${file}:1: clientz: unknown key`);
  });
});
