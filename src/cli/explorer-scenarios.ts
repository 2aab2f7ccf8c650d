// The scenario library as the explorer runs it (issue 14): the package's scenarios/*.yaml, each run against the
// cluster `raftkv cluster` started, one at a time, its log lines and verdict streamed as `scenario` events and
// its HTML report kept in a temporary folder for GET /explorer/reports/{file}.
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Supervisor } from '../actor/supervisor.js';
import { htmlReport, summarize } from '../chaos/report.js';
import { runScenario } from '../chaos/runner.js';
import { parseScenario, type Scenario } from '../chaos/scenario.js';
import { RAFT_DEFAULTS } from '../raft/config.js';
import type { ExplorerHub, ScenarioCatalog, ScenarioListing } from '../router/explorer.js';
import type { Service } from '../router/service.js';

/** The package's scenario library, whether this module runs from src/ (tsx) or from dist/src/ (built). */
export const SCENARIO_DIR = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../scenarios/' : '../../../scenarios/', import.meta.url),
);

const REPORT_NAME = /^[a-z0-9-]+-\d+\.html$/;

export function scenarioCatalog(options: {
  readonly dir: string;
  readonly supervisor: Supervisor;
  readonly service: Omit<Service, 'close'>;
  readonly hub: ExplorerHub;
  readonly memory: boolean;
}): ScenarioCatalog & { close(): void } {
  const { dir, supervisor, service, hub } = options;
  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'raftkv-explorer-reports-'));
  let running: string | null = null;

  const load = (name: string): { scenario: Scenario | null; unfit: string | null } => {
    let scenario: Scenario;
    try {
      // Errors name the file as the library lists it (broken.yaml:2: ...), not the folder it sits in.
      scenario = parseScenario(fs.readFileSync(path.join(dir, `${name}.yaml`), 'utf8'), name, `${name}.yaml`);
    } catch (error) {
      return { scenario: null, unfit: `does not parse: ${(error as Error).message}` };
    }
    if (scenario.nodes !== supervisor.ids.length)
      return { scenario, unfit: `written for ${scenario.nodes} nodes; this cluster has ${supervisor.ids.length}` };
    if ((scenario.storage === 'memory') !== options.memory) return { scenario, unfit: `written for ${scenario.storage} storage` };
    const readMode = supervisor.options.core.readMode ?? RAFT_DEFAULTS.readMode;
    if (scenario.readMode !== readMode)
      return { scenario, unfit: `written for ${scenario.readMode} reads; this cluster's are ${readMode}` };
    return { scenario, unfit: null };
  };
  const names = (): string[] =>
    fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((file) => file.endsWith('.yaml'))
          .map((file) => file.slice(0, -'.yaml'.length))
          .sort()
      : [];

  return {
    list(): ScenarioListing[] {
      return names().map((name) => {
        const { scenario, unfit } = load(name);
        return {
          name,
          description: scenario?.description ?? '',
          nodes: scenario?.nodes ?? 0,
          storage: scenario?.storage ?? '',
          durationMs: scenario?.durationMs ?? 0,
          unfit,
        };
      });
    },
    running: () => running,
    run(name) {
      if (!names().includes(name)) return { ok: false, why: 'unknown', detail: `no scenario ${name} in ${dir}` };
      if (running !== null) return { ok: false, why: 'running', detail: `${running} is running` };
      const { scenario, unfit } = load(name);
      if (scenario === null || unfit !== null) return { ok: false, why: 'unfit', detail: `${name} ${unfit ?? 'cannot run'}` };
      running = name;
      const seed = randomInt(0, 2 ** 47);
      hub.recordScenario(name, 'started', `${scenario.description} (seed ${seed})`);
      runScenario(scenario, {
        cluster: { supervisor, service: service as Service },
        seed,
        log: (line) => hub.recordScenario(name, 'log', line),
      })
        .then((result) => {
          const file = `${name}-${Date.now()}.html`;
          fs.writeFileSync(path.join(reports, file), htmlReport(result));
          const verdict = summarize(result).split('\n').at(-1) ?? '';
          hub.recordScenario(name, 'verdict', verdict, { ok: result.ok, report: `/explorer/reports/${file}` });
        })
        .catch((error: unknown) => {
          hub.recordScenario(name, 'verdict', `the run failed: ${(error as Error).message}`, { ok: false, report: '' });
        })
        .finally(() => {
          running = null;
        });
      return { ok: true, seed };
    },
    report(file) {
      if (!REPORT_NAME.test(file)) return null;
      try {
        return fs.readFileSync(path.join(reports, file));
      } catch {
        return null;
      }
    },
    close() {
      fs.rmSync(reports, { recursive: true, force: true });
    },
  };
}
