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
  /** Partition picking: node -> 'A' | 'B'. */
  groups: new Map(),
  /** Event log rows, latest first, with the text the filter matches. */
  rows: /** @type {{seq: number, kind: string, text: string, cls: string}[]} */ ([]),
  alarms: /** @type {string[]} */ ([]),
  alarmsDismissed: 0,
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
  kvKey: /** @type {HTMLInputElement} */ ($('kv-key')),
  kvValue: /** @type {HTMLInputElement} */ ($('kv-value')),
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

function openStream() {
  clearTimeout(reopenTimer);
  if (stream !== null) stream.close();
  needState = true;
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
    installState(state);
  } catch (error) {
    needState = true;
    showResult(el.actionResult, false, `could not load the state: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    model.fetchingState = false;
  }
}

function installState(state) {
  const fresh = model.state === null || model.state.nodes.join() !== state.nodes.join();
  model.state = state;
  model.seq = state.seq;
  for (const alarm of state.alarms ?? []) noteAlarm(alarm);
  if (fresh) buildRing();
  const pending = model.pending;
  model.pending = [];
  for (const event of pending) if (event.seq > model.seq) apply(event);
  render();
}

function receive(event) {
  if (event.kind === 'resync') {
    logRow({ seq: event.seq, kind: 'resync', text: `resync: ${event.reason}`, cls: 'warn' });
    model.pending = [];
    void loadState();
    return;
  }
  // The log shows every event once, as it arrives, even one the state fetched after a reconnect already covers.
  if (event.seq > model.loggedSeq) {
    model.loggedSeq = event.seq;
    if (event.kind !== 'node-frame' || el.frames.checked) logRow(rowOf(event));
  }
  if (event.kind === 'alarm') noteAlarm(event);
  if (model.state === null || model.fetchingState) {
    model.pending.push(event);
    return;
  }
  if (event.seq <= model.seq) return;
  apply(event);
  scheduleRender();
}

/** Applies one event to the model (the state as of `event.seq`) and logs it. */
function apply(event) {
  const state = model.state;
  model.seq = event.seq;
  state.seq = event.seq;
  state.t = event.t;
  switch (event.kind) {
    case 'node-frame': {
      const entry = nodeEntry(event.node);
      entry.frame = event.state;
      entry.frameT = event.t;
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
      return;
    }
    case 'role': {
      const entry = nodeEntry(event.node);
      entry.frame = { ...(entry.frame ?? emptyFrame()), role: event.role, term: event.term, leaderId: event.leaderId };
      if (event.role === 'leader') {
        state.leader = event.node;
        state.term = event.term;
      } else if (state.leader === event.node) state.leader = null;
      break;
    }
    case 'snapshot': {
      const entry = nodeEntry(event.node);
      if (entry.frame !== null) entry.frame = { ...entry.frame, snapshotIndex: Math.max(entry.frame.snapshotIndex, event.index) };
      break;
    }
    case 'supervision': {
      const entry = nodeEntry(event.node);
      entry.supervision = event.supervision;
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
    default:
      break;
  }
}

function nodeEntry(id) {
  const nodes = model.state.node;
  if (nodes[id] === undefined) {
    nodes[id] = { supervision: { state: 'running', restarts: 0, backoffMs: null, reason: '' }, frame: null, frameT: null };
  }
  if (!model.state.nodes.includes(id)) {
    model.state.nodes = [...model.state.nodes, id];
    buildRing();
  }
  return nodes[id];
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
    const group = svg('g', { class: 'node', 'data-testid': `node-${id}`, 'data-node': id, transform: `translate(${x} ${y})` }, el.nodes);
    const select = svg('circle', { r: RING.node + 14, class: 'node-select' }, group);
    const timer = svg('circle', { r: RING.node + 7, class: 'node-timer', pathLength: 100, transform: 'rotate(-90)' }, group);
    const body = svg('circle', { r: RING.node, class: 'node-body' }, group);
    const name = svg('text', { y: -14, class: 'node-name' }, group);
    name.textContent = id;
    const role = svg('text', { y: 6, class: 'node-role', 'data-testid': `node-${id}-role` }, group);
    const term = svg('text', { y: 24, class: 'node-term', 'data-testid': `node-${id}-term` }, group);
    const supervision = svg('text', { y: RING.node + 30, class: 'node-supervision', 'data-testid': `node-${id}-supervision` }, group);
    const badge = svg('text', { x: RING.node - 2, y: -RING.node + 8, class: 'node-badge' }, group);
    group.addEventListener('click', () => clickNode(id));
    nodeViews.set(id, { group, select, timer, body, role, term, supervision, badge });

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
    view.label.textContent = cut || lossy ? describe.join(', ') : messages > 0 ? String(messages) : '';
  }
  renderSelection();
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
  if (el.partitionPick.checked) {
    const next = { undefined: 'A', A: 'B', B: undefined }[String(model.groups.get(id))];
    if (next === undefined) model.groups.delete(id);
    else model.groups.set(id, next);
    const groupA = [...model.groups].filter(([, g]) => g === 'A').map(([n]) => n);
    const groupB = [...model.groups].filter(([, g]) => g === 'B').map(([n]) => n);
    el.partitionInput.value = `${groupA.join(',')}|${groupB.join(',')}`;
  } else if (model.selected.includes(id)) model.selected = model.selected.filter((n) => n !== id);
  else model.selected = [...model.selected, id].slice(-2);
  render();
}

function selectLink(a, b) {
  model.selected = model.selected.length === 2 && model.selected.includes(a) && model.selected.includes(b) ? [] : [a, b];
  render();
}

function renderSelection() {
  const sel = model.selected;
  el.selection.textContent = sel.length === 0 ? 'nothing selected' : sel.length === 1 ? `node ${sel[0]}` : `link ${sel[0]} – ${sel[1]}`;
  el.selection.dataset.selected = sel.join(',');
  for (const button of document.querySelectorAll('[data-action]')) {
    const action = button.getAttribute('data-action');
    const needs = action.startsWith('link-') ? 2 : ['kill', 'restart', 'pause', 'resume', 'transfer'].includes(action) ? 1 : 0;
    /** @type {HTMLButtonElement} */ (button).disabled = needs === 1 ? sel.length < 1 : needs === 2 ? sel.length !== 2 : false;
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

const nodeActions = { kill: 'kill', restart: 'restart', pause: 'pause', resume: 'resume' };

async function act(action) {
  const [first, second] = model.selected;
  /** @type {[string, string, any][]} method, path, body */
  let calls = [];
  let what = action;
  if (action in nodeActions) {
    calls = [['POST', `/v1/nodes/${encodeURIComponent(first)}/${nodeActions[action]}`, undefined]];
    what = `${action} ${first}`;
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
    model.groups.clear();
  }
  showResult(el.actionResult, true, `${what}…`);
  for (const [method, path, body] of calls) {
    const reply = await call(method, path, body);
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
  showResult(el.actionResult, true, `${what}: ok`);
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
      cls = s.state === 'failed' || s.state === 'killed' ? 'warn' : '';
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
el.partitionPick.addEventListener('change', () => {
  if (!el.partitionPick.checked) model.groups.clear();
  render();
});

/** For tests and the console: the live stream, the model, and a way to reopen the stream. */
const exposed = {
  stream: /** @type {EventSource | null} */ (null),
  model,
  reconnect: openStream,
  /** Hands the page one event as if the stream had sent it (tests: an alarm the cluster cannot be made to raise). */
  receive,
};
Object.defineProperty(window, '__explorer', { value: exposed });

renderSelection();
openStream();
