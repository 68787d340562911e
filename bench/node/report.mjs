/**
 * report.mjs — turns benchmark results into a console table, a markdown
 * section, an SVG chart (our own small writer: one bar panel per workload)
 * and a standalone HTML page. Shared by the Node runner and the browser
 * runner. Input shape: { host, n, machine, stores: [{ store, version,
 * config, results: [{ workload, ops, ms, opsPerSec, latencyUs }],
 * sizeAfterLoad, peakRssBytes, error? }] }.
 */
import { WORKLOADS } from './workloads.mjs';

const COLORS = {
  lightningdb: '#e8590c', 'lightningdb-wasm': '#f59f00',
  'lightningdb-opfs': '#e8590c', 'lightningdb-idb': '#f59f00',
  lmdb: '#1c7ed6', 'classic-level': '#2f9e44', 'better-sqlite3': '#7048e8',
  indexeddb: '#2f9e44', 'sqlite-wasm-sahpool': '#7048e8',
};
const color = (s) => COLORS[s] || '#868e96';

export const fmtOps = (x) => {
  if (x == null || !Number.isFinite(x)) return '—';
  if (x >= 1e6) return (x / 1e6).toFixed(2) + 'M';
  if (x >= 1e3) return (x / 1e3).toFixed(1) + 'k';
  return x.toFixed(0);
};
const fmtBytes = (b) => (b == null ? '—' : b >= 1 << 20 ? (b / (1 << 20)).toFixed(1) + ' MiB' : (b / 1024).toFixed(0) + ' KiB');
const fmtUs = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtRatio = (r) => (r == null || !Number.isFinite(r) ? '—' : r.toFixed(2) + 'x');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function opsOf(run, store, workload, key = 'opsPerSec') {
  const s = run.stores.find((x) => x.store === store);
  const r = s && s.results && s.results.find((x) => x.workload === workload);
  return r && r[key] != null ? r[key] : null;
}
export function ratio(run, a, b, workload, key = 'opsPerSec') {
  const x = opsOf(run, a, workload, key);
  const y = opsOf(run, b, workload, key);
  return x != null && y ? x / y : null;
}
const geomean = (xs) => {
  const v = xs.filter((x) => x != null && x > 0);
  return v.length ? Math.exp(v.reduce((s, x) => s + Math.log(x), 0) / v.length) : null;
};

/** The published targets (bench/README.md); never asserted in tests. */
export const TARGETS = {
  node: [
    { text: 'readrandom >= 1.5x lmdb-js', a: 'lightningdb', b: 'lmdb', workloads: ['readrandom'], min: 1.5 },
    { text: 'readmissing >= 1.0x lmdb-js', a: 'lightningdb', b: 'lmdb', workloads: ['readmissing'], min: 1 },
    { text: 'readrandom from 2 worker_threads >= 1.8x one worker_thread', a: 'lightningdb', b: 'lightningdb', wa: 'readrandom_2w', wb: 'readrandom_1w', min: 1.8 },
    { text: 'fillrandom (batched) >= 2x lmdb-js', a: 'lightningdb', b: 'lmdb', workloads: ['fillrandom'], min: 2 },
    { text: 'fillrandom (batched) >= 1x classic-level', a: 'lightningdb', b: 'classic-level', workloads: ['fillrandom'], min: 1 },
    { text: 'readseq >= 1x lmdb-js', a: 'lightningdb', b: 'lmdb', workloads: ['readseq'], min: 1 },
    { text: 'durable single puts >= 1x better-sqlite3 (WAL, synchronous=FULL)', a: 'lightningdb', b: 'better-sqlite3', workloads: ['fillsync'], min: 1 },
    { text: 'reads (readrandom, readmissing) >= 3x classic-level', a: 'lightningdb', b: 'classic-level', workloads: ['readrandom', 'readmissing'], min: 3 },
    { text: 'WebAssembly in Node within 2x of native (every workload)', a: 'lightningdb-wasm', b: 'lightningdb', workloads: WORKLOADS.map((w) => w.name), min: 0.5 },
  ],
  browser: [
    { text: 'OPFS store >= 10x IndexedDB (geometric mean over workloads)', a: 'lightningdb-opfs', b: 'indexeddb', workloads: WORKLOADS.map((w) => w.name), min: 10, geo: true },
    { text: 'OPFS store >= 1.5x SQLite-WASM opfs-sahpool (geometric mean)', a: 'lightningdb-opfs', b: 'sqlite-wasm-sahpool', workloads: WORKLOADS.map((w) => w.name), min: 1.5, geo: true },
  ],
};

/** [{ text, ratio (worst or geomean), met, detail }] */
export function evaluateTargets(run, targets) {
  return targets.map((t) => {
    if (t.wa) { // one workload of a against another of b (thread scaling)
      const x = opsOf(run, t.a, t.wa);
      const y = opsOf(run, t.b, t.wb);
      if (x == null || !y) return { text: t.text, ratio: null, met: null, detail: 'not measured' };
      return { text: t.text, ratio: x / y, met: x / y >= t.min, min: t.min, detail: `${fmtOps(x)} ÷ ${fmtOps(y)} gets/s` };
    }
    const rs = t.workloads.map((w) => [w, ratio(run, t.a, t.b, w)]).filter(([, r]) => r != null);
    if (rs.length === 0) return { text: t.text, ratio: null, met: null, detail: 'not measured' };
    const value = t.geo ? geomean(rs.map(([, r]) => r)) : Math.min(...rs.map(([, r]) => r));
    const detail = rs.map(([w, r]) => `${w} ${fmtRatio(r)}`).join(', ');
    return { text: t.text, ratio: value, met: value >= t.min, min: t.min, detail };
  });
}

/** Columns for ratio display: [label, a, b] — LightningDB ÷ each peer, the
 * WebAssembly engine ÷ native, LightningDB-on-IndexedDB ÷ raw IndexedDB. */
const RATIO_PAIRS = [
  ['lightningdb', 'lmdb'], ['lightningdb', 'classic-level'], ['lightningdb', 'better-sqlite3'],
  ['lightningdb-wasm', 'lightningdb'], ['lightningdb-wasm', 'lmdb'],
  ['lightningdb-opfs', 'indexeddb'], ['lightningdb-opfs', 'sqlite-wasm-sahpool'],
  ['lightningdb-idb', 'indexeddb'],
];
function ratioColumns(run) {
  const names = new Set(run.stores.filter((s) => !s.error).map((s) => s.store));
  const pairs = RATIO_PAIRS.filter(([a, b]) => names.has(a) && names.has(b));
  // wasm ÷ lmdb only when native is missing (it then stands in for it)
  const out = pairs.filter(([a, b]) => !(a === 'lightningdb-wasm' && b === 'lmdb' && names.has('lightningdb')));
  return out.map(([a, b]) => [`${short(a)}÷${short(b)}`, a, b]);
}
const short = (s) => ({
  lightningdb: 'ldb', 'lightningdb-wasm': 'wasm', lmdb: 'lmdb', 'classic-level': 'level',
  'better-sqlite3': 'sqlite', 'lightningdb-opfs': 'opfs', 'lightningdb-idb': 'ldb-idb',
  indexeddb: 'idb', 'sqlite-wasm-sahpool': 'sqlite',
}[s] || s);

function tableRows(run, key = 'opsPerSec') {
  const stores = run.stores.map((s) => s.store);
  const rc = ratioColumns(run);
  const header = ['workload', ...stores, ...rc.map((c) => c[0])];
  const rows = [];
  for (const w of WORKLOADS) {
    if (!run.stores.some((s) => s.results && s.results.some((r) => r.workload === w.name && r[key] != null))) continue;
    rows.push([w.name, ...stores.map((s) => fmtOps(opsOf(run, s, w.name, key))), ...rc.map(([, a, b]) => fmtRatio(ratio(run, a, b, w.name, key)))]);
  }
  return { header, rows };
}

export function consoleTable(run) {
  const { header, rows } = tableRows(run);
  const all = [header, ...rows];
  const width = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(width[i]) : String(c).padStart(width[i]))).join('  ');
  const out = [line(header), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  out.push('');
  out.push('ops/s; ratio a÷b > 1 means a is faster');
  const extra = run.stores.map((s) => `${s.store}: ${s.error ? 'FAILED: ' + s.error.split('\n')[0] : resourceLine(s)}`);
  out.push(...extra);
  return out.join('\n');
}

/** 2-thread scaling of one store: readrandom_2w ÷ readrandom_1w, or null. */
export function scaling(run, store) {
  const x = opsOf(run, store, 'readrandom_2w');
  const y = opsOf(run, store, 'readrandom_1w');
  return x != null && y ? x / y : null;
}

function resourceLine(s) {
  const sc = s.results && (() => {
    const x = s.results.find((r) => r.workload === 'readrandom_2w');
    const y = s.results.find((r) => r.workload === 'readrandom_1w');
    return x && y ? x.opsPerSec / y.opsPerSec : null;
  })();
  return `disk after fillrandom ${fmtBytes(s.sizeAfterLoad)}, after overwrite ${fmtBytes(s.sizeAfterOverwrite)}; ` +
    `peak RSS ${fmtBytes(s.peakRssBytes)} (${fmtBytes(s.peakRssAboveBaseBytes)} above the ${fmtBytes(s.rssBaseBytes)} baseline)` +
    (sc != null ? `; 2 threads ÷ 1: ${fmtRatio(sc)}` : '');
}

export function markdown(run, { chart, html } = {}) {
  const { header, rows } = tableRows(run);
  const md = [];
  md.push(`N = ${run.n.toLocaleString('en-US')}${run.repeat > 1 ? `, best of ${run.repeat} rounds per workload` : ''}; ${run.machine?.summary || ''}. Run ${run.date}${run.commit ? ` at commit ${run.commit}` : ''}.`);
  md.push('');
  md.push(`| ${header.join(' | ')} |`);
  md.push(`|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const r of rows) md.push(`| ${r.join(' | ')} |`);
  const cpu = tableRows(run, 'opsPerCpuSec');
  if (cpu.rows.length) {
    md.push('');
    md.push('Operations per CPU second (process CPU time, all threads, over the same interval; steadier than ops/s on a shared machine; the worker_thread rows are left out: their CPU time includes the workers\' start-up):');
    md.push('');
    md.push(`| ${cpu.header.join(' | ')} |`);
    md.push(`|${cpu.header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const r of cpu.rows) md.push(`| ${r.join(' | ')} |`);
  }
  md.push('');
  md.push('Load average (1 min) when each store\'s child started and ended: ' + run.stores.map((s) => `${s.store} ${s.loadAvg ? JSON.stringify(s.loadAvg) : '—'}`).join(', ') + '.');
  md.push('');
  md.push('Latency (µs, p50 / p99; sampled per op, per batch for fills, per seek+100 next, per getBatch(100)):');
  md.push('');
  const stores = run.stores.map((s) => s.store);
  md.push(`| workload | ${stores.join(' | ')} |`);
  md.push(`|---|${stores.map(() => '---:').join('|')}|`);
  for (const w of WORKLOADS) {
    const cells = stores.map((s) => {
      const r = run.stores.find((x) => x.store === s)?.results?.find((x) => x.workload === w.name);
      return r && r.latencyUs ? `${fmtUs(r.latencyUs.p50)} / ${fmtUs(r.latencyUs.p99)}` : '—';
    });
    if (cells.every((c) => c === '—')) continue;
    md.push(`| ${w.name} | ${cells.join(' | ')} |`);
  }
  md.push('');
  md.push(`| store | version | disk after fillrandom | disk after overwrite | peak RSS | above baseline | 2 threads ÷ 1 | configuration |`);
  md.push(`|---|---|---:|---:|---:|---:|---:|---|`);
  for (const s of run.stores) {
    md.push(`| ${s.store} | ${s.version || ''} | ${fmtBytes(s.sizeAfterLoad)} | ${fmtBytes(s.sizeAfterOverwrite)} | ${fmtBytes(s.peakRssBytes)} | ${fmtBytes(s.peakRssAboveBaseBytes)} | ${fmtRatio(scaling(run, s.store))} | ${s.error ? 'FAILED: ' + esc(s.error.split('\n')[0]) : esc(s.config || '')} |`);
  }
  md.push('');
  md.push('Disk: allocated bytes of the store\'s files right after the workload. Peak RSS: the child process\'s maximum; "above baseline": VmHWM minus the RSS once the key/value material existed and before any store opened (Linux).');
  if (chart || html) {
    md.push('');
    md.push(`Chart: ${chart ? `[${chart}](${chart})` : ''}${html ? ` · page: [${html}](${html})` : ''}`);
  }
  return md.join('\n');
}

/**
 * One SVG with a panel per workload; each panel is a horizontal bar chart of
 * ops/s per store (log-free linear scale per panel, value printed on the bar).
 */
export function svgChart(run, title) {
  const stores = run.stores.filter((s) => !s.error).map((s) => s.store);
  const ws = WORKLOADS.filter((w) => stores.some((s) => opsOf(run, s, w.name) != null));
  const cols = 3;
  const panelW = 380, barH = 16, gap = 4, labelW = 130, padTop = 26;
  const panelH = padTop + stores.length * (barH + gap) + 14;
  const rowsN = Math.ceil(ws.length / cols);
  const W = cols * panelW + 20;
  const legendH = 24;
  const H = 48 + legendH + rowsN * panelH;
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`);
  o.push(`<text x="10" y="40" fill="#555">${esc(`ops/s, higher is better. N = ${run.n.toLocaleString('en-US')}${run.repeat > 1 ? `, best of ${run.repeat}` : ''}. ${run.machine?.summary || ''}`)}</text>`);
  let lx = 10;
  for (const s of stores) {
    o.push(`<rect x="${lx}" y="${52}" width="12" height="12" fill="${color(s)}"/>`);
    o.push(`<text x="${lx + 16}" y="${62}">${esc(s)}</text>`);
    lx += 34 + s.length * 7;
  }
  ws.forEach((w, i) => {
    const px = 10 + (i % cols) * panelW;
    const py = 48 + legendH + Math.floor(i / cols) * panelH;
    const vals = stores.map((s) => opsOf(run, s, w.name) || 0);
    const max = Math.max(...vals, 1);
    const unit = w.unit;
    o.push(`<g transform="translate(${px},${py})">`);
    o.push(`<text x="0" y="16" font-size="12" font-weight="bold">${esc(w.name)}</text>`);
    o.push(`<text x="${esc(w.name).length * 7.5 + 6}" y="16" fill="#777">${esc(unit)}/s</text>`);
    stores.forEach((s, j) => {
      const y = padTop + j * (barH + gap);
      const bw = Math.max(1, ((panelW - labelW - 60) * vals[j]) / max);
      o.push(`<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${esc(s)}</text>`);
      o.push(`<rect x="${labelW}" y="${y}" width="${bw.toFixed(1)}" height="${barH}" fill="${color(s)}"><title>${esc(`${s} ${w.name}: ${vals[j].toLocaleString('en-US')} ${unit}/s`)}</title></rect>`);
      o.push(`<text x="${(labelW + bw + 4).toFixed(1)}" y="${y + 12}">${vals[j] ? fmtOps(vals[j]) : 'n/a'}</text>`);
    });
    o.push(`</g>`);
  });
  o.push('</svg>');
  return o.join('\n');
}

export function htmlPage(run, title, svg, targets) {
  const { header, rows } = tableRows(run);
  const t = targets ? evaluateTargets(run, targets) : [];
  const cell = (c, i) => (i === 0 ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{text-align:left;background:#f6f6f6}
.met{color:#2b8a3e}.miss{color:#c92a2a}code{background:#f3f3f3;padding:1px 4px}</style></head>
<body><h1>${esc(title)}</h1>
<p>${esc(run.machine?.summary || '')} — run ${esc(run.date || '')}, N = ${run.n.toLocaleString('en-US')}</p>
${svg}
<h2>ops/s and LightningDB ratios</h2>
<table><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>
${rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n')}</table>
${t.length ? `<h2>Targets</h2><table><tr><th>target</th><th>measured</th><th>status</th><th>detail</th></tr>
${t.map((x) => `<tr><th>${esc(x.text)}</th><td>${fmtRatio(x.ratio)}</td><td class="${x.met ? 'met' : 'miss'}">${x.met == null ? 'n/a' : x.met ? 'met' : 'missed'}</td><td style="text-align:left">${esc(x.detail)}</td></tr>`).join('\n')}</table>` : ''}
<h2>Stores</h2><table><tr><th>store</th><th>version</th><th>disk after fillrandom</th><th>disk after overwrite</th><th>peak RSS</th><th>above baseline</th><th>2 threads ÷ 1</th><th>configuration</th></tr>
${run.stores.map((s) => `<tr><th>${esc(s.store)}</th><td>${esc(s.version || '')}</td><td>${fmtBytes(s.sizeAfterLoad)}</td><td>${fmtBytes(s.sizeAfterOverwrite)}</td><td>${fmtBytes(s.peakRssBytes)}</td><td>${fmtBytes(s.peakRssAboveBaseBytes)}</td><td>${fmtRatio(scaling(run, s.store))}</td><td style="text-align:left">${s.error ? 'FAILED: ' + esc(s.error.split('\n')[0]) : esc(s.config || '')}</td></tr>`).join('\n')}</table>
</body></html>
`;
}

export function targetsMarkdown(run, targets) {
  const t = evaluateTargets(run, targets);
  const md = ['| target | measured | status | detail |', '|---|---:|---|---|'];
  for (const x of t) md.push(`| ${x.text} | ${fmtRatio(x.ratio)} | ${x.met == null ? 'n/a' : x.met ? 'met' : '**missed**'} | ${x.detail} |`);
  return md.join('\n');
}
