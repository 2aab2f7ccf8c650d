import type { Operation } from './checker/history.js';
import type { ChaosResult } from './runner.js';

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

/** How the workload's reads were routed, as the summary and the HTML report state it. */
function readRouting(result: ChaosResult): string {
  const { workload, nodes } = result.scenario;
  if (workload.type !== 'register') return '';
  return workload.reads === 'every-node'
    ? `, reads pinned through every node (client i reads through node i mod ${nodes})`
    : ', reads through the router';
}

/** The terminal summary: operations, availability and latency per phase, and each check's verdict. */
export function summarize(result: ChaosResult): string {
  const ops = result.history;
  const count = (status: Operation['status']): number => ops.filter((op) => op.status === status).length;
  const lines = [
    `scenario ${result.scenario.name}: ${result.scenario.nodes} nodes, ${result.scenario.storage}, ${result.scenario.workload.type} workload${readRouting(result)}, ${(result.durationMs / 1000).toFixed(1)} s`,
    `operations: ${ops.length} (ok ${count('ok')}, fail ${count('fail')}, info ${count('info')})`,
    '',
    'phase                                             ok   fail  info  avail   p50 ms   p99 ms',
  ];
  for (const phase of result.phases) {
    const label = `[${(phase.startMs / 1000).toFixed(1)}s] ${phase.label}`.slice(0, 46).padEnd(46);
    lines.push(
      `${label} ${String(phase.ok).padStart(6)} ${String(phase.fail).padStart(6)} ${String(phase.info).padStart(5)} ${(phase.availability * 100).toFixed(0).padStart(5)}% ${ms(phase.latencyMs.p50).padStart(8)} ${ms(phase.latencyMs.p99).padStart(8)}`,
    );
  }
  lines.push('');
  for (const check of result.checks)
    lines.push(`check ${check.name}: ${check.verdict.toUpperCase()} - ${check.detail.split('\n').join('\n    ')}`);
  const skipped = result.faults.filter((f) => f.skipped);
  if (skipped.length > 0) lines.push(`faults skipped (no target, not counted): ${skipped.map((f) => f.label).join('; ')}`);
  const ran = result.checks.filter((c) => c.verdict !== 'n/a').map((c) => c.name);
  lines.push('', `verdict: ${result.ok ? 'PASS' : 'FAIL'} (checks run: ${ran.length === 0 ? 'none' : ran.join(', ')})`);
  return lines.join('\n');
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

/** The charts' resolution: the run is cut into this many columns, whatever its length (the report's size is bounded by it). */
export const REPORT_COLUMNS = 480;
/** Operations drawn one by one: the slowest, around the anomalies; every other one is in its column's quantiles. */
export const REPORT_OUTLIERS_MAX = 2_000;
/** A check's detail is cut past this many characters (a failed linearizability search can be long). */
export const REPORT_CHECK_DETAIL_CHARS_MAX = 64 * 1024;

/** One column of the latency chart: quantiles of the ok operations invoked in it. */
interface LatencyColumn {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function maxOf(values: Iterable<number>, floor: number): number {
  let max = floor;
  for (const value of values) if (value > max) max = value;
  return max;
}

/** The nearest-rank quantile of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/**
 * A self-contained HTML report, drawn the way Jepsen draws its timelines: throughput and latency over time,
 * with the fault windows shaded and labelled; then the phases and the checks. Its size does not grow with the
 * history: throughput is counted in REPORT_COLUMNS columns, latency drawn as each column's p50, p99 and
 * maximum, and only the REPORT_OUTLIERS_MAX slowest operations (those above their column's p99) as dots. A
 * ten-minute run of millions of operations makes a report of some hundred KiB.
 */
export function htmlReport(result: ChaosResult): string {
  const width = 960;
  const height = 220;
  const history = result.history;
  let end = Math.max(result.durationMs, 1);
  for (const op of history) if (Number.isFinite(op.completeTime) && op.completeTime > end) end = op.completeTime;
  const x = (t: number): number => 50 + (t / end) * (width - 70);
  const columnMs = end / REPORT_COLUMNS;
  const column = (t: number): number => Math.min(REPORT_COLUMNS - 1, Math.max(0, Math.floor(t / columnMs)));
  const okPerColumn = new Array<number>(REPORT_COLUMNS).fill(0);
  const failPerColumn = new Array<number>(REPORT_COLUMNS).fill(0);
  const latencies: number[][] = Array.from({ length: REPORT_COLUMNS }, () => []);
  for (const op of history) {
    const c = column(Number.isFinite(op.completeTime) ? op.completeTime : op.invokeTime);
    if (op.status === 'ok') {
      okPerColumn[c] = (okPerColumn[c] as number) + 1;
      (latencies[column(op.invokeTime)] as number[]).push(op.completeTime - op.invokeTime);
    } else failPerColumn[c] = (failPerColumn[c] as number) + 1;
  }
  const columns: (LatencyColumn | null)[] = latencies.map((values) => {
    if (values.length === 0) return null;
    const sorted = Float64Array.from(values).sort();
    return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] as number };
  });
  const maxRate = maxOf([...okPerColumn, ...failPerColumn], 1);
  const yRate = (v: number): number => height - 30 - (v / maxRate) * (height - 50);
  const mid = (i: number): string => x((i + 0.5) * columnMs).toFixed(1);
  const rateLine = (values: number[], color: string): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${values.map((v, i) => `${mid(i)},${yRate(v).toFixed(1)}`).join(' ')}"/>`;
  const maxLatency = maxOf(
    columns.map((c) => c?.max ?? 0),
    1,
  );
  const yLat = (v: number): number => height - 30 - (Math.log10(1 + v) / Math.log10(1 + maxLatency)) * (height - 50);
  // A quantile's line, broken where a column has no ok operation (nothing was answered then).
  const latencyLine = (pick: (c: LatencyColumn) => number, color: string, dash: string): string => {
    const runs: string[][] = [[]];
    columns.forEach((c, i) => {
      if (c === null) runs.push([]);
      else (runs.at(-1) as string[]).push(`${mid(i)},${yLat(pick(c)).toFixed(1)}`);
    });
    return runs
      .filter((points) => points.length > 0)
      .map(
        (points) => `<polyline fill="none" stroke="${color}" stroke-width="1.2" stroke-dasharray="${dash}" points="${points.join(' ')}"/>`,
      )
      .join('');
  };
  // The slowest operations above their column's p99, one dot each, at most REPORT_OUTLIERS_MAX.
  const outliers = history
    .filter((op) => op.status === 'ok' && op.completeTime - op.invokeTime > (columns[column(op.invokeTime)]?.p99 ?? Infinity))
    .sort((a, b) => b.completeTime - b.invokeTime - (a.completeTime - a.invokeTime))
    .slice(0, REPORT_OUTLIERS_MAX);
  const dots = outliers
    .map(
      (op) =>
        `<circle cx="${x(op.invokeTime).toFixed(1)}" cy="${yLat(op.completeTime - op.invokeTime).toFixed(1)}" r="1.6" fill="#9d0208"/>`,
    )
    .join('');
  const counted = result.faults.filter((f) => !f.skipped);
  const shading = counted
    .map((f, i) => {
      const from = x(f.atMs);
      const to = x(f.endMs ?? end);
      return (
        `<rect x="${from.toFixed(1)}" y="10" width="${Math.max(2, to - from).toFixed(1)}" height="${height - 40}" fill="#f4a261" opacity="0.18"><title>${escape(f.label)}</title></rect>` +
        `<text x="${(from + 2).toFixed(1)}" y="${20 + (i % 4) * 11}" font-size="9" fill="#9a4a00">${escape(f.label.slice(0, 40))}</text>`
      );
    })
    .join('');
  const axis = (label: string): string =>
    `<line x1="50" y1="${height - 30}" x2="${width - 20}" y2="${height - 30}" stroke="#888"/>` +
    `<text x="50" y="${height - 12}" font-size="10">0 s</text><text x="${width - 60}" y="${height - 12}" font-size="10">${(end / 1000).toFixed(1)} s</text>` +
    `<text x="4" y="20" font-size="10">${label}</text>`;
  const legend = (items: readonly (readonly [string, string])[]): string =>
    `<p class="legend">${items.map(([color, label]) => `<span style="color:${color}">&#9632;</span> ${escape(label)}`).join(' &nbsp; ')} &nbsp; <span style="color:#f4a261">&#9632;</span> a fault in force (labelled)</p>`;
  const throughput =
    `<svg width="${width}" height="${height}">${shading}${axis(`ops per ${ms(columnMs)} ms (max ${maxRate})`)}${rateLine(okPerColumn, '#2a9d8f')}${rateLine(failPerColumn, '#e63946')}</svg>` +
    legend([
      ['#2a9d8f', 'ok'],
      ['#e63946', 'failed or unknown (info)'],
    ]);
  const latency =
    `<svg width="${width}" height="${height}">${shading}${axis(`latency, log scale (max ${ms(maxLatency)} ms)`)}` +
    `${latencyLine((c) => c.max, '#999', '2 2')}${latencyLine((c) => c.p99, '#e76f51', '')}${latencyLine((c) => c.p50, '#264653', '')}${dots}</svg>` +
    legend([
      ['#264653', 'p50'],
      ['#e76f51', 'p99'],
      ['#999', 'max (dashed)'],
      ['#9d0208', `slowest operations above their column's p99 (${outliers.length} of at most ${REPORT_OUTLIERS_MAX})`],
    ]);
  const phases = result.phases
    .map(
      (p) =>
        `<tr><td>${(p.startMs / 1000).toFixed(1)} s</td><td>${escape(p.label)}</td><td>${p.ok}</td><td>${p.fail}</td><td>${p.info}</td><td>${(p.availability * 100).toFixed(0)}%</td><td>${ms(p.latencyMs.p50)}</td><td>${ms(p.latencyMs.p99)}</td></tr>`,
    )
    .join('');
  const detail = (text: string): string =>
    text.length <= REPORT_CHECK_DETAIL_CHARS_MAX
      ? text
      : `${text.slice(0, REPORT_CHECK_DETAIL_CHARS_MAX)}\n... (${(text.length - REPORT_CHECK_DETAIL_CHARS_MAX).toLocaleString('en-US')} more characters cut)`;
  const checks = result.checks
    .map(
      (c) =>
        `<tr><td>${c.name}</td><td class="${c.verdict}">${c.verdict.toUpperCase()}</td><td><pre>${escape(detail(c.detail))}</pre></td></tr>`,
    )
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>raftkv chaos: ${escape(result.scenario.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}
.pass{color:#2a9d8f;font-weight:bold}.fail{color:#e63946;font-weight:bold}.unknown{color:#e9c46a;font-weight:bold}pre{margin:0;white-space:pre-wrap;font-size:12px}.legend{font-size:12px;color:#555;margin:2px 0 12px 50px}</style></head><body>
<h1>${escape(result.scenario.name)}: ${result.ok ? '<span class="pass">PASS</span>' : '<span class="fail">FAIL</span>'}</h1>
<p>${escape(result.scenario.description)}</p>
<p>${result.scenario.nodes} nodes, ${result.scenario.storage}, ${result.scenario.workload.type} workload over ${result.scenario.workload.api}${escape(readRouting(result))}, ${result.scenario.workload.clients} clients, ${(result.durationMs / 1000).toFixed(1)} s, ${history.length.toLocaleString('en-US')} operations in ${REPORT_COLUMNS} columns of ${ms(columnMs)} ms.</p>
<h2>Throughput</h2>${throughput}
<h2>Latency of ok operations</h2>${latency}
<h2>Phases</h2><table><tr><th>from</th><th>phase</th><th>ok</th><th>fail</th><th>info</th><th>availability</th><th>p50 ms</th><th>p99 ms</th></tr>${phases}</table>
<h2>Checks</h2><table>${checks}</table></body></html>
`;
}
