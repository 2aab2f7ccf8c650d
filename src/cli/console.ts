// The terminal console of `raftkv cluster` (issue 14), when stdin is a terminal: the explorer's actions typed
// as commands. Each command is a request to the cluster's own HTTP API, so it is checked, answered, refused
// (with the same error codes) and recorded in the explorer's event stream exactly as a click on the page is.
import * as readline from 'node:readline';
import { apiError, type ApiError } from '../protocol/errors.js';

export const CONSOLE_HELP = `commands:
  status                      every node: supervision state, role, term, commit and applied index
  put KEY VALUE               write a key            get KEY       read it (linearizable)
  delete KEY                  delete a key
  kill N | restart N | pause N | resume N       e.g. kill n2
  crash N                     an exception inside the node's turn (the supervisor restarts it)
  hang N                      the node stops answering (the watchdog restarts it)
  slow N MS                   every turn of N delayed by MS (0 ends it)
  flood N COUNT               COUNT stale messages into N's mailbox
  partition GROUPS            e.g. partition n1,n2|n3,n4,n5 (nodes in different groups cannot talk)
  cut A B                     cut the link from A to B (both directions: cut A B and cut B A)
  heal                        remove every partition and link fault
  transfer N                  hand leadership to N
  campaign N                  N starts an election now (a forced one: it wins if its log is up to date)
  load RATE [READ_SHARE]      the explorer's load generator at RATE ops/s (load 0 stops it)
  scenarios                   the scenario library, and which can run on this cluster
  run NAME                    run a scenario against this cluster (its verdict shows in the explorer)
  help                        this list`;

export interface ConsoleTarget {
  /** The cluster's HTTP API, e.g. http://127.0.0.1:7379 */
  readonly baseUrl: string;
  readonly adminToken: string | null;
}

interface Request {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: string;
}

/** A usage mistake in a console line: printed with its registered code, nothing is sent. */
class ConsoleUsage extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

function usage(message: string): never {
  throw new ConsoleUsage(apiError('INVALID_ARGUMENT', message));
}

/** `n1,n2|n3,n4,n5` as partition groups; refused unless every group is a non-empty list of names. */
export function parsePartitionSpec(spec: string): string[][] {
  const groups = spec.split('|').map((group) => group.split(',').map((id) => id.trim()));
  if (groups.length < 2 || groups.some((group) => group.some((id) => !/^[a-z][a-z0-9-]*$/i.test(id))))
    usage(`a partition is two or more groups of node ids, like n1,n2|n3,n4,n5; got "${spec}"`);
  return groups;
}

const enc = encodeURIComponent;

function requestOf(words: readonly string[]): Request | 'help' {
  const [command, a, b] = words;
  const want = (count: number, shape: string): void => {
    if (words.length !== count + 1) usage(`usage: ${command} ${shape}`);
  };
  switch (command) {
    case 'help':
      return 'help';
    case 'status':
      want(0, '');
      return { method: 'GET', path: '/v1/cluster' };
    case 'put':
      if (words.length < 3) usage('usage: put KEY VALUE');
      return { method: 'PUT', path: `/v1/kv/${enc(a as string)}`, body: words.slice(2).join(' ') };
    case 'get':
      want(1, 'KEY');
      return { method: 'GET', path: `/v1/kv/${enc(a as string)}` };
    case 'delete':
      want(1, 'KEY');
      return { method: 'DELETE', path: `/v1/kv/${enc(a as string)}` };
    case 'kill':
    case 'restart':
    case 'pause':
    case 'resume':
    case 'crash':
    case 'hang':
    case 'campaign':
      want(1, 'NODE');
      return { method: 'POST', path: `/v1/nodes/${enc(a as string)}/${command}` };
    case 'slow':
      want(2, 'NODE MS');
      return { method: 'POST', path: `/v1/nodes/${enc(a as string)}/slow`, body: JSON.stringify({ ms: Number(b) }) };
    case 'flood':
      want(2, 'NODE COUNT');
      return { method: 'POST', path: `/v1/nodes/${enc(a as string)}/flood`, body: JSON.stringify({ messages: Number(b) }) };
    case 'partition':
      want(1, 'GROUPS (like n1,n2|n3,n4,n5)');
      return { method: 'POST', path: '/v1/faults/partition', body: JSON.stringify({ groups: parsePartitionSpec(a as string) }) };
    case 'cut':
      want(2, 'FROM TO');
      return { method: 'POST', path: '/v1/faults/links', body: JSON.stringify({ from: a, to: b, cut: true }) };
    case 'heal':
      want(0, '');
      return { method: 'POST', path: '/v1/faults/heal' };
    case 'transfer':
      want(1, 'NODE');
      return { method: 'POST', path: '/v1/leader/transfer', body: JSON.stringify({ to: a }) };
    case 'load':
      if (words.length !== 2 && words.length !== 3) usage('usage: load RATE [READ_SHARE]');
      return {
        method: 'POST',
        path: '/explorer/load',
        body: JSON.stringify({ rate: Number(a), ...(b === undefined ? {} : { readShare: Number(b) }) }),
      };
    case 'scenarios':
      want(0, '');
      return { method: 'GET', path: '/explorer/scenarios' };
    case 'run':
      want(1, 'NAME');
      return { method: 'POST', path: `/explorer/scenarios/${enc(a as string)}/run` };
    default:
      throw new ConsoleUsage(apiError('NOT_FOUND', `unknown command ${command}; type help`));
  }
}

interface ClusterView {
  leader: string | null;
  term: number;
  nodes: {
    id: string;
    status: string;
    role: string | null;
    term: number | null;
    commitIndex: number | null;
    appliedIndex: number | null;
  }[];
}

interface ScenarioList {
  scenarios: { name: string; description: string; unfit: string | null }[];
  running: string | null;
}

function formatScenarios(list: ScenarioList): string {
  const lines = list.scenarios.map((s) => `  ${s.name.padEnd(22)} ${s.unfit === null ? s.description : `(cannot run here: ${s.unfit})`}`);
  return [`${list.scenarios.length} scenarios${list.running === null ? '' : `; running: ${list.running}`}`, ...lines].join('\n');
}

function formatStatus(view: ClusterView): string {
  const lines = [`leader ${view.leader ?? '(none)'}, term ${view.term}`];
  for (const n of view.nodes) {
    lines.push(
      `  ${n.id.padEnd(4)} ${n.status.padEnd(10)} ${(n.role ?? '-').padEnd(13)} term ${n.term ?? '-'}  commit ${n.commitIndex ?? '-'}  applied ${n.appliedIndex ?? '-'}`,
    );
  }
  return lines.join('\n');
}

/** Runs one console line against the cluster's HTTP API; returns what to print (errors as `CODE: message`). */
export async function runConsoleLine(line: string, target: ConsoleTarget): Promise<string> {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '');
  if (words.length === 0) return '';
  let request: Request | 'help';
  try {
    request = requestOf(words);
  } catch (error) {
    if (error instanceof ConsoleUsage) return `${error.error.code}: ${error.error.message}`;
    throw error;
  }
  if (request === 'help') return CONSOLE_HELP;
  const headers: Record<string, string> = {};
  if (target.adminToken !== null) headers.authorization = `Bearer ${target.adminToken}`;
  let response: Response;
  try {
    response = await fetch(`${target.baseUrl}${request.path}`, { method: request.method, body: request.body, headers });
  } catch (error) {
    return `cannot reach ${target.baseUrl}: ${(error as Error).message}`;
  }
  const json = (await response.json()) as Record<string, unknown>;
  const error = json.error as { code: string; message: string } | undefined;
  if (error !== undefined) return `${error.code}: ${error.message}`;
  if (words[0] === 'status') return formatStatus(json as unknown as ClusterView);
  if (words[0] === 'get') return `${String(json.value)} (index ${String(json.index)})`;
  if (words[0] === 'scenarios') return formatScenarios(json as unknown as ScenarioList);
  return `ok ${JSON.stringify(json)}`;
}

/** Reads commands from the terminal until it closes (Ctrl-D); Ctrl-C is left to the cluster's own handler. */
export function startConsole(target: ConsoleTarget, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): readline.Interface {
  const rl = readline.createInterface({ input, output, prompt: 'raftkv> ', terminal: true });
  // The terminal's Ctrl-C reaches readline, not the process: pass it on, so the cluster stops cleanly.
  rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  output.write('console: type help for the commands (the same actions as the explorer)\n');
  rl.prompt();
  // One command at a time, in the order typed (or pasted).
  let previous: Promise<void> = Promise.resolve();
  rl.on('line', (line) => {
    previous = previous.then(() =>
      runConsoleLine(line, target).then(
        (text) => {
          if (text !== '') output.write(`${text}\n`);
          rl.prompt();
        },
        (error: unknown) => {
          output.write(`error: ${(error as Error).message}\n`);
          rl.prompt();
        },
      ),
    );
  });
  return rl;
}
