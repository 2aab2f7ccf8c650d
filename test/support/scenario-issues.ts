// What parseScenario refuses in a scenario text, as the scenario tests compare it: `line: path: message`.
import { parseScenario, ScenarioError } from '../../src/chaos/scenario.js';

/** The file name the scenario tests' texts are parsed as. */
export const SCENARIO_TEST_FILE = 'scenarios/x.yaml';

/** Each issue parseScenario reports for `text`, as `line: path: message`; throws when the text is accepted. */
export function issueLines(text: string): string[] {
  try {
    parseScenario(text, 'x', SCENARIO_TEST_FILE);
  } catch (error) {
    if (error instanceof ScenarioError) return error.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`);
    throw error;
  }
  throw new Error('the scenario was accepted');
}
