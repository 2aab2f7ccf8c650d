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

/**
 * A self-contained HTML report, drawn the way Jepsen draws its timelines: throughput and latency over time,
 * with the fault windows shaded; then the phases and the checks.
 */
export function htmlReport(result: ChaosResult): string {
  const width = 960;
  const height = 220;
  const end = Math.max(
    result.durationMs,
    ...result.history.filter((op) => Number.isFinite(op.completeTime)).map((op) => op.completeTime),
    1,
  );
  const x = (t: number): number => 50 + (t / end) * (width - 70);
  const bucketMs = Math.max(100, end / 120);
  const buckets = Math.ceil(end / bucketMs);
  const okPerBucket = new Array<number>(buckets).fill(0);
  const failPerBucket = new Array<number>(buckets).fill(0);
  for (const op of result.history) {
    const b = Math.min(buckets - 1, Math.floor((Number.isFinite(op.completeTime) ? op.completeTime : op.invokeTime) / bucketMs));
    if (op.status === 'ok') okPerBucket[b] = (okPerBucket[b] as number) + 1;
    else failPerBucket[b] = (failPerBucket[b] as number) + 1;
  }
  const maxRate = Math.max(1, ...okPerBucket, ...failPerBucket);
  const yRate = (v: number): number => height - 30 - (v / maxRate) * (height - 50);
  const line = (values: number[], color: string): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${values.map((v, i) => `${x((i + 0.5) * bucketMs).toFixed(1)},${yRate(v).toFixed(1)}`).join(' ')}"/>`;
  const ok = result.history.filter((op) => op.status === 'ok');
  const maxLatency = Math.max(1, ...ok.map((op) => op.completeTime - op.invokeTime));
  const yLat = (v: number): number => height - 30 - (Math.log10(1 + v) / Math.log10(1 + maxLatency)) * (height - 50);
  const shading = result.faults
    .filter((f) => !f.skipped)
    .map((f) => {
      const from = x(f.atMs);
      const to = x(f.endMs ?? end);
      return (
        `<rect x="${from.toFixed(1)}" y="10" width="${Math.max(2, to - from).toFixed(1)}" height="${height - 40}" fill="#f4a261" opacity="0.18"><title>${escape(f.label)}</title></rect>` +
        `<text x="${(from + 2).toFixed(1)}" y="${20 + (result.faults.indexOf(f) % 4) * 11}" font-size="9" fill="#9a4a00">${escape(f.label.slice(0, 40))}</text>`
      );
    })
    .join('');
  const axis = (label: string): string =>
    `<line x1="50" y1="${height - 30}" x2="${width - 20}" y2="${height - 30}" stroke="#888"/>` +
    `<text x="50" y="${height - 12}" font-size="10">0 s</text><text x="${width - 60}" y="${height - 12}" font-size="10">${(end / 1000).toFixed(1)} s</text>` +
    `<text x="4" y="20" font-size="10">${label}</text>`;
  const throughput = `<svg width="${width}" height="${height}">${shading}${axis(`ops per ${ms(bucketMs)} ms (max ${maxRate})`)}${line(okPerBucket, '#2a9d8f')}${line(failPerBucket, '#e63946')}</svg>`;
  const dots = ok
    .map(
      (op) =>
        `<circle cx="${x(op.invokeTime).toFixed(1)}" cy="${yLat(op.completeTime - op.invokeTime).toFixed(1)}" r="1.2" fill="#264653"/>`,
    )
    .join('');
  const latency = `<svg width="${width}" height="${height}">${shading}${axis(`latency, log scale (max ${ms(maxLatency)} ms)`)}${dots}</svg>`;
  const phases = result.phases
    .map(
      (p) =>
        `<tr><td>${(p.startMs / 1000).toFixed(1)} s</td><td>${escape(p.label)}</td><td>${p.ok}</td><td>${p.fail}</td><td>${p.info}</td><td>${(p.availability * 100).toFixed(0)}%</td><td>${ms(p.latencyMs.p50)}</td><td>${ms(p.latencyMs.p99)}</td></tr>`,
    )
    .join('');
  const checks = result.checks
    .map(
      (c) => `<tr><td>${c.name}</td><td class="${c.verdict}">${c.verdict.toUpperCase()}</td><td><pre>${escape(c.detail)}</pre></td></tr>`,
    )
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>raftkv chaos: ${escape(result.scenario.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}
.pass{color:#2a9d8f;font-weight:bold}.fail{color:#e63946;font-weight:bold}.unknown{color:#e9c46a;font-weight:bold}pre{margin:0;white-space:pre-wrap;font-size:12px}</style></head><body>
<h1>${escape(result.scenario.name)}: ${result.ok ? '<span class="pass">PASS</span>' : '<span class="fail">FAIL</span>'}</h1>
<p>${escape(result.scenario.description)}</p>
<p>${result.scenario.nodes} nodes, ${result.scenario.storage}, ${result.scenario.workload.type} workload over ${result.scenario.workload.api}${escape(readRouting(result))}, ${result.scenario.workload.clients} clients, ${(result.durationMs / 1000).toFixed(1)} s, ${result.history.length} operations. Shaded: fault windows.</p>
<h2>Throughput (green ok, red fail or info)</h2>${throughput}
<h2>Latency of ok operations</h2>${latency}
<h2>Phases</h2><table><tr><th>from</th><th>phase</th><th>ok</th><th>fail</th><th>info</th><th>availability</th><th>p50 ms</th><th>p99 ms</th></tr>${phases}</table>
<h2>Checks</h2><table>${checks}</table></body></html>
`;
}
