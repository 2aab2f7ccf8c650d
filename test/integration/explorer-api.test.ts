// The explorer's server side (issue 14): the state, the event stream with replay from Last-Event-ID and a
// resync past the buffer, the alarms' absence on a healthy cluster, actions recorded, and the token off loopback.
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExplorerEvent, ExplorerState } from '../../src/protocol/explorer.js';
import { startService, type Service } from '../../src/router/service.js';
import { leaderOf, startCluster, waitFor, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;
let open: Service;
let guarded: Service;
const TOKEN = 'explorer-test-token';

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, stateMachine: 'kv' });
  open = await startService(cluster.supervisor, {
    host: '127.0.0.1',
    httpPort: 0,
    respPort: 0,
    adminToken: null,
    limits: { explorerEventsMax: 50 },
  });
  guarded = await startService(cluster.supervisor, { host: '127.0.0.1', httpPort: 0, respPort: 0, adminToken: TOKEN });
  await leaderOf(cluster.supervisor);
}, 60_000);

afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await cluster?.stop();
});

const url = (service: Service, path: string): string => `http://127.0.0.1:${service.http.port}${path}`;

/** An open event stream: the events parsed so far, and the raw text (to see comments and ids). */
interface Stream {
  readonly events: ExplorerEvent[];
  readonly status: number;
  close(): void;
}

function subscribe(service: Service, lastEventId: string | null = null): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = lastEventId === null ? {} : { 'last-event-id': lastEventId };
    const req = http.get(url(service, '/explorer/events'), { headers }, (res) => {
      const events: ExplorerEvent[] = [];
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data: '))
            .map((line) => line.slice(6))
            .join('\n');
          if (data !== '') events.push(JSON.parse(data) as ExplorerEvent);
        }
      });
      resolve({ events, status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
  });
}

describe('explorer: state and event stream', () => {
  it('serves the state of every node, with frames once the nodes report', async () => {
    // Frames lag the supervisor's word by up to a frame: wait for the leader's own frame to say so.
    const state = await waitFor("frames from every node, the leader's saying it leads", async () => {
      const body = (await (await fetch(url(open, '/explorer/state'))).json()) as ExplorerState;
      const framed = Object.values(body.node).every((n) => n.frame !== null);
      return framed && body.leader !== null && body.node[body.leader]?.frame?.role === 'leader' ? body : null;
    });
    expect(state.schema).toBe(1);
    expect(state.nodes).toEqual(['n1', 'n2', 'n3']);
    expect(state.leader).toBe(cluster.supervisor.leaderId);
    const leader = state.node[state.leader as string];
    expect(leader?.frame?.role).toBe('leader');
    expect(Object.keys(leader?.frame?.progress ?? {}).sort()).toEqual(['n1', 'n2', 'n3'].filter((id) => id !== state.leader));
    expect(leader?.supervision.state).toBe('running');
    expect(state.alarms).toEqual([]);
  });

  it('streams frames with traffic, and a kill as supervision and role events; an action is recorded', async () => {
    const stream = await subscribe(open);
    try {
      expect(stream.status).toBe(200);
      await waitFor('a frame with traffic', () =>
        stream.events.some((e) => e.kind === 'node-frame' && Object.values(e.links).some((l) => l.messages > 0)),
      );
      // The leader measures a round-trip time to its followers.
      const first = await leaderOf(cluster.supervisor);
      await waitFor('round-trip times from the leader', () =>
        stream.events.some(
          (e) => e.kind === 'node-frame' && e.node === first && Object.values(e.links).some((l) => l.rttMs !== null && l.rttMs > 0),
        ),
      );
      const leader = await leaderOf(cluster.supervisor);
      const response = await fetch(url(open, `/v1/nodes/${leader}/kill`), { method: 'POST' });
      expect(response.status).toBe(200);
      await waitFor('the kill as a supervision event', () =>
        stream.events.some((e) => e.kind === 'supervision' && e.node === leader && e.supervision.state === 'killed'),
      );
      await waitFor('the action', () => stream.events.some((e) => e.kind === 'action' && e.action.endsWith(`/${leader}/kill`) && e.ok));
      await waitFor('a new leader', () =>
        stream.events.some((e) => e.kind === 'role' && e.role === 'leader' && e.node !== leader) ? true : null,
      );
      await waitFor('votes', () => stream.events.some((e) => e.kind === 'vote'));
      const seqs = stream.events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      await fetch(url(open, `/v1/nodes/${leader}/restart`), { method: 'POST' });
      await waitFor('the restart', () =>
        stream.events.some((e) => e.kind === 'supervision' && e.node === leader && e.supervision.state === 'running'),
      );
    } finally {
      stream.close();
    }
  });

  it('stops the frames when switched off, for nodes started meanwhile too, and brings them back when on', async () => {
    let lastFrameAt = Date.now();
    const framed = new Set<string>();
    const onFrame = (id: string): void => {
      lastFrameAt = Date.now();
      framed.add(id);
    };
    cluster.supervisor.on('frame', onFrame);
    try {
      await cluster.supervisor.setExplorerFrames(false);
      // Frames already posted may still land; with frames on, every node reports each 100 ms while heartbeats flow.
      await waitFor('half a second without a frame', () => Date.now() - lastFrameAt > 500);
      const follower = cluster.supervisor.ids.find((id) => id !== cluster.supervisor.leaderId) as string;
      await cluster.supervisor.kill(follower);
      await cluster.supervisor.restart(follower);
      await waitFor(`${follower} running`, () => cluster.supervisor.stateOf(follower) === 'running');
      const quietFrom = Date.now();
      await waitFor('half a second more without a frame, after the restart', () => Date.now() - Math.max(lastFrameAt, quietFrom) > 500);
      expect(lastFrameAt).toBeLessThan(quietFrom);
      framed.clear();
      await cluster.supervisor.setExplorerFrames(true);
      await waitFor('frames from every node again', () => framed.size === cluster.supervisor.ids.length);
    } finally {
      cluster.supervisor.off('frame', onFrame);
      await cluster.supervisor.setExplorerFrames(true);
    }
  });

  it('replays from Last-Event-ID, and resyncs when the id is older than the buffer keeps', async () => {
    const first = await subscribe(open);
    await waitFor('some events', () => first.events.length >= 3);
    first.close();
    const last = first.events[first.events.length - 1] as ExplorerEvent;
    const replay = await subscribe(open, String(last.seq - 2));
    try {
      await waitFor('the replayed events', () => replay.events.length >= 2);
      expect(replay.events[0]?.seq).toBe(last.seq - 1);
      expect(replay.events[1]?.seq).toBe(last.seq);
    } finally {
      replay.close();
    }
    // explorerEventsMax is 50 on this server: frames flow every 100 ms per node, so seq 1 is long gone.
    await waitFor('the buffer to wrap', async () => open.explorer.lastSeq > 60);
    expect(open.explorer.bufferedEvents).toBeLessThanOrEqual(50);
    const stale = await subscribe(open, '1');
    try {
      const resync = await waitFor('a resync', () => stale.events.find((e) => e.kind === 'resync'));
      expect(resync.kind).toBe('resync');
    } finally {
      stale.close();
    }
  });

  it('records a refused action with its code', async () => {
    const stream = await subscribe(open);
    try {
      const response = await fetch(url(open, '/v1/faults/partition'), { method: 'POST', body: JSON.stringify({ groups: [['n1', 'n9']] }) });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNKNOWN_NODE');
      await waitFor('the refused action', () =>
        stream.events.some((e) => e.kind === 'action' && !e.ok && e.detail.startsWith('UNKNOWN_NODE')),
      );
    } finally {
      stream.close();
    }
  });

  it('draws a cut link from the links event, and heals it', async () => {
    const stream = await subscribe(open);
    try {
      const cut = await fetch(url(open, '/v1/faults/links'), { method: 'POST', body: JSON.stringify({ from: 'n1', to: 'n2', cut: true }) });
      expect(cut.status).toBe(200);
      await waitFor('the cut link', () =>
        stream.events.some((e) => e.kind === 'links' && e.faults.some((f) => f.from === 'n1' && f.to === 'n2' && f.faults.cut)),
      );
      const bad = await fetch(url(open, '/v1/faults/links'), { method: 'POST', body: JSON.stringify({ cut: 'yes' }) });
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
      await fetch(url(open, '/v1/faults/heal'), { method: 'POST' });
      await waitFor('the healed links', () => stream.events.some((e) => e.kind === 'links' && e.faults.length === 0));
    } finally {
      stream.close();
    }
  });

  it('runs the load generator at a set rate, reports each second, and stops at rate 0', async () => {
    const post = (body: unknown): Promise<Response> => fetch(url(open, '/explorer/load'), { method: 'POST', body: JSON.stringify(body) });
    const stream = await subscribe(open);
    try {
      expect((await post({ rate: 50, readShare: 0.5 })).status).toBe(200);
      const second = await waitFor('a second of load with answers', () =>
        stream.events.find((e) => e.kind === 'load' && e.ok > 0 && e.rate === 50),
      );
      expect(second.kind === 'load' && second.p99Ms).toBeGreaterThan(0);
      const state = (await (await fetch(url(open, '/explorer/state'))).json()) as ExplorerState;
      expect(state.load).toEqual({ rate: 50, readShare: 0.5 });
      expect((await post({ rate: 0 })).status).toBe(200);
      const tooFast = await post({ rate: 1_000_000 });
      expect(((await tooFast.json()) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
      const badShare = await post({ rate: 10, readShare: 2 });
      expect(((await badShare.json()) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
    } finally {
      stream.close();
    }
  });

  it('joins a cut link with cut:false; refuses pause and transfer for a node that is not running', async () => {
    await fetch(url(open, '/v1/faults/links'), { method: 'POST', body: JSON.stringify({ from: 'n2', to: 'n3', cut: true }) });
    expect(cluster.supervisor.linkFaults().some((f) => f.from === 'n2' && f.to === 'n3' && f.faults.cut)).toBe(true);
    await fetch(url(open, '/v1/faults/links'), { method: 'POST', body: JSON.stringify({ from: 'n2', to: 'n3', drop: 0.1 }) });
    expect(cluster.supervisor.linkFaults().some((f) => f.from === 'n2' && f.to === 'n3' && f.faults.cut)).toBe(true);
    await fetch(url(open, '/v1/faults/links'), { method: 'POST', body: JSON.stringify({ from: 'n2', to: 'n3', cut: false, drop: 0 }) });
    expect(cluster.supervisor.linkFaults()).toEqual([]);
    const leader = await leaderOf(cluster.supervisor);
    const other = cluster.supervisor.ids.find((id) => id !== leader) as string;
    await fetch(url(open, `/v1/nodes/${other}/kill`), { method: 'POST' });
    try {
      const pause = await fetch(url(open, `/v1/nodes/${other}/pause`), { method: 'POST' });
      expect(((await pause.json()) as { error: { code: string } }).error.code).toBe('NODE_STOPPED');
      const transfer = await fetch(url(open, '/v1/leader/transfer'), { method: 'POST', body: JSON.stringify({ to: other }) });
      expect(((await transfer.json()) as { error: { code: string } }).error.code).toBe('NODE_STOPPED');
    } finally {
      await fetch(url(open, `/v1/nodes/${other}/restart`), { method: 'POST' });
    }
  });

  it('answers unknown explorer paths and methods with registered errors', async () => {
    const missing = await fetch(url(open, '/explorer/assets/nothing-here.js'));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const traversal = await fetch(url(open, '/explorer/assets/..%2Fpackage.json'));
    expect(((await traversal.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const post = await fetch(url(open, '/explorer/state'), { method: 'POST' });
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('refuses a page of another origin, and lets its own page act', async () => {
    const foreign = await fetch(url(open, '/v1/faults/heal'), { method: 'POST', headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN_ORIGIN');
    const read = await fetch(url(open, '/explorer/state'), { headers: { origin: 'http://127.0.0.1:1' } });
    expect(((await read.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN_ORIGIN');
    const own = await fetch(url(open, '/v1/faults/heal'), { method: 'POST', headers: { origin: `http://127.0.0.1:${open.http.port}` } });
    expect(own.status).toBe(200);
  });

  it('requires the admin token when one is set, for the state, the stream and the page alike', async () => {
    for (const path of ['/explorer/state', '/explorer/events', '/']) {
      const refused = await fetch(url(guarded, path));
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
    const withQuery = await fetch(url(guarded, `/explorer/state?token=${TOKEN}`));
    expect(withQuery.status).toBe(200);
    const withHeader = await fetch(url(guarded, '/explorer/state'), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(withHeader.status).toBe(200);
  });
});
