// Fuzz target: the scenario parser (src/chaos/scenario.ts: YAML, then the zod schema). The input is the file's
// text (UTF-8, invalid sequences replaced). Oracles (as test/unit/hostile-scenario.test.ts): a scenario within
// the schema's bounds, or a ScenarioError (SCENARIO_INVALID, the parser's own code: it is not in the registry) whose issues name the file and a line inside it;
// never another exception; an alias bomb or a deep nesting refused, not expanded (the time and allocation
// bounds the fuzzer holds every input to).
import { CLUSTER_NODES_MAX } from '../../../src/actor/supervisor.js';
import { parseScenario, SCENARIO_DURATION_MS_MAX, ScenarioError, type Scenario } from '../../../src/chaos/scenario.js';
import { check, type FuzzTarget } from '../target.js';

const FILE = 'scenarios/fuzz.yaml';

function checkWithinSchema(s: Scenario): void {
  check(typeof s.name === 'string', 'a scenario without a name');
  check(Number.isSafeInteger(s.nodes) && s.nodes >= 1 && s.nodes <= CLUSTER_NODES_MAX, `a scenario of ${s.nodes} nodes`);
  check(s.durationMs > 0 && s.durationMs <= SCENARIO_DURATION_MS_MAX, `a scenario of ${s.durationMs} ms`);
  for (const fault of s.faults) {
    check(fault.atMs >= 0 && fault.atMs <= s.durationMs, `a fault at ${fault.atMs} ms of ${s.durationMs}`);
    check(fault.forMs === null || fault.forMs > 0, `a fault for ${String(fault.forMs)} ms`);
  }
  for (const name of s.checks) check(['linearizable', 'no-lost-writes', 'exactly-once'].includes(name), `a check named ${name}`);
  check(s.workload.clients >= 1 && s.workload.ratePerSecond > 0, 'a workload without clients or rate');
}

function run(data: Buffer): void {
  const text = data.toString('utf8');
  try {
    checkWithinSchema(parseScenario(text, 'fuzz', FILE));
  } catch (error) {
    // SCENARIO_INVALID is the parser's own code, not in the registry (src/protocol/errors.ts): no API answers
    // with it; the command and the explorer show its issues.
    if (!(error instanceof ScenarioError)) throw error;
    const refusal = error;
    check(refusal.code === 'SCENARIO_INVALID', `a ScenarioError with code ${refusal.code}`);
    check(refusal.issues.length > 0 && refusal.message.length > 0, 'a ScenarioError without issues');
    const lineCount = text.split(/\r\n|\r|\n/).length;
    for (const issue of refusal.issues) {
      check(issue.file === FILE, `an issue naming ${issue.file}`);
      check(typeof issue.message === 'string' && issue.message.length > 0, 'an issue without a message');
      if (issue.line !== null)
        check(
          Number.isSafeInteger(issue.line) && issue.line >= 1 && issue.line <= lineCount + 1,
          `an issue at line ${issue.line} of ${lineCount}`,
        );
    }
  }
}

export const scenarioTarget: FuzzTarget = {
  name: 'scenario',
  description: 'the chaos scenario parser (YAML and its schema)',
  coverage: ['src/chaos/scenario', 'src/util/yaml-validation'],
  dictionary: [
    'name: ',
    'nodes: ',
    'duration: ',
    'workload:\n',
    'type: ',
    'register',
    'counter',
    'set',
    'faults:\n',
    'checks:\n',
    '- ',
    'at: ',
    'kill: ',
    'for: ',
    'partition: ',
    'leader',
    'follower',
    'minority',
    'majority',
    'random',
    'all',
    'n1',
    '20s',
    '500ms',
    '1h',
    '\n',
    '\n  ',
    '\n    ',
    ': ',
    '{',
    '}',
    '[',
    ']',
    '&a ',
    '*a',
    '!!binary ',
    '---\n',
    '? ',
    '|\n',
    '#',
    '"',
    "'",
    'linearizable',
    'no-lost-writes',
    'exactly-once',
    'clients: ',
    'rate: ',
    'heal',
    'pause: ',
    'clock',
    'add-learner',
    'remove-member',
  ],
  inputBytesMax: 4096,
  inputMsMax: 2_000,
  run,
};
