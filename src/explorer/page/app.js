// The explorer page (issue 14): the live cluster from GET /explorer/state and the event stream GET /explorer/events
// (Server-Sent Events of src/protocol/explorer.ts), and one-click faults through the admin API. Plain modern JS,
// no build step, no framework, nothing fetched from outside this server.

const SVG_NS = 'http://www.w3.org/2000/svg';
const LOG_ROWS_MAX = 500;
const DOTS_MAX = 40;
/** At most one animated dot per directed link per this many ms. */
const DOT_EVERY_MS = 250;
/** A link's traffic older than this (stream time) counts as none. */
const TRAFFIC_STALE_MS = 1_000;
/** When the browser gives up on the stream (a CLOSED EventSource), a new one is opened after this. */
const REOPEN_MS = 2_000;
const RING = { cx: 320, cy: 320, r: 220, node: 44 };
const UP_STATES = new Set(['running', 'paused']);
/** Supervision states the tree remembers the reason of once the node is running again (not the way back: starting). */
const TROUBLE_STATES = new Set(['killed', 'paused', 'restarting', 'failed']);
/** The trace schema this page reads and writes (EXPLORER_SCHEMA_VERSION of src/protocol/explorer.ts). */
const SCHEMA = 1;
/** Events kept for export; past this the oldest are folded into the trace's start state. */
const RECORD_EVENTS_MAX = 20_000;
/** The load charts' window. */
const CHART_WINDOW_MS = 60_000;
/** Supervision states kept per node (the tree's history, for tests and the tooltip). */
const SUPERVISION_HISTORY_MAX = 20;
const SCENARIO_LINES_MAX = 300;
/** Replay: how often the player advances, in wall-clock ms. */
const PLAY_STEP_MS = 50;
/** How often the page asks GET /v1/members for the members' roles (voter, learner) while live and visible. */
const MEMBERS_POLL_MS = 3_000;
/** Members a cluster may have (CLUSTER_NODES_MAX of src/actor/supervisor.ts). */
const MEMBERS_MAX = 9;

/** Everything the page knows; `state` follows the ExplorerState shape and is updated by events. */
const model = {
  /** @type {any} the last ExplorerState, kept current by events */
  state: null,
  /** The highest event seq applied to the state. */
  seq: 0,
  /** The highest event seq shown in the log. */
  loggedSeq: 0,
  /** Events that arrived while the state was being fetched. */
  pending: /** @type {any[]} */ ([]),
  fetchingState: false,
  /** `${from}>${to}` -> {messages, bytes, dropped, t} from the last node frame of `from`. */
  traffic: new Map(),
  /** `${from}>${to}` -> wall-clock ms of the last dot drawn. */
  lastDot: new Map(),
  dotsLive: 0,
  /** Selected nodes, oldest first, at most two. */
  selected: /** @type {string[]} */ ([]),
  /** Partition groups being made (by dragging, clicking or typing): node -> 'A' | 'B' | 'C'. */
  groups: new Map(),
  /** Event log rows, latest first, with the text the filter matches. */
  rows: /** @type {{seq: number, kind: string, text: string, cls: string}[]} */ ([]),
  alarms: /** @type {string[]} */ ([]),
  alarmsDismissed: 0,
  /** node -> the supervision states it went through (latest last), and the reason of the last change. */
  supervisionHistory: /** @type {Map<string, string[]>} */ (new Map()),
  /** node -> the last time it was not running: that state, its reason, the stream time. */
  lastTrouble: /** @type {Map<string, {state: string, reason: string, t: number | null}>} */ (new Map()),
  /** One point per `load` event, the last CHART_WINDOW_MS of them. */
  loadPoints:
    /** @type {{t: number, rate: number, ok: number, failed: number, skipped: number, p50Ms: number, p99Ms: number, fault: boolean}[]} */ ([]),
  /** Stream time when a node was last seen not running or a link cut (the charts shade such seconds). */
  lastFaultT: -Infinity,
  chartsDirty: true,
  /** GET /explorer/scenarios, and the run the page follows through `scenario` events. */
  scenarios: /** @type {any[] | null} */ (null),
  scenarioRunning: /** @type {string | null} */ (null),
  scenarioLines: /** @type {string[]} */ ([]),
  scenarioVerdict: /** @type {any} */ (null),
  /** The live session for export: the state fetched at connect and every event applied since (bounded). */
  recording: /** @type {{start: any, events: any[]} | null} */ (null),
  /** Set when the next state fetched starts a new recording (a new stream, or a resync: events were lost). */
  recordingReset: true,
  /** GET /v1/members as last fetched: member id -> its role and how far the leader knows its log matches. */
  members: /** @type {Map<string, {role: string, matchIndex: number | null}> | null} */ (null),
  /**
   * Members removed from the live cluster: a late event about one (a frame its worker sent on its way out) must not
   * bring it back on the ring; a supervision event that it is starting again (added anew) does.
   */
  gone: /** @type {Set<string>} */ (new Set()),
  /** Replay mode: the trace, how far it is applied, the player. */
  replay: /** @type {{trace: any, index: number, t: number, endT: number, timer: number, name: string} | null} */ (null),
};

/** The admin token when the server requires one: the page is opened as /?token=..., and passes it on. */
const TOKEN = new URLSearchParams(location.search).get('token');
const withToken = (path) => (TOKEN === null ? path : `${path}?token=${encodeURIComponent(TOKEN)}`);

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const el = {
  ring: $('ring'),
  links: $('links-layer'),
  dots: $('dots-layer'),
  nodes: $('nodes-layer'),
  summary: $('summary'),
  status: $('stream-status'),
  selection: $('selection'),
  actionResult: $('action-result'),
  kvResult: $('kv-result'),
  strips: $('log-strips'),
  log: $('event-log'),
  logCount: $('event-count'),
  filter: /** @type {HTMLInputElement} */ ($('event-filter')),
  pause: /** @type {HTMLInputElement} */ ($('event-pause')),
  frames: /** @type {HTMLInputElement} */ ($('event-frames')),
  alarm: $('alarm-banner'),
  alarmText: $('alarm-text'),
  partitionInput: /** @type {HTMLInputElement} */ ($('partition-input')),
  partitionPick: /** @type {HTMLInputElement} */ ($('partition-pick')),
  board: $('partition-board'),
  kvKey: /** @type {HTMLInputElement} */ ($('kv-key')),
  kvValue: /** @type {HTMLInputElement} */ ($('kv-value')),
  slowMs: /** @type {HTMLInputElement} */ ($('slow-ms')),
  floodCount: /** @type {HTMLInputElement} */ ($('flood-count')),
  tree: $('supervision-tree'),
  treeSummary: $('supervision-summary'),
  loadRate: /** @type {HTMLInputElement} */ ($('load-rate')),
  loadRateValue: $('load-rate-value'),
  loadReadShare: /** @type {HTMLInputElement} */ ($('load-read-share')),
  loadStatus: $('load-status'),
  loadResult: $('load-result'),
  throughput: /** @type {HTMLCanvasElement} */ ($('load-throughput')),
  latency: /** @type {HTMLCanvasElement} */ ($('load-latency')),
  scenarioList: $('scenario-list'),
  scenarioRunning: $('scenario-running'),
  scenarioResult: $('scenario-result'),
  scenarioVerdict: $('scenario-verdict'),
  scenarioLog: $('scenario-log'),
  traceInfo: $('trace-info'),
  traceError: $('trace-error'),
  traceImport: /** @type {HTMLInputElement} */ ($('trace-import')),
  replayLive: /** @type {HTMLButtonElement} */ ($('replay-live')),
  replayControls: $('replay-controls'),
  replayPlay: /** @type {HTMLButtonElement} */ ($('replay-play')),
  replaySpeed: /** @type {HTMLSelectElement} */ ($('replay-speed')),
  replayTime: $('replay-time'),
  replaySlider: /** @type {HTMLInputElement} */ ($('replay-slider')),
  memberList: $('member-list'),
  membersSummary: $('members-summary'),
};

// ---------------------------------------------------------------------------------------------------------------
// The stream

/** @type {EventSource | null} */
let stream = null;
let needState = true;
let reopenTimer = 0;

function setStatus(status) {
  el.status.textContent = status;
  el.status.dataset.status = status;
}

/** Stops listening to the live stream (replay mode, or before opening a new one). */
function closeStream() {
  clearTimeout(reopenTimer);
  if (stream !== null) stream.close();
  stream = null;
  exposed.stream = null;
}

function openStream() {
  closeStream();
  needState = true;
  // A new EventSource sends no Last-Event-ID: what happened meanwhile is not replayed, so the export starts anew.
  model.recordingReset = true;
  setStatus('connecting');
  const source = new EventSource(withToken('/explorer/events'));
  stream = source;
  exposed.stream = source;
  source.onopen = () => {
    if (source !== stream) return;
    setStatus('live');
    // Subscribed first, then the state: every event after the state's seq arrives on the stream, none is missed.
    if (needState) void loadState();
  };
  source.onmessage = (message) => {
    if (source !== stream) return;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      logRow({ seq: 0, kind: 'error', text: `an event that is not JSON: ${String(message.data).slice(0, 80)}`, cls: 'bad' });
      return;
    }
    receive(event);
  };
  source.onerror = () => {
    if (source !== stream) return;
    setStatus('reconnecting');
    // The browser reconnects by itself (sending Last-Event-ID); fetch the state again once it is back.
    needState = true;
    if (source.readyState === EventSource.CLOSED) reopenTimer = setTimeout(openStream, REOPEN_MS);
  };
}

async function loadState() {
  if (model.fetchingState) return;
  model.fetchingState = true;
  needState = false;
  try {
    const response = await fetch(withToken('/explorer/state'), { cache: 'no-store' });
    if (!response.ok) throw new Error(`GET /explorer/state answered ${response.status}`);
    const state = await response.json();
    // Replay began while the state was on its way: the live state is not wanted now.
    if (model.replay !== null) return;
    installState(state);
    if (model.scenarios === null) void loadScenarios();
  } catch (error) {
    needState = true;
    showResult(el.actionResult, false, `could not load the state: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    model.fetchingState = false;
  }
}

function installState(state) {
  const fresh = model.state === null || model.state.nodes.join() !== state.nodes.join();
  // Members removed since the last state are gone: no selection, partition group or late event keeps them.
  for (const id of model.state?.nodes ?? []) if (!state.nodes.includes(id)) model.gone.add(id);
  for (const id of state.nodes) model.gone.delete(id);
  model.selected = model.selected.filter((id) => state.nodes.includes(id));
  for (const id of [...model.groups.keys()]) if (!state.nodes.includes(id)) setGroup(id, undefined, false);
  state.links ??= [];
  state.alarms ??= [];
  state.load ??= { rate: 0, readShare: 0.5 };
  model.state = state;
  model.seq = state.seq;
  if (model.recordingReset || model.recording === null) {
    model.recordingReset = false;
    model.recording = { start: structuredClone(state), events: [] };
  }
  for (const alarm of state.alarms) noteAlarm(alarm);
  for (const id of state.nodes) noteSupervision(id, state.node[id]?.supervision);
  if (fresh) buildRing();
  showLoadSettings(state.load);
  const pending = model.pending;
  model.pending = [];
  for (const event of pending) {
    record(event);
    if (event.seq > model.seq) apply(event);
  }
  render();
  scheduleMembers(0);
}

function receive(event) {
  // Replay mode listens to nothing live.
  if (model.replay !== null) return;
  if (event.kind === 'resync') {
    logRow({ seq: event.seq, kind: 'resync', text: `resync: ${event.reason}`, cls: 'warn' });
    model.pending = [];
    model.recordingReset = true;
    void loadState();
    return;
  }
  // The log shows every event once, as it arrives, even one the state fetched after a reconnect already covers.
  if (event.seq > model.loggedSeq) {
    model.loggedSeq = event.seq;
    if (event.kind !== 'node-frame' || el.frames.checked) logRow(rowOf(event));
  }
  if (event.kind === 'alarm') noteAlarm(event);
  record(event);
  if (model.state === null || model.fetchingState) {
    model.pending.push(event);
    return;
  }
  if (event.seq <= model.seq) return;
  apply(event);
  scheduleRender();
  if (event.kind === 'supervision') {
    // A member added or removed: its supervision says so first. A removed one ends `stopped` and leaves the
    // supervisor's ids, so the state is fetched again to drop it; either way the roles are asked for again.
    if (event.supervision.state === 'stopped') void loadState();
    scheduleMembers(200);
  }
}

/**
 * Keeps a live event for export when it follows the recording (by seq: after a reconnect the stream replays what
 * was missed, which a state fetched meanwhile may already cover, and the recording still needs). While a new
 * recording waits for its start state, installState records the events that arrived meanwhile.
 */
function record(event) {
  const recording = model.recording;
  if (recording === null || model.recordingReset) return;
  if (event.seq <= (recording.events.at(-1)?.seq ?? recording.start.seq)) return;
  recording.events.push(event);
  if (recording.events.length > RECORD_EVENTS_MAX) {
    const folded = recording.events.splice(0, recording.events.length - RECORD_EVENTS_MAX + RECORD_EVENTS_MAX / 10);
    const shadow = { state: recording.start };
    for (const old of folded) apply(old, shadow);
  }
}

/**
 * Applies one event to a view whose `state` is an ExplorerState, which then stands as of `event.seq`. The one place
 * an event changes what the page knows: the live stream, replay and the export's rolling start all go through it.
 * The page's own model (live or replay) also gets the drawing's traffic, the supervision history, the load series
 * and the scenario panel; any other view only its state.
 */
function apply(event, view = model) {
  const state = view.state;
  const shown = view === model;
  const faultChange = shown && (event.kind === 'supervision' || event.kind === 'links');
  // A fault that this event ends was in force until now: its last second is shaded too.
  if (faultChange && faultNow()) model.lastFaultT = event.t;
  if (shown) model.seq = event.seq;
  state.seq = event.seq;
  state.t = event.t;
  if (shown && typeof event.node === 'string' && model.gone.has(event.node)) {
    const startsAgain = event.kind === 'supervision' && event.supervision.state !== 'stopped';
    if (!startsAgain) return;
    model.gone.delete(event.node);
  }
  switch (event.kind) {
    case 'node-frame': {
      const entry = nodeEntry(state, event.node, shown);
      entry.frame = event.state;
      entry.frameT = event.t;
      if (!shown) break;
      for (const peer of state.nodes) {
        if (peer === event.node) continue;
        const traffic = event.links[peer];
        const key = `${event.node}>${peer}`;
        if (traffic === undefined) model.traffic.delete(key);
        else {
          model.traffic.set(key, { ...traffic, t: event.t });
          if (traffic.messages > 0) dot(event.node, peer);
        }
      }
      break;
    }
    case 'role': {
      const entry = nodeEntry(state, event.node, shown);
      entry.frame = { ...(entry.frame ?? emptyFrame()), role: event.role, term: event.term, leaderId: event.leaderId };
      if (event.role === 'leader') {
        state.leader = event.node;
        state.term = event.term;
      } else if (state.leader === event.node) state.leader = null;
      break;
    }
    case 'snapshot': {
      const entry = nodeEntry(state, event.node, shown);
      if (entry.frame !== null) entry.frame = { ...entry.frame, snapshotIndex: Math.max(entry.frame.snapshotIndex, event.index) };
      break;
    }
    case 'supervision': {
      const entry = nodeEntry(state, event.node, shown);
      entry.supervision = event.supervision;
      if (shown) noteSupervision(event.node, event.supervision, event.t);
      // A node that is not up has no live numbers: its last frame would show a role it no longer has.
      if (!UP_STATES.has(event.supervision.state)) {
        entry.frame = null;
        if (state.leader === event.node) state.leader = null;
      }
      break;
    }
    case 'links':
      state.links = event.faults;
      break;
    case 'load':
      state.load = { rate: event.rate, readShare: event.readShare };
      if (shown) addLoadPoint(event);
      break;
    case 'action':
      // The load generator's settings change by an action (a rate of 0 sends no more load events to say so).
      if (event.ok && event.action === 'POST /explorer/load') {
        try {
          const settings = JSON.parse(event.detail);
          if (typeof settings?.rate === 'number') state.load = { rate: settings.rate, readShare: settings.readShare ?? 0.5 };
        } catch {
          // not the settings: leave them
        }
      }
      break;
    case 'alarm':
      state.alarms = [...(state.alarms ?? []), event].slice(-100);
      break;
    case 'scenario':
      if (shown) noteScenario(event);
      break;
    default:
      break;
  }
  if (faultChange && faultNow()) model.lastFaultT = event.t;
}

function nodeEntry(state, id, shown) {
  const nodes = state.node;
  if (nodes[id] === undefined) {
    nodes[id] = { supervision: { state: 'running', restarts: 0, backoffMs: null, reason: '' }, frame: null, frameT: null };
  }
  if (!state.nodes.includes(id)) {
    state.nodes = [...state.nodes, id];
    if (shown) buildRing();
  }
  return nodes[id];
}

/** A node not running, or a link cut, now. */
function faultNow() {
  const state = model.state;
  if (state === null) return false;
  return (
    state.nodes.some((id) => (state.node[id]?.supervision?.state ?? 'running') !== 'running') ||
    (state.links ?? []).some((entry) => entry.faults?.cut === true)
  );
}

function noteSupervision(id, supervision, t = null) {
  if (supervision === undefined) return;
  const history = model.supervisionHistory.get(id) ?? [];
  if (history.at(-1) !== supervision.state) history.push(supervision.state);
  // The tree keeps saying why a node last left `running`, after it is back.
  if (TROUBLE_STATES.has(supervision.state) && supervision.reason !== '')
    model.lastTrouble.set(id, { state: supervision.state, reason: supervision.reason, t });
  if (history.length > SUPERVISION_HISTORY_MAX) history.splice(0, history.length - SUPERVISION_HISTORY_MAX);
  model.supervisionHistory.set(id, history);
}

function addLoadPoint(event) {
  // The second this point covers is shaded when a fault was in force at any time in it.
  const fault = faultNow() || model.lastFaultT > event.t - 1_000;
  model.loadPoints.push({
    t: event.t,
    rate: event.rate,
    ok: event.ok,
    failed: event.failed,
    skipped: event.skipped,
    p50Ms: event.p50Ms,
    p99Ms: event.p99Ms,
    fault,
  });
  while (model.loadPoints.length > 0 && (model.loadPoints[0].t <= event.t - CHART_WINDOW_MS || model.loadPoints.length > 600)) {
    model.loadPoints.shift();
  }
  model.chartsDirty = true;
}

function noteScenario(event) {
  if (event.phase === 'started') {
    model.scenarioRunning = event.name;
    model.scenarioLines = [];
    model.scenarioVerdict = null;
  }
  model.scenarioLines.push(event.phase === 'started' ? `started: ${event.detail}` : event.detail);
  if (model.scenarioLines.length > SCENARIO_LINES_MAX) model.scenarioLines.splice(0, model.scenarioLines.length - SCENARIO_LINES_MAX);
  if (event.phase === 'verdict') {
    model.scenarioRunning = null;
    model.scenarioVerdict = { name: event.name, ok: event.ok === true, detail: event.detail, report: event.report ?? null };
  }
  renderScenarios();
}

function emptyFrame() {
  return {
    role: 'follower',
    term: 0,
    leaderId: null,
    votedFor: null,
    commitIndex: 0,
    appliedIndex: 0,
    lastIndex: 0,
    snapshotIndex: 0,
    mailboxDepth: 0,
    paused: false,
    electionElapsed: 0,
    electionTimeout: 1,
    progress: {},
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing

function svg(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (parent !== null) parent.appendChild(node);
  return node;
}

function html(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  if (parent !== null) parent.appendChild(node);
  return node;
}

/** Position of each node on the ring, the first at the top, clockwise. */
const positions = new Map();
/** Per node and per link, the elements render() updates. */
const nodeViews = new Map();
const linkViews = new Map();
const stripViews = new Map();
const treeViews = new Map();

function buildRing() {
  const ids = model.state.nodes;
  positions.clear();
  nodeViews.clear();
  linkViews.clear();
  stripViews.clear();
  el.links.replaceChildren();
  el.nodes.replaceChildren();
  el.dots.replaceChildren();
  el.strips.replaceChildren();
  el.tree.replaceChildren();
  treeViews.clear();
  ids.forEach((id, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
    positions.set(id, { x: RING.cx + RING.r * Math.cos(angle), y: RING.cy + RING.r * Math.sin(angle) });
  });
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const a = ids[i];
      const b = ids[j];
      const pa = positions.get(a);
      const pb = positions.get(b);
      const group = svg(
        'g',
        { class: 'link', 'data-testid': `link-${a}-${b}`, 'data-from': a, 'data-to': b, 'data-cut': 'false' },
        el.links,
      );
      const line = svg('line', { x1: pa.x, y1: pa.y, x2: pb.x, y2: pb.y, class: 'link-line' }, group);
      svg('line', { x1: pa.x, y1: pa.y, x2: pb.x, y2: pb.y, class: 'link-hit' }, group);
      const label = svg('text', { x: (pa.x + pb.x) / 2, y: (pa.y + pb.y) / 2 - 4, class: 'link-label' }, group);
      group.addEventListener('click', () => selectLink(a, b));
      linkViews.set(`${a}-${b}`, { group, line, label });
    }
  }
  for (const id of ids) {
    const { x, y } = positions.get(id);
    const group = svg(
      'g',
      { class: 'node', 'data-testid': `node-${id}`, 'data-node': id, 'data-drag-node': id, transform: `translate(${x} ${y})` },
      el.nodes,
    );
    const select = svg('circle', { r: RING.node + 14, class: 'node-select' }, group);
    const timer = svg('circle', { r: RING.node + 7, class: 'node-timer', pathLength: 100, transform: 'rotate(-90)' }, group);
    const body = svg('circle', { r: RING.node, class: 'node-body' }, group);
    const name = svg('text', { y: -14, class: 'node-name' }, group);
    name.textContent = id;
    const role = svg('text', { y: 6, class: 'node-role', 'data-testid': `node-${id}-role` }, group);
    const term = svg('text', { y: 24, class: 'node-term', 'data-testid': `node-${id}-term` }, group);
    const supervision = svg('text', { y: RING.node + 30, class: 'node-supervision', 'data-testid': `node-${id}-supervision` }, group);
    const badge = svg('text', { x: RING.node - 2, y: -RING.node + 8, class: 'node-badge' }, group);
    // A learner (GET /v1/members) wears a dotted outer ring and says so above itself: it gets the log, never votes.
    const learnerRing = svg('circle', { r: RING.node + 20, class: 'node-learner-ring' }, group);
    const member = svg('text', { y: -RING.node - 26, class: 'node-member', 'data-testid': `node-${id}-member` }, group);
    group.addEventListener('click', () => clickNode(id));
    nodeViews.set(id, { group, select, timer, body, role, term, supervision, badge, learnerRing, member });

    const strip = html('div', { class: 'strip', 'data-testid': `strip-${id}` }, el.strips);
    html('span', { class: 'strip-name' }, strip, id);
    const bar = html('div', { class: 'bar' }, strip);
    const segments = ['snap', 'applied', 'committed', 'uncommitted'].map((cls) => html('span', { class: `seg ${cls}` }, bar));
    const numbers = html('div', { class: 'numbers' }, strip);
    html('span', {}, numbers, 'snap ');
    const snap = html('b', { 'data-testid': `node-${id}-snapshot` }, numbers);
    html('span', {}, numbers, ' · applied ');
    const applied = html('b', { 'data-testid': `node-${id}-applied` }, numbers);
    html('span', {}, numbers, ' · commit ');
    const commit = html('b', { 'data-testid': `node-${id}-commit` }, numbers);
    html('span', {}, numbers, ' · last ');
    const last = html('b', { 'data-testid': `node-${id}-last` }, numbers);
    const progress = html('div', { class: 'progress', 'data-testid': `node-${id}-progress` }, strip);
    stripViews.set(id, { strip, segments, snap, applied, commit, last, progress });

    const row = html('li', { class: 'actor', 'data-testid': `supervision-${id}`, 'data-node': id }, el.tree);
    html('span', { class: 'actor-name' }, row, id);
    const actorState = html('span', { class: 'actor-state', 'data-testid': `supervision-${id}-state` }, row);
    const restarts = html('span', { class: 'actor-restarts', 'data-testid': `supervision-${id}-restarts` }, row);
    const reason = html('span', { class: 'actor-reason', 'data-testid': `supervision-${id}-reason` }, row);
    const trouble = html('span', { class: 'actor-trouble', 'data-testid': `supervision-${id}-last-fault` }, row);
    row.addEventListener('click', () => clickNode(id));
    treeViews.set(id, { row, state: actorState, restarts, reason, trouble });
  }
}

let renderTimer = 0;
function scheduleRender() {
  if (renderTimer !== 0) return;
  renderTimer = setTimeout(() => {
    renderTimer = 0;
    render();
  }, 40);
}

function termColour(term) {
  return `hsl(${(term * 137.508) % 360} 55% 42%)`;
}

function render() {
  const state = model.state;
  if (state === null) return;
  const leader = state.leader;
  el.summary.textContent = `${leader === null ? 'no leader' : `leader ${leader}`} · term ${state.term} · event ${state.seq}`;
  el.summary.dataset.leader = leader ?? '';

  const maxLast = Math.max(1, ...state.nodes.map((id) => state.node[id]?.frame?.lastIndex ?? 0));
  for (const id of state.nodes) {
    const view = nodeViews.get(id);
    const entry = state.node[id];
    if (view === undefined || entry === undefined) continue;
    const sup = entry.supervision;
    const frame = UP_STATES.has(sup.state) ? entry.frame : null;
    const role = frame === null ? 'down' : frame.role;
    const term = frame === null ? null : frame.term;
    const g = view.group;
    g.dataset.role = role;
    g.dataset.term = term === null ? '' : String(term);
    g.dataset.state = sup.state;
    g.dataset.commit = frame === null ? '' : String(frame.commitIndex);
    g.dataset.applied = frame === null ? '' : String(frame.appliedIndex);
    g.dataset.lastIndex = frame === null ? '' : String(frame.lastIndex);
    g.dataset.restarts = String(sup.restarts);
    g.dataset.selected = String(model.selected.includes(id));
    g.dataset.group = model.groups.get(id) ?? '';
    g.setAttribute('class', `node role-${role} state-${sup.state}`);
    view.body.style.fill = term === null ? '' : termColour(term);
    view.role.textContent = frame === null ? '—' : role;
    view.term.textContent = term === null ? '' : `term ${term}`;
    let supText = sup.state;
    if (sup.state === 'restarting' && sup.backoffMs !== null) supText += ` (backoff ${sup.backoffMs} ms)`;
    if (sup.restarts > 0) supText += ` · restarts ${sup.restarts}`;
    view.supervision.textContent = supText;
    view.supervision.setAttribute('title', sup.reason);
    view.badge.textContent = model.groups.get(id) ?? '';
    const memberRole = model.members?.get(id)?.role ?? '';
    g.dataset.member = memberRole;
    if (memberRole === 'learner') g.classList.add('member-learner');
    view.member.textContent = memberRole === 'learner' ? 'learner' : '';
    const elapsed = frame === null || frame.electionTimeout <= 0 ? 0 : Math.min(1, frame.electionElapsed / frame.electionTimeout);
    view.timer.setAttribute('stroke-dasharray', `${(elapsed * 100).toFixed(1)} 100`);

    const strip = stripViews.get(id);
    strip.strip.classList.toggle('leader', role === 'leader');
    const snapIndex = frame?.snapshotIndex ?? 0;
    const applied = frame?.appliedIndex ?? 0;
    const commit = frame?.commitIndex ?? 0;
    const last = frame?.lastIndex ?? 0;
    const widths = [
      snapIndex,
      Math.max(0, applied - snapIndex),
      Math.max(0, commit - Math.max(applied, snapIndex)),
      Math.max(0, last - commit),
    ];
    widths.forEach((w, i) => (strip.segments[i].style.width = `${((100 * w) / maxLast).toFixed(2)}%`));
    strip.snap.textContent = frame === null ? '—' : String(snapIndex);
    strip.applied.textContent = frame === null ? '—' : String(applied);
    strip.commit.textContent = frame === null ? '—' : String(commit);
    strip.last.textContent = frame === null ? '—' : String(last);
    strip.progress.textContent =
      role === 'leader'
        ? Object.entries(frame.progress)
            .map(([peer, p]) => `${peer} match ${p.match} next ${p.next}`)
            .join(' · ')
        : '';
  }

  const faultsOf = new Map();
  for (const entry of state.links ?? []) faultsOf.set(`${entry.from}>${entry.to}`, entry.faults);
  for (const [key, view] of linkViews) {
    const [a, b] = key.split('-');
    const ab = faultsOf.get(`${a}>${b}`);
    const ba = faultsOf.get(`${b}>${a}`);
    const cut = Boolean(ab?.cut || ba?.cut);
    const lossy = [ab, ba].some((f) => f !== undefined && !f.cut && (f.drop > 0 || f.duplicate > 0 || f.delayMs[1] > 0));
    const messages = trafficOf(a, b) + trafficOf(b, a);
    const rtt = rttOf(a, b) ?? rttOf(b, a);
    view.group.dataset.rtt = rtt === null ? '' : rtt.toFixed(2);
    view.group.dataset.cut = String(cut);
    view.group.dataset.lossy = String(lossy);
    view.group.dataset.messages = String(messages);
    view.group.dataset.selected = String(model.selected.length === 2 && model.selected.includes(a) && model.selected.includes(b));
    view.group.setAttribute('class', `link${cut ? ' cut' : ''}${lossy ? ' lossy' : ''}`);
    view.line.style.strokeWidth = cut ? '' : String(1 + Math.log2(1 + messages));
    const describe = [];
    if (cut) describe.push(ab?.cut && ba?.cut ? 'cut' : `cut ${ab?.cut ? `${a}→${b}` : `${b}→${a}`}`);
    for (const [from, to, f] of [
      [a, b, ab],
      [b, a, ba],
    ]) {
      if (f === undefined || f.cut) continue;
      if (f.drop > 0) describe.push(`${from}→${to} drop ${Math.round(f.drop * 100)}%`);
      if (f.delayMs[1] > 0) describe.push(`${from}→${to} delay ${f.delayMs[0]}–${f.delayMs[1]} ms`);
      if (f.duplicate > 0) describe.push(`${from}→${to} dup ${Math.round(f.duplicate * 100)}%`);
    }
    const traffic = messages > 0 ? `${messages}${rtt === null ? '' : ` · ${rtt < 10 ? rtt.toFixed(1) : Math.round(rtt)} ms`}` : '';
    view.label.textContent = cut || lossy ? describe.join(', ') : traffic;
    view.label.setAttribute('title', rtt === null ? '' : `round trip ${rtt.toFixed(2)} ms (the leader's heartbeat round to this node)`);
  }
  renderTree();
  renderMembers();
  renderLoad();
  renderSelection();
  renderBoard();
}

/** The supervision tree: one row per node actor under the supervisor. */
function renderTree() {
  const state = model.state;
  const counts = new Map();
  for (const id of state.nodes) {
    const view = treeViews.get(id);
    const sup = state.node[id]?.supervision ?? { state: 'unknown', restarts: 0, backoffMs: null, reason: '' };
    counts.set(sup.state, (counts.get(sup.state) ?? 0) + 1);
    if (view === undefined) continue;
    const history = model.supervisionHistory.get(id) ?? [];
    view.row.dataset.state = sup.state;
    view.row.dataset.restarts = String(sup.restarts);
    view.row.dataset.history = history.join(',');
    view.row.dataset.selected = String(model.selected.includes(id));
    view.row.className = `actor state-${sup.state}`;
    view.row.dataset.member = model.members?.get(id)?.role ?? '';
    view.state.textContent =
      sup.state === 'restarting' && sup.backoffMs !== null
        ? `restarting (backoff ${sup.backoffMs} ms)`
        : sup.state === 'failed'
          ? 'FAILED'
          : sup.state;
    view.restarts.textContent = `restarts ${sup.restarts}`;
    view.reason.textContent = sup.reason === '' ? '' : sup.state === 'failed' ? `gave up: ${sup.reason}` : sup.reason;
    view.row.title = `states: ${history.join(' → ')}`;
    const trouble = model.lastTrouble.get(id);
    view.trouble.textContent =
      trouble === undefined || sup.state !== 'running'
        ? ''
        : `last ${trouble.state}${trouble.t === null ? '' : ` at ${(trouble.t / 1000).toFixed(1)}s`}: ${trouble.reason}`;
  }
  el.treeSummary.textContent = [...counts].map(([name, n]) => `${n} ${name}`).join(' · ');
  el.treeSummary.dataset.failed = String(counts.get('failed') ?? 0);
}

/** The leader's round-trip time on the link from `from` to `to` in its last fresh frame, or null. */
function rttOf(from, to) {
  const traffic = model.traffic.get(`${from}>${to}`);
  if (traffic === undefined || model.state.t - traffic.t > TRAFFIC_STALE_MS) return null;
  return typeof traffic.rttMs === 'number' ? traffic.rttMs : null;
}

function trafficOf(from, to) {
  const traffic = model.traffic.get(`${from}>${to}`);
  if (traffic === undefined || model.state.t - traffic.t > TRAFFIC_STALE_MS) return 0;
  return traffic.messages;
}

/** A dot along the link from `from` to `to`: sampled per link, capped in number, skipped while hidden. */
function dot(from, to) {
  if (document.hidden || model.dotsLive >= DOTS_MAX) return;
  const key = `${from}>${to}`;
  const now = performance.now();
  if (now - (model.lastDot.get(key) ?? -Infinity) < DOT_EVERY_MS) return;
  const a = positions.get(from);
  const b = positions.get(to);
  if (a === undefined || b === undefined) return;
  model.lastDot.set(key, now);
  model.dotsLive++;
  const circle = svg('circle', { r: 4, class: 'dot' }, el.dots);
  const animation = circle.animate([{ transform: `translate(${a.x}px, ${a.y}px)` }, { transform: `translate(${b.x}px, ${b.y}px)` }], {
    duration: 350,
    easing: 'ease-in-out',
  });
  const done = () => {
    model.dotsLive--;
    circle.remove();
  };
  animation.onfinish = done;
  animation.oncancel = done;
}

// ---------------------------------------------------------------------------------------------------------------
// Selection and actions

function clickNode(id) {
  if (dragJustEnded) return; // the click that ends a drag is no click on the node
  if (el.partitionPick.checked) {
    setGroup(id, { undefined: 'A', A: 'B', B: 'C', C: undefined }[String(model.groups.get(id))]);
    return;
  } else if (model.selected.includes(id)) model.selected = model.selected.filter((n) => n !== id);
  else model.selected = [...model.selected, id].slice(-2);
  render();
}

// ---------------------------------------------------------------------------------------------------------------
// Partition groups: dragged, clicked or typed. The box always holds the groups as text (A|B|C, empty ones left
// out); what the board and the ring's badges show is parsed back from it.

const GROUPS = ['A', 'B', 'C'];

/** Puts `id` in group `group` (undefined: in none), and writes the groups into the box. */
function setGroup(id, group, draw = true) {
  if (group === undefined) model.groups.delete(id);
  else model.groups.set(id, group);
  el.partitionInput.value = GROUPS.map((g) => [...model.groups].filter(([, x]) => x === g).map(([n]) => n))
    .filter((members) => members.length > 0)
    .map((members) => members.join(','))
    .join('|');
  if (draw) render();
}

/** The box typed into: its first three groups become A, B, C (nodes the page does not know are left out). */
function groupsFromInput() {
  model.groups.clear();
  const known = new Set(model.state?.nodes ?? []);
  parseGroups(el.partitionInput.value)
    .slice(0, GROUPS.length)
    .forEach((members, i) => members.filter((n) => known.has(n)).forEach((n) => model.groups.set(n, GROUPS[i])));
  render();
}

function renderBoard() {
  const ids = model.state?.nodes ?? [];
  for (const zone of el.board.querySelectorAll('[data-zone]')) {
    const group = zone.getAttribute('data-zone');
    const members = ids.filter((id) => (model.groups.get(id) ?? '') === group);
    const chips = [...zone.querySelectorAll('.chip')];
    if (chips.map((c) => c.textContent).join(',') === members.join(',')) continue;
    chips.forEach((c) => c.remove());
    for (const id of members) html('span', { class: 'chip', 'data-drag-node': id, 'data-testid': `partition-chip-${id}` }, zone, id);
  }
}

/** A drag in progress: pointer events, so that a node of the ring (SVG) and a chip of the board drag alike. */
let drag = null;
/** True from the end of a drag until the click that the browser sends after it has passed. */
let dragJustEnded = false;

function zoneAt(x, y) {
  const hit = document.elementFromPoint(x, y);
  return hit === null ? null : hit.closest('[data-zone]');
}

function markZone(zone) {
  for (const z of el.board.querySelectorAll('[data-zone]')) z.classList.toggle('over', z === zone);
}

document.addEventListener('pointerdown', (event) => {
  if (event.button !== 0 || model.replay !== null || !(event.target instanceof Element)) return;
  const source = event.target.closest('[data-drag-node]');
  if (source === null) return;
  drag = { id: source.getAttribute('data-drag-node'), x: event.clientX, y: event.clientY, ghost: null };
});
document.addEventListener('pointermove', (event) => {
  if (drag === null) return;
  if (drag.ghost === null) {
    if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < 5) return;
    drag.ghost = html('div', { class: 'drag-ghost', 'data-testid': 'drag-ghost' }, document.body, drag.id);
    document.body.classList.add('dragging');
  }
  drag.ghost.style.left = `${event.clientX + 10}px`;
  drag.ghost.style.top = `${event.clientY + 10}px`;
  markZone(zoneAt(event.clientX, event.clientY));
  event.preventDefault();
});
function endDrag(event, dropped) {
  if (drag === null) return;
  const { id, ghost } = drag;
  drag = null;
  if (ghost === null) return; // no more than a click
  ghost.remove();
  document.body.classList.remove('dragging');
  markZone(null);
  dragJustEnded = true;
  setTimeout(() => (dragJustEnded = false), 0);
  const zone = dropped ? zoneAt(event.clientX, event.clientY) : null;
  if (zone !== null) setGroup(id, zone.getAttribute('data-zone') || undefined);
}
document.addEventListener('pointerup', (event) => endDrag(event, true));
document.addEventListener('pointercancel', (event) => endDrag(event, false));

function selectLink(a, b) {
  model.selected = model.selected.length === 2 && model.selected.includes(a) && model.selected.includes(b) ? [] : [a, b];
  render();
}

function renderSelection() {
  const sel = model.selected;
  el.selection.textContent = sel.length === 0 ? 'nothing selected' : sel.length === 1 ? `node ${sel[0]}` : `link ${sel[0]} – ${sel[1]}`;
  el.selection.dataset.selected = sel.join(',');
  // Replay shows a recording: nothing on the page acts on the live cluster then.
  const replaying = model.replay !== null;
  for (const button of document.querySelectorAll('[data-action]')) {
    const action = button.getAttribute('data-action');
    if (action === 'add-learner') continue; // renderMembers: it needs no selection, but room and no change on its way
    const needs = action.startsWith('link-') ? 2 : action in nodeActions || action === 'transfer' ? 1 : 0;
    /** @type {HTMLButtonElement} */ (button).disabled =
      replaying || (needs === 1 ? sel.length < 1 : needs === 2 ? sel.length !== 2 : false);
  }
  for (const button of document.querySelectorAll('[data-kv], #load-start, #load-stop')) {
    /** @type {HTMLButtonElement} */ (button).disabled = replaying;
  }
}

/** A POST or other call to the API; resolves to {ok, status, body}, never rejects. */
async function call(method, path, body) {
  try {
    const init = { method, headers: TOKEN === null ? {} : { 'x-admin-token': TOKEN } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers['content-type'] = typeof body === 'string' ? 'application/octet-stream' : 'application/json';
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { ok: response.ok, status: response.status, body: json ?? text };
  } catch (error) {
    return { ok: false, status: 0, body: { error: { code: 'NETWORK', message: error instanceof Error ? error.message : String(error) } } };
  }
}

function errorText(reply) {
  const error = reply.body?.error;
  if (error !== undefined) return `${error.code}: ${error.message}`;
  return `HTTP ${reply.status}: ${typeof reply.body === 'string' ? reply.body.slice(0, 200) : JSON.stringify(reply.body)}`;
}

function showResult(target, ok, text) {
  target.textContent = text;
  target.dataset.ok = String(ok);
}

function parseGroups(text) {
  const groups = text
    .split('|')
    .map((g) =>
      g
        .split(/[\s,]+/)
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    )
    .filter((g) => g.length > 0);
  return groups;
}

const nodeActions = {
  kill: 'kill',
  restart: 'restart',
  pause: 'pause',
  resume: 'resume',
  crash: 'crash',
  hang: 'hang',
  slow: 'slow',
  flood: 'flood',
  campaign: 'campaign',
};

/** A whole number from an input, or null (with the reason shown) when it is not one. */
function integerOf(input, name, min) {
  const text = input.value.trim();
  const value = Number(text);
  if (text === '' || !Number.isInteger(value) || value < min) {
    showResult(el.actionResult, false, `${name}: type a whole number of at least ${min}`);
    return null;
  }
  return value;
}

async function act(action) {
  if (action === 'add-learner') {
    const id = nextMemberId();
    await changeMembers(`add learner ${id}`, 'POST', '/v1/members', { id, learner: true });
    return;
  }
  const [first, second] = model.selected;
  /** @type {[string, string, any][]} method, path, body */
  let calls = [];
  let what = action;
  if (action in nodeActions) {
    let body;
    what = `${action} ${first}`;
    if (action === 'slow') {
      const ms = integerOf(el.slowMs, 'slow', 0);
      if (ms === null) return;
      body = { ms };
      what = ms === 0 ? `slow ${first} off` : `slow ${first} by ${ms} ms a turn`;
    } else if (action === 'flood') {
      const messages = integerOf(el.floodCount, 'flood', 1);
      if (messages === null) return;
      body = { messages };
      what = `flood ${first} with ${messages} messages`;
    }
    calls = [['POST', `/v1/nodes/${encodeURIComponent(first)}/${nodeActions[action]}`, body]];
  } else if (action === 'transfer') {
    calls = [['POST', '/v1/leader/transfer', { to: first }]];
    what = `transfer leadership to ${first}`;
  } else if (action.startsWith('link-')) {
    const faults = {
      'link-cut': { cut: true },
      'link-drop': { drop: 0.4 },
      'link-delay': { delayMs: [50, 150] },
      'link-heal': { cut: false, drop: 0, duplicate: 0, delayMs: [0, 0] },
    }[action];
    calls = [
      ['POST', '/v1/faults/links', { from: first, to: second, ...faults }],
      ['POST', '/v1/faults/links', { from: second, to: first, ...faults }],
    ];
    what = `${action.slice(5)} ${first} – ${second}`;
  } else if (action === 'partition') {
    const groups = parseGroups(el.partitionInput.value);
    if (groups.length < 2) {
      showResult(el.actionResult, false, 'partition: type two or more groups, like n1,n2|n3,n4,n5');
      return;
    }
    calls = [['POST', '/v1/faults/partition', { groups }]];
    what = `partition ${groups.map((g) => g.join(',')).join(' | ')}`;
  } else if (action === 'heal-all') {
    calls = [['POST', '/v1/faults/heal', {}]];
    what = 'heal all';
  }
  showResult(el.actionResult, true, `${what}…`);
  let lastReply = null;
  for (const [method, path, body] of calls) {
    const reply = await call(method, path, body);
    lastReply = reply;
    if (!reply.ok) {
      showResult(el.actionResult, false, `${what} failed: ${errorText(reply)}`);
      return;
    }
    // A server that does not know a fault field answers without it: say so rather than pretend.
    if (action === 'link-cut' && reply.body?.cut !== true) {
      showResult(el.actionResult, false, `${what}: the server did not apply the cut (answered ${JSON.stringify(reply.body)})`);
      return;
    }
  }
  const answer = lastReply?.body;
  const shown = ['crash', 'hang', 'slow', 'flood'].includes(action) && answer !== null && typeof answer === 'object';
  showResult(el.actionResult, true, `${what}: ok${shown ? ` ${JSON.stringify(answer)}` : ''}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Membership: the members' roles from GET /v1/members, and the changes (one at a time, answered once committed)

let membersTimer = 0;
let membersFetching = false;
/** A membership change is on its way: the member buttons wait for it. */
let membersBusy = false;

/** Asks for the roles again in `delayMs` (a burst of supervision events makes one request). */
function scheduleMembers(delayMs) {
  if (model.replay !== null) return;
  clearTimeout(membersTimer);
  membersTimer = setTimeout(() => void refreshMembers(), delayMs);
}

function noteMembers(list) {
  model.members = new Map(list.map((member) => [member.id, { role: member.role, matchIndex: member.matchIndex ?? null }]));
}

async function refreshMembers() {
  if (model.replay !== null || membersFetching) return;
  membersFetching = true;
  try {
    const reply = await call('GET', '/v1/members');
    // A failed poll keeps the roles last known; the next one tries again.
    if (!reply.ok || model.replay !== null || !Array.isArray(reply.body?.members)) return;
    noteMembers(reply.body.members);
    render();
  } finally {
    membersFetching = false;
  }
}

/** The id "add learner" gives: n{N+1}, N the highest number of an nN member (or the member count). */
function nextMemberId() {
  const ids = model.state?.nodes ?? [];
  const numbers = ids.map((id) => /^n(\d+)$/.exec(id)).map((match) => (match === null ? 0 : Number(match[1])));
  return `n${Math.max(ids.length, ...numbers) + 1}`;
}

/** One membership change through the admin API; its outcome (or its error code) shows where every action's does. */
async function changeMembers(what, method, path, body) {
  if (membersBusy) return;
  membersBusy = true;
  showResult(el.actionResult, true, `${what}…`);
  renderMembers();
  const reply = await call(method, path, body);
  membersBusy = false;
  if (!reply.ok) {
    showResult(el.actionResult, false, `${what} failed: ${errorText(reply)}`);
    renderMembers();
    return;
  }
  if (Array.isArray(reply.body?.members)) noteMembers(reply.body.members);
  showResult(el.actionResult, true, `${what}: ok at index ${reply.body?.index}`);
  // The members are the supervisor's ids too: the state says which nodes to draw now.
  void loadState();
  render();
}

/** The member list of the actions panel: each node with its role, a promote button for a learner, a remove button. */
let membersShown = '';
function renderMembers() {
  const state = model.state;
  if (state === null) return;
  const replaying = model.replay !== null;
  const roleOf = (id) => model.members?.get(id)?.role ?? '?';
  const addButton = /** @type {HTMLButtonElement} */ ($('action-add-learner'));
  addButton.textContent = `add learner ${nextMemberId()}`;
  addButton.disabled = replaying || membersBusy || state.nodes.length >= MEMBERS_MAX;
  const learners = state.nodes.filter((id) => roleOf(id) === 'learner').length;
  const count = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;
  el.membersSummary.textContent =
    model.members === null ? '' : `${count(state.nodes.length - learners, 'voter')} · ${count(learners, 'learner')}`;
  const shown = JSON.stringify([state.nodes.map((id) => [id, roleOf(id)]), replaying, membersBusy]);
  if (shown === membersShown) return;
  membersShown = shown;
  const items = state.nodes.map((id) => {
    const role = roleOf(id);
    const item = html('li', { class: `member member-${role}`, 'data-testid': `member-${id}`, 'data-role': role });
    html('b', {}, item, id);
    html('span', { class: 'member-role', 'data-testid': `member-${id}-role` }, item, role);
    if (role === 'learner') {
      const promote = html(
        'button',
        { type: 'button', 'data-testid': `member-promote-${id}`, title: `make ${id} a voter` },
        item,
        'promote',
      );
      promote.disabled = replaying || membersBusy;
      promote.addEventListener('click', () => void changeMembers(`promote ${id}`, 'POST', `/v1/members/${encodeURIComponent(id)}/promote`));
    }
    const remove = html(
      'button',
      { type: 'button', 'data-testid': `member-remove-${id}`, title: `remove ${id} from the cluster` },
      item,
      'remove',
    );
    remove.disabled = replaying || membersBusy;
    remove.addEventListener('click', () => void changeMembers(`remove member ${id}`, 'DELETE', `/v1/members/${encodeURIComponent(id)}`));
    return item;
  });
  el.memberList.replaceChildren(...items);
}

async function kv(op) {
  const key = el.kvKey.value;
  if (key === '') {
    showResult(el.kvResult, false, 'type a key');
    return;
  }
  const path = `/v1/kv/${encodeURIComponent(key)}`;
  el.kvResult.dataset.index = '';
  showResult(el.kvResult, true, `${op} ${key}…`);
  const reply = op === 'put' ? await call('PUT', path, el.kvValue.value) : await call(op === 'get' ? 'GET' : 'DELETE', path);
  if (!reply.ok) {
    showResult(el.kvResult, false, `${op} ${key} failed: ${errorText(reply)}`);
    return;
  }
  const body = reply.body;
  if (typeof body?.index === 'number') el.kvResult.dataset.index = String(body.index);
  if (op === 'put') showResult(el.kvResult, true, `put ${key}: ok at index ${body.index}`);
  else if (op === 'get') showResult(el.kvResult, true, `get ${key} = ${JSON.stringify(body.value)} (written at index ${body.index})`);
  else showResult(el.kvResult, true, `delete ${key}: ${body.deleted ? 'deleted' : 'was not there'} at index ${body.index}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Load: the generator's settings, and its per-second results drawn on two canvases

function showLoadSettings(load) {
  if (load === undefined || load === null) return;
  if (load.rate > 0) {
    el.loadRate.value = String(load.rate);
    el.loadRateValue.textContent = String(load.rate);
  }
  el.loadReadShare.value = String(load.readShare);
}

async function setLoad(start) {
  const rate = start ? Number(el.loadRate.value) : 0;
  const readShare = Number(el.loadReadShare.value);
  if (!Number.isFinite(readShare) || readShare < 0 || readShare > 1) {
    showResult(el.loadResult, false, 'reads: a share from 0 to 1');
    return;
  }
  const what = start ? `load ${rate} ops/s, ${Math.round(readShare * 100)}% reads` : 'stop the load';
  showResult(el.loadResult, true, `${what}…`);
  const reply = await call('POST', '/explorer/load', { rate, readShare });
  if (!reply.ok) {
    showResult(el.loadResult, false, `${what} failed: ${errorText(reply)}`);
    return;
  }
  if (model.state !== null && model.replay === null) model.state.load = { rate: reply.body.rate, readShare: reply.body.readShare };
  showResult(el.loadResult, true, `${what}: ok`);
  render();
}

let chartsDrawnAt = 0;

function renderLoad() {
  const load = model.state.load ?? { rate: 0, readShare: 0.5 };
  el.loadStatus.textContent = load.rate > 0 ? `running: ${load.rate} ops/s, ${Math.round(load.readShare * 100)}% reads` : 'off';
  el.loadStatus.dataset.rate = String(load.rate);
  // The window scrolls with stream time; redrawn when a point arrives, else at most once a second.
  const now = performance.now();
  if (!model.chartsDirty && now - chartsDrawnAt < 1_000) return;
  model.chartsDirty = false;
  chartsDrawnAt = now;
  const endT = Math.max(model.state.t, model.loadPoints.at(-1)?.t ?? 0);
  drawChart(el.throughput, endT, [
    { key: 'ok', colour: '#3ecf8e' },
    { key: 'failed', colour: '#ff4d4f' },
  ]);
  drawChart(el.latency, endT, [
    { key: 'p50Ms', colour: '#4ea1ff' },
    { key: 'p99Ms', colour: '#f0b429' },
  ]);
}

/** A rounded-up axis top: 1, 2 or 5 times a power of ten. */
function niceCeiling(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** One chart of the load points: the fault seconds shaded, a line per series, the last CHART_WINDOW_MS. */
function drawChart(canvas, endT, series) {
  const ctx = canvas.getContext('2d');
  if (ctx === null) return;
  const w = canvas.width;
  const h = canvas.height;
  const pad = { left: 44, right: 8, top: 8, bottom: 18 };
  const startT = endT - CHART_WINDOW_MS;
  const points = model.loadPoints.filter((p) => p.t > startT);
  const x = (t) => pad.left + ((t - startT) / CHART_WINDOW_MS) * (w - pad.left - pad.right);
  let top = 0;
  for (const p of points) for (const s of series) top = Math.max(top, p[s.key]);
  top = niceCeiling(top);
  const y = (v) => h - pad.bottom - (v / top) * (h - pad.top - pad.bottom);
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = 'rgba(255, 77, 79, 0.22)';
  for (const p of points) {
    if (!p.fault) continue;
    const left = Math.max(pad.left, x(p.t - 1_000));
    ctx.fillRect(left, pad.top, x(p.t) - left, h - pad.top - pad.bottom);
  }
  ctx.strokeStyle = '#3a3f49';
  ctx.fillStyle = '#8a919c';
  ctx.lineWidth = 1;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of [0, top / 2, top]) {
    ctx.beginPath();
    ctx.moveTo(pad.left, Math.round(y(v)) + 0.5);
    ctx.lineTo(w - pad.right, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillText(String(Number.isInteger(v) ? v : v.toFixed(1)), pad.left - 4, y(v));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const back of [60, 45, 30, 15, 0]) {
    ctx.textAlign = back === 0 ? 'right' : back === 60 ? 'left' : 'center';
    ctx.fillText(back === 0 ? 'now' : `-${back}s`, x(endT - back * 1_000), h - pad.bottom + 4);
  }
  for (const s of series) {
    ctx.strokeStyle = s.colour;
    ctx.fillStyle = s.colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((p, i) => (i === 0 ? ctx.moveTo(x(p.t), y(p[s.key])) : ctx.lineTo(x(p.t), y(p[s.key]))));
    ctx.stroke();
    const last = points.at(-1);
    if (last !== undefined) {
      ctx.beginPath();
      ctx.arc(x(last.t), y(last[s.key]), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  canvas.dataset.points = String(points.length);
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios: the library of the server, one run at a time, its log and verdict from `scenario` events

async function loadScenarios() {
  const reply = await call('GET', '/explorer/scenarios');
  if (!reply.ok) {
    model.scenarios = [];
    showResult(
      el.scenarioResult,
      false,
      reply.status === 404 ? 'this server runs no scenarios' : `could not list the scenarios: ${errorText(reply)}`,
    );
    renderScenarios();
    return;
  }
  model.scenarios = reply.body.scenarios ?? [];
  if (model.replay === null) model.scenarioRunning = reply.body.running ?? model.scenarioRunning;
  renderScenarios();
}

function renderScenarios() {
  const list = model.scenarios ?? [];
  const running = model.scenarioRunning;
  const items = list.map((scenario) => {
    const item = html('li', { class: 'scenario', 'data-testid': `scenario-${scenario.name}`, 'data-unfit': scenario.unfit ?? '' });
    const head = html('div', { class: 'scenario-head' }, item);
    const run = /** @type {HTMLButtonElement} */ (
      html('button', { type: 'button', 'data-testid': `scenario-run-${scenario.name}`, 'data-scenario': scenario.name }, head, 'run')
    );
    run.disabled = scenario.unfit !== null || running !== null || model.replay !== null;
    if (scenario.unfit !== null) run.title = `cannot run here: ${scenario.unfit}`;
    html('b', {}, head, scenario.name);
    html(
      'span',
      { class: 'muted' },
      head,
      ` ${scenario.nodes ?? '?'} nodes · ${scenario.storage ?? '?'} · ${Math.round((scenario.durationMs ?? 0) / 1000)} s${running === scenario.name ? ' · running' : ''}`,
    );
    html('div', { class: 'scenario-description' }, item, scenario.description ?? '');
    if (scenario.unfit !== null)
      html(
        'div',
        { class: 'scenario-unfit', 'data-testid': `scenario-unfit-${scenario.name}` },
        item,
        `cannot run here: ${scenario.unfit}`,
      );
    run.addEventListener('click', () => void runScenario(scenario.name));
    return item;
  });
  el.scenarioList.replaceChildren(...items);
  if (list.length === 0 && model.scenarios !== null) el.scenarioList.replaceChildren(html('li', { class: 'muted' }, null, 'no scenarios'));
  el.scenarioRunning.textContent = running === null ? '' : `running ${running}`;
  el.scenarioRunning.dataset.running = running ?? '';
  el.scenarioLog.replaceChildren(...model.scenarioLines.map((line) => html('li', {}, null, line)));
  el.scenarioLog.scrollTop = el.scenarioLog.scrollHeight;
  const verdict = model.scenarioVerdict;
  el.scenarioVerdict.hidden = verdict === null;
  if (verdict !== null) {
    el.scenarioVerdict.dataset.ok = String(verdict.ok);
    el.scenarioVerdict.dataset.name = verdict.name;
    const children = [
      html('strong', {}, null, verdict.ok ? 'PASS' : 'FAIL'),
      document.createTextNode(` ${verdict.name}: ${verdict.detail} `),
    ];
    if (verdict.report !== null) {
      children.push(
        html('a', { href: withToken(verdict.report), target: '_blank', rel: 'noopener', 'data-testid': 'scenario-report' }, null, 'report'),
      );
    }
    el.scenarioVerdict.replaceChildren(...children);
  } else el.scenarioVerdict.replaceChildren();
}

async function runScenario(name) {
  showResult(el.scenarioResult, true, `run ${name}…`);
  const reply = await call('POST', `/explorer/scenarios/${encodeURIComponent(name)}/run`);
  if (!reply.ok) {
    showResult(el.scenarioResult, false, `run ${name} failed: ${errorText(reply)}`);
    return;
  }
  // The started event follows on the stream; until then the run is known from the answer.
  if (model.scenarioRunning === null) {
    model.scenarioRunning = name;
    model.scenarioLines = [];
    model.scenarioVerdict = null;
  }
  showResult(el.scenarioResult, true, `run ${name}: started, seed ${reply.body.seed}`);
  renderScenarios();
}

// ---------------------------------------------------------------------------------------------------------------
// Traces: export the live session, import one (the simulator writes the same), replay it with a time slider

function currentTrace() {
  if (model.replay !== null) return model.replay.trace;
  const recording = model.recording;
  if (recording === null) return null;
  return { schema: SCHEMA, source: 'live', start: recording.start, events: recording.events };
}

function exportTrace() {
  const trace = currentTrace();
  if (trace === null) {
    showResult(el.traceError, false, 'nothing to export yet: the state has not loaded');
    return;
  }
  const blob = new Blob([JSON.stringify(trace)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const link = html('a', { href: url, download: `raftkv-trace-${trace.source}-${stamp}.json` }, document.body);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  showResult(el.traceError, true, `exported ${trace.events.length} events`);
}

/** Reads a trace file, refusing another schema or a malformed one with a message that says why. */
function parseTrace(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (value === null || typeof value !== 'object') throw new Error('a trace is a JSON object');
  if (value.schema !== SCHEMA) throw new Error(`trace schema ${String(value.schema)}, this page reads schema ${SCHEMA}`);
  if (value.source !== 'live' && value.source !== 'simulator') throw new Error('trace source must be live or simulator');
  const start = value.start;
  if (start === null || typeof start !== 'object' || !Array.isArray(start.nodes) || typeof start.node !== 'object')
    throw new Error('a trace has a start state with nodes');
  if (!Array.isArray(value.events)) throw new Error('a trace has an events array');
  let seq = -Infinity;
  for (const event of value.events) {
    if (typeof event?.seq !== 'number' || event.seq <= seq) throw new Error(`trace events must have increasing seq (after ${seq})`);
    if (typeof event.t !== 'number' || typeof event.kind !== 'string') throw new Error(`trace event ${event.seq} has no t or kind`);
    seq = event.seq;
  }
  return value;
}

async function importTrace(file) {
  let trace;
  try {
    trace = parseTrace(await file.text());
  } catch (error) {
    showResult(el.traceError, false, `${file.name} refused: ${error instanceof Error ? error.message : String(error)}`);
    return;
  } finally {
    el.traceImport.value = '';
  }
  enterReplay(trace, file.name);
}

function enterReplay(trace, name) {
  closeStream();
  stopPlaying();
  const events = trace.events;
  const startT = trace.start.t ?? 0;
  const endT = Math.max(startT, events.at(-1)?.t ?? startT);
  model.replay = { trace, index: 0, t: startT, endT, timer: 0, name };
  model.pending = [];
  // Results of live requests say nothing about the recording.
  for (const result of [el.actionResult, el.kvResult, el.loadResult, el.scenarioResult]) showResult(result, true, '');
  setStatus('replay');
  document.body.dataset.mode = 'replay';
  el.replayControls.hidden = false;
  el.replayLive.hidden = false;
  el.replaySlider.min = String(startT);
  el.replaySlider.max = String(endT);
  showResult(el.traceError, true, `replaying ${name}: ${trace.source}, ${trace.start.nodes.length} nodes, ${events.length} events`);
  resetView(trace.start);
  seekReplay(startT);
}

/** The page as of a state: the model, the drawing, the log, the panels' series all start again from it. */
function resetView(state) {
  model.state = structuredClone(state);
  model.state.links ??= [];
  model.state.alarms ??= [];
  model.state.load ??= { rate: 0, readShare: 0.5 };
  model.seq = model.state.seq;
  model.loggedSeq = model.state.seq;
  model.traffic.clear();
  model.supervisionHistory.clear();
  model.lastTrouble.clear();
  model.loadPoints = [];
  model.lastFaultT = -Infinity;
  model.chartsDirty = true;
  model.scenarioRunning = null;
  model.scenarioLines = [];
  model.scenarioVerdict = null;
  model.rows = [];
  model.alarms = [];
  // A recording's members are its own: no roles are known of them, none is gone.
  model.members = null;
  model.gone.clear();
  el.alarm.hidden = true;
  el.dots.replaceChildren();
  model.dotsLive = 0;
  rebuildLog();
  for (const alarm of model.state.alarms) noteAlarm(alarm);
  for (const id of model.state.nodes) noteSupervision(id, model.state.node[id]?.supervision);
  buildRing();
  renderScenarios();
}

/** Replay up to time `t`: forward from where it is, or from the start again when going back. */
function seekReplay(t) {
  const replay = model.replay;
  if (replay === null) return;
  const target = Math.max(Number(el.replaySlider.min), Math.min(replay.endT, t));
  if (target < replay.t) {
    resetView(replay.trace.start);
    replay.index = 0;
  }
  const events = replay.trace.events;
  while (replay.index < events.length && events[replay.index].t <= target) {
    const event = events[replay.index++];
    if (event.kind === 'resync' || event.seq <= model.seq) continue;
    model.loggedSeq = event.seq;
    if (event.kind !== 'node-frame' || el.frames.checked) logRow(rowOf(event));
    if (event.kind === 'alarm') noteAlarm(event);
    apply(event);
  }
  replay.t = target;
  el.replaySlider.value = String(target);
  el.replaySlider.dataset.t = String(target);
  el.replayTime.textContent = `${(target / 1000).toFixed(2)} s of ${(replay.endT / 1000).toFixed(2)} s · event ${replay.index}/${events.length}`;
  render();
}

function stopPlaying() {
  const replay = model.replay;
  if (replay !== null && replay.timer !== 0) clearInterval(replay.timer);
  if (replay !== null) replay.timer = 0;
  el.replayPlay.textContent = 'play';
  el.replayPlay.dataset.playing = 'false';
}

function togglePlay() {
  const replay = model.replay;
  if (replay === null) return;
  if (replay.timer !== 0) {
    stopPlaying();
    return;
  }
  if (replay.t >= replay.endT) seekReplay(Number(el.replaySlider.min));
  let last = performance.now();
  replay.timer = setInterval(() => {
    const now = performance.now();
    const step = (now - last) * Number(el.replaySpeed.value);
    last = now;
    seekReplay(replay.t + step);
    if (replay.t >= replay.endT) stopPlaying();
  }, PLAY_STEP_MS);
  el.replayPlay.textContent = 'pause';
  el.replayPlay.dataset.playing = 'true';
}

function backToLive() {
  stopPlaying();
  model.replay = null;
  document.body.dataset.mode = 'live';
  el.replayControls.hidden = true;
  el.replayLive.hidden = true;
  showResult(el.traceError, true, '');
  // Everything is fetched again: the state (on open), the scenarios; the log starts afresh.
  model.state = null;
  model.recording = null;
  model.members = null;
  model.gone.clear();
  model.pending = [];
  model.rows = [];
  model.loggedSeq = 0;
  model.alarms = [];
  el.alarm.hidden = true;
  model.supervisionHistory.clear();
  model.lastTrouble.clear();
  model.loadPoints = [];
  model.chartsDirty = true;
  model.scenarioLines = [];
  model.scenarioVerdict = null;
  model.scenarioRunning = null;
  rebuildLog();
  openStream();
  void loadScenarios();
  renderSelection();
}

// ---------------------------------------------------------------------------------------------------------------
// Event log and alarms

function rowOf(event) {
  const t = `${(event.t / 1000).toFixed(2)}s`;
  let text;
  let cls = '';
  switch (event.kind) {
    case 'node-frame': {
      const s = event.state;
      text = `${event.node} frame: ${s.role} term ${s.term} commit ${s.commitIndex} applied ${s.appliedIndex} last ${s.lastIndex}`;
      break;
    }
    case 'role':
      text = `${event.node} is ${event.role} in term ${event.term}${event.leaderId !== null ? ` (leader ${event.leaderId})` : ''}`;
      break;
    case 'vote':
      text = `${event.node} ${event.granted ? 'granted' : 'refused'} its vote to ${event.candidate} in term ${event.term}`;
      break;
    case 'snapshot':
      text = `${event.node} ${event.how} a snapshot at index ${event.index}`;
      break;
    case 'supervision': {
      const s = event.supervision;
      text = `${event.node} ${s.state}${s.backoffMs !== null ? ` (backoff ${s.backoffMs} ms)` : ''}${s.restarts > 0 ? ` restarts ${s.restarts}` : ''}: ${s.reason}`;
      cls = s.state === 'failed' ? 'bad' : s.state === 'killed' || s.state === 'restarting' ? 'warn' : '';
      break;
    }
    case 'links':
      text =
        event.faults.length === 0
          ? 'links: no faults'
          : `links: ${event.faults
              .map((f) => {
                const parts = [];
                if (f.faults.cut) parts.push('cut');
                if (f.faults.drop > 0) parts.push(`drop ${f.faults.drop}`);
                if (f.faults.delayMs[1] > 0) parts.push(`delay ${f.faults.delayMs[0]}-${f.faults.delayMs[1]}`);
                if (f.faults.duplicate > 0) parts.push(`dup ${f.faults.duplicate}`);
                return `${f.from}→${f.to} ${parts.join(' ')}`;
              })
              .join(', ')}`;
      break;
    case 'action':
      text = `action ${event.action}${event.target !== null ? ` ${event.target}` : ''}: ${event.ok ? 'ok' : 'failed'}${event.detail ? ` (${event.detail})` : ''}`;
      cls = event.ok ? 'action' : 'bad';
      break;
    case 'alarm':
      text = `ALARM ${event.alarm}: ${event.detail}`;
      cls = 'bad';
      break;
    case 'load':
      text = `load ${event.rate} ops/s: ${event.ok} ok, ${event.failed} failed, ${event.skipped} skipped, p50 ${event.p50Ms.toFixed(1)} ms, p99 ${event.p99Ms.toFixed(1)} ms`;
      cls = event.failed > 0 ? 'warn' : '';
      break;
    case 'scenario':
      text = `scenario ${event.name} ${event.phase}: ${event.detail}${event.report ? ` (report ${event.report})` : ''}`;
      cls = event.phase === 'verdict' ? (event.ok ? 'action' : 'bad') : '';
      break;
    default:
      text = JSON.stringify(event);
  }
  return { seq: event.seq, kind: event.kind, text: `#${event.seq} ${t} ${text}`, cls };
}

function matches(row) {
  const filter = el.filter.value.trim().toLowerCase();
  return filter === '' || row.text.toLowerCase().includes(filter) || row.kind.includes(filter);
}

function rowElement(row) {
  return html('li', { class: `${row.kind} ${row.cls}`.trim(), 'data-kind': row.kind, 'data-seq': row.seq }, null, row.text);
}

function logRow(row) {
  model.rows.unshift(row);
  if (model.rows.length > LOG_ROWS_MAX) model.rows.length = LOG_ROWS_MAX;
  if (el.pause.checked) {
    el.logCount.textContent = `paused (${model.rows.length} held)`;
    return;
  }
  if (!matches(row)) return;
  el.log.prepend(rowElement(row));
  while (el.log.childElementCount > LOG_ROWS_MAX) el.log.lastElementChild?.remove();
  el.logCount.textContent = '';
}

function rebuildLog() {
  el.log.replaceChildren(...model.rows.filter(matches).map(rowElement));
  el.logCount.textContent = el.pause.checked ? `paused (${model.rows.length} held)` : '';
}

function noteAlarm(event) {
  const text = `${event.alarm}: ${event.detail} (event ${event.seq})`;
  if (model.alarms.includes(text)) return;
  model.alarms.push(text);
  el.alarmText.textContent = model.alarms.slice(-3).join(' · ');
  el.alarm.dataset.count = String(model.alarms.length);
  el.alarm.hidden = false;
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

for (const button of document.querySelectorAll('[data-action]')) {
  button.addEventListener('click', () => void act(button.getAttribute('data-action')));
}
for (const button of document.querySelectorAll('[data-kv]')) {
  button.addEventListener('click', () => void kv(button.getAttribute('data-kv')));
}
el.filter.addEventListener('input', rebuildLog);
el.pause.addEventListener('change', rebuildLog);
$('selection-clear').addEventListener('click', () => {
  model.selected = [];
  render();
});
$('alarm-dismiss').addEventListener('click', () => (el.alarm.hidden = true));
el.partitionInput.addEventListener('input', groupsFromInput);
el.loadRate.addEventListener('input', () => (el.loadRateValue.textContent = el.loadRate.value));
$('load-start').addEventListener('click', () => void setLoad(true));
$('load-stop').addEventListener('click', () => void setLoad(false));
$('trace-export').addEventListener('click', exportTrace);
el.traceImport.addEventListener('change', () => {
  const file = el.traceImport.files?.[0];
  if (file !== undefined) void importTrace(file);
});
el.replaySlider.addEventListener('input', () => {
  stopPlaying();
  seekReplay(Number(el.replaySlider.value));
});
el.replayPlay.addEventListener('click', togglePlay);
el.replayLive.addEventListener('click', backToLive);

/** For tests and the console: the live stream, the model, and a way to reopen the stream. */
const exposed = {
  stream: /** @type {EventSource | null} */ (null),
  model,
  reconnect: openStream,
  /** Hands the page one event as if the stream had sent it (tests: an alarm the cluster cannot be made to raise). */
  receive,
  /** The load charts' series, oldest first: what the canvases draw. */
  series: {
    get throughput() {
      return model.loadPoints.map((p) => ({ t: p.t, ok: p.ok, failed: p.failed, skipped: p.skipped, fault: p.fault }));
    },
    get latency() {
      return model.loadPoints.map((p) => ({ t: p.t, p50Ms: p.p50Ms, p99Ms: p.p99Ms, fault: p.fault }));
    },
  },
  /** The trace the export button downloads (the live session, or the one being replayed). */
  trace: currentTrace,
  /** Replay: where it stands (null when live). */
  get replay() {
    const replay = model.replay;
    return replay === null ? null : { t: replay.t, endT: replay.endT, index: replay.index, events: replay.trace.events.length };
  },
};
Object.defineProperty(window, '__explorer', { value: exposed });

document.body.dataset.mode = 'live';
renderSelection();
openStream();
// Roles change without a supervision event (a promotion through the CLI or curl): ask now and then.
setInterval(() => {
  if (model.replay === null && model.state !== null && !document.hidden) void refreshMembers();
}, MEMBERS_POLL_MS);
