/**
 * `raftkv member list | add ID [--learner] [--address HOST:PORT] | promote ID | remove ID`: membership changes
 * of a running cluster through any member's HTTP API (GET/POST/DELETE /v1/members), after `etcdctl member`.
 * One change at a time, each answered once the leader has committed it.
 */
import { parseArgs } from 'node:util';
import type { MembersView } from '../actor/supervisor.js';
import { UsageError } from './usage-error.js';

export const MEMBER_USAGE = `usage: raftkv member list [--endpoint URL]
       raftkv member add ID [--learner] [--address HOST:PORT] [--endpoint URL] [--admin-token T]
       raftkv member promote ID [--endpoint URL] [--admin-token T]
       raftkv member remove ID [--endpoint URL] [--admin-token T]
  list      every voter and learner: its peer address, how far its log matches the leader's, its state
  add       a new member; --learner (recommended) adds it without a vote until it is promoted. A member of
            raftkv node runs elsewhere: give --address, then start it with raftkv node --join --cluster-id ID
            (the id is printed here); raftkv cluster starts it itself
  promote   gives a learner its vote, once its log is within learnerCatchUpEntriesMax of the leader's
            (LEARNER_NOT_CAUGHT_UP otherwise: retry later)
  remove    takes a member out; a removed leader steps down once the change commits
  --endpoint      any member's HTTP API (default http://127.0.0.1:7379)
  --admin-token   the admin token (or RAFTKV_ADMIN_TOKEN), when the cluster has one
  Exit 0 on success; 1 with the error's code and message when refused.`;

/** How long a change may take: the leader answers once it has committed it (or the router gives up first). */
const MEMBER_TIMEOUT_MS = 30_000;

export async function runMemberCommand(argv: readonly string[], out: (line: string) => void = console.log): Promise<number> {
  const [verb, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        endpoint: { type: 'string', default: 'http://127.0.0.1:7379' },
        'admin-token': { type: 'string' },
        learner: { type: 'boolean', default: false },
        address: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, MEMBER_USAGE);
  }
  const { values, positionals } = parsed;
  const endpoint = values.endpoint.replace(/\/+$/, '');
  const token = values['admin-token'] ?? process.env.RAFTKV_ADMIN_TOKEN;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const id = positionals[0];
  if (verb !== 'list' && (id === undefined || positionals.length > 1))
    throw new UsageError(`member ${verb ?? ''}: give exactly one ID`, MEMBER_USAGE);
  let request: { method: string; path: string; body?: string };
  switch (verb) {
    case 'list':
      if (positionals.length > 0) throw new UsageError('member list takes no ID', MEMBER_USAGE);
      request = { method: 'GET', path: '/v1/members' };
      break;
    case 'add':
      request = {
        method: 'POST',
        path: '/v1/members',
        body: JSON.stringify({ id, learner: values.learner, ...(values.address === undefined ? {} : { address: values.address }) }),
      };
      break;
    case 'promote':
      request = { method: 'POST', path: `/v1/members/${encodeURIComponent(id as string)}/promote` };
      break;
    case 'remove':
      request = { method: 'DELETE', path: `/v1/members/${encodeURIComponent(id as string)}` };
      break;
    default:
      throw new UsageError(`member needs list, add, promote or remove, got ${verb ?? 'nothing'}`, MEMBER_USAGE);
  }
  let response: Response;
  try {
    response = await fetch(`${endpoint}${request.path}`, {
      method: request.method,
      headers,
      signal: AbortSignal.timeout(MEMBER_TIMEOUT_MS),
      ...(request.body === undefined ? {} : { body: request.body }),
    });
  } catch (error) {
    out(`raftkv: cannot reach ${endpoint}: ${(error as Error).message}`);
    return 1;
  }
  const body = (await response.json().catch(() => ({}))) as {
    error?: { code: string; message: string };
    members?: MembersView;
  } & Partial<MembersView>;
  if (!response.ok) {
    out(`raftkv: ${body.error?.code ?? response.status}: ${body.error?.message ?? response.statusText}`);
    return 1;
  }
  const view = (verb === 'list' ? body : body.members) as MembersView | undefined;
  if (verb !== 'list') out(`${verb} ${id as string}: committed`);
  if (view !== undefined) {
    out(`leader ${view.leader ?? '(none)'}, term ${view.term}, last index ${view.lastIndex}`);
    for (const member of view.members) {
      const match = member.matchIndex === null ? '-' : String(member.matchIndex);
      out(
        `${member.id.padEnd(8)} ${member.role.padEnd(8)} ${(member.address ?? '-').padEnd(22)} match ${match.padEnd(10)} ${member.state ?? '-'}`,
      );
    }
  }
  if (verb === 'add' && values.address !== undefined) {
    const cluster = (await fetch(`${endpoint}/v1/status`)
      .then((r) => r.json())
      .catch(() => ({}))) as { clusterId?: string };
    out(
      `start it with: raftkv node --id ${id as string} --join --cluster-id ${cluster.clusterId ?? '<GET /v1/status clusterId>'} --peers <every member, ${id as string} included>`,
    );
  }
  return 0;
}
