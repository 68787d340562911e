// panel.js — the LightningDB diagnostics panel: live charts (uPlot), the
// engine's event timeline, recommendations and the load-test panel.
//
// One implementation for both places it appears:
//   - the page of db.serve() (app.js mounts it over httpSource(), the
//     server's /api/* JSON);
//   - a page of the browser build (mountDiagnostics() in js/browser/index.ts
//     mounts it over a source that reads a RemoteDatabase through its
//     Worker, js/ops/panel-remote.ts).
// It knows nothing of where the data comes from: a source answers
// overview(), samples(after), events(), recommendations(), loadTest(),
// startLoadTest(options) and stopLoadTest() (declared in panel.d.ts).
// Plain JavaScript, so the server ships it as it is and esbuild bundles it.
//
// Each chart's element carries data-points (points drawn) and data-last
// (the newest value of its first series) for tests and for scraping.
// Element ids are fixed (#chart-ops, #timeline, ...): one panel per page.

const MAX_POINTS = 600;

const TEMPLATE = `
<header class="ldb-head">
  <h1>LightningDB diagnostics</h1>
  <div id="db"></div>
  <div id="health" class="badge">…</div>
</header>
<div class="ldb-main">
  <section class="charts">
    <figure class="chart" id="chart-ops"><figcaption>Operations per second</figcaption></figure>
    <figure class="chart" id="chart-latency"><figcaption>Latency p50 / p99 (µs)</figcaption></figure>
    <figure class="chart" id="chart-cache"><figcaption>Cache hit rate (%) <small id="cache-source"></small></figcaption></figure>
    <figure class="chart" id="chart-sizes"><figcaption>Memtable and log size (bytes)</figcaption></figure>
    <figure class="chart" id="chart-checkpoints"><figcaption>Checkpoints (completed since open)</figcaption></figure>
  </section>
  <section class="side">
    <h2>Recommendations</h2>
    <ul id="recommendations"><li class="none">No recommendations yet.</li></ul>
    <h2>Events <small id="events-source"></small></h2>
    <table id="timeline"><thead><tr><th>time</th><th>event</th><th>detail</th><th>value</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="loadtest">
    <h2>Load test <small>(a scratch database, never this one)</small></h2>
    <form id="loadtest-form">
      <label>duration (s) <input name="durationS" type="number" min="0.1" max="60" step="0.1" value="5"></label>
      <label>reads (%) <input name="readPct" type="number" min="0" max="100" value="80"></label>
      <label>keys <input name="keys" type="number" min="1" max="1000000" value="10000"></label>
      <label>value size (B) <input name="valueSize" type="number" min="0" max="65536" value="100"></label>
      <button type="submit" id="loadtest-run">Run</button>
      <button type="button" id="loadtest-stop" disabled>Stop</button>
    </form>
    <div id="loadtest-status">idle</div>
    <figure class="chart" id="chart-loadtest"><figcaption>Load test: ops/s and p99 (µs)</figcaption></figure>
  </section>
</div>`;

/** "64 MiB", "1.5 GiB", "512 B" */
function fmtBytes(n) {
  if (n == null) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${u[i]}`;
}

function fmtValue(r) {
  if (r.unit === 'ratio') return `${(r.value * 100).toFixed(1)}%`;
  if (r.unit === 'bytes') return fmtBytes(r.value);
  if (r.unit === 'microseconds') return `${Math.round(r.value)} µs`;
  return String(r.value);
}

function shortName(name) {
  return name.replace(/^lightningdb_/, '').replace(/_latency_seconds$/, '').replace(/_seconds$/, '');
}

/** The source of the page of db.serve(): its /api/* JSON under `base`. */
export function httpSource(base = '') {
  async function getJson(path, init) {
    const r = await fetch(base + path, init);
    const body = await r.json().catch(() => ({}));
    if (!r.ok && r.status !== 503) throw new Error(body.error || `${path}: HTTP ${r.status}`);
    return body;
  }
  return {
    overview: () => getJson('/api/overview'),
    samples: (after) => getJson(`/api/samples?after=${after}`),
    events: () => getJson('/api/events'),
    recommendations: () => getJson('/api/recommendations'),
    loadTest: () => getJson('/api/loadtest'),
    startLoadTest: (options) => getJson('/api/loadtest', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(options),
    }),
    stopLoadTest: () => fetch(base + '/api/loadtest', { method: 'DELETE' }).then(() => {}),
  };
}

/**
 * Renders the panel into `root` (its content is replaced) and polls
 * `source` every interval (the source's intervalMs). `uPlot` is the uPlot
 * constructor. Returns { close() }: stops polling and empties root.
 */
export function createPanel(root, source, { uPlot }) {
  root.classList.add('ldb-panel');
  root.innerHTML = TEMPLATE;
  const $ = (sel) => root.querySelector(sel);
  let closed = false;
  const timers = new Set();
  const later = (fn, ms) => {
    const t = setTimeout(() => { timers.delete(t); if (!closed) fn(); }, ms);
    timers.add(t);
    return t;
  };

  function width(el) {
    return Math.max(300, el.clientWidth - 16);
  }

  /** A uPlot chart in figure `sel` with the given series (label, color). */
  function makeChart(sel, series, opts = {}) {
    const el = $(sel);
    const data = [[], ...series.map(() => [])];
    // Series with `right: true` use a second y scale, drawn on the right.
    const right = series.some((s) => s.right);
    const plot = new uPlot({
      width: width(el),
      height: 180,
      scales: { x: { time: opts.time !== false }, y: opts.y || {}, ...(right ? { r: {} } : {}) },
      axes: [{}, { size: 70, values: opts.values || undefined }, ...(right ? [{ scale: 'r', side: 1, size: 80, grid: { show: false } }] : [])],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true, scale: s.right ? 'r' : 'y' }))],
    }, data, el);
    el.dataset.points = '0';
    return { el, plot, data, series };
  }

  function push(chart, x, ys) {
    chart.data[0].push(x);
    ys.forEach((y, i) => chart.data[i + 1].push(y));
    if (chart.data[0].length > MAX_POINTS) chart.data.forEach((a) => a.shift());
  }

  function redraw(chart) {
    chart.plot.setData(chart.data);
    const first = chart.data[1];
    chart.el.dataset.points = String(chart.data[0].length);
    chart.el.dataset.last = first.length ? String(first[first.length - 1]) : '';
  }

  const palette = ['#0969da', '#cf222e', '#1f883d', '#8250df', '#bf8700', '#57606a'];
  const charts = {
    ops: makeChart('#chart-ops', [
      { label: 'ops/s', color: palette[0] }, { label: 'gets/s', color: palette[2] }, { label: 'writes/s', color: palette[1] },
    ]),
    cache: makeChart('#chart-cache', [{ label: 'hit rate %', color: palette[2] }], { y: { range: [0, 100] } }),
    sizes: makeChart('#chart-sizes', [
      { label: 'memtable', color: palette[3] }, { label: 'log', color: palette[4] },
    ], { values: (u, ticks) => ticks.map(fmtBytes) }),
    checkpoints: makeChart('#chart-checkpoints', [{ label: 'checkpoints', color: palette[5] }]),
    latency: null, // created on the first sample: one p50 and one p99 series per latency histogram
    loadtest: makeChart('#chart-loadtest', [
      { label: 'ops/s', color: palette[0] },
      { label: 'get p99 µs (right)', color: palette[2], right: true },
      { label: 'put p99 µs (right)', color: palette[1], right: true },
    ], { time: false }),
  };
  let latencyNames = [];
  let lastSample = 0;
  let intervalMs = 1000;

  function ensureLatencyChart(sample) {
    if (charts.latency) return;
    latencyNames = Object.keys(sample.latency).sort();
    const series = [];
    const colors = [['#54aeff', '#0550ae'], ['#ff8182', '#a40e26'], ['#4ac26b', '#116329'], ['#c297ff', '#6639ba']];
    latencyNames.forEach((n, i) => {
      const [p50, p99] = colors[i % colors.length];
      series.push({ label: `${shortName(n)} p50`, color: p50 });
      series.push({ label: `${shortName(n)} p99`, color: p99 });
    });
    charts.latency = makeChart('#chart-latency', series);
  }

  // What the hit rate measures (sample.cacheHitSource): the page cache, or
  // (natively by default) the residency of reads through the mapping.
  const SOURCES = {
    cache: 'page cache: lookups that found the page',
    mapping: 'reads through the memory mapping: sampled ones (1 in 1024) whose page was in memory',
  };
  function showSource(source) {
    const fig = $('#chart-cache');
    if (!source || fig.dataset.source === source) return;
    fig.dataset.source = source;
    $('#cache-source').textContent = `— ${SOURCES[source] || source}`;
  }

  function addSample(s) {
    const x = s.t / 1000;
    push(charts.ops, x, [s.opsPerSec, s.getsPerSec, s.writesPerSec]);
    push(charts.cache, x, [s.cacheHitRate == null ? null : Math.round(s.cacheHitRate * 10000) / 100]);
    showSource(s.cacheHitSource);
    push(charts.sizes, x, [s.memtableBytes, s.logFileSize]);
    push(charts.checkpoints, x, [s.checkpoints]);
    ensureLatencyChart(s);
    const ys = [];
    for (const n of latencyNames) {
      const l = s.latency[n] || { p50: null, p99: null };
      ys.push(l.p50, l.p99);
    }
    push(charts.latency, x, ys);
  }

  async function pollSamples() {
    const r = await source.samples(lastSample);
    intervalMs = r.intervalMs || intervalMs;
    for (const s of r.samples) {
      addSample(s);
      lastSample = s.t;
    }
    if (r.samples.length) {
      for (const k of ['ops', 'cache', 'sizes', 'checkpoints', 'latency']) if (charts[k]) redraw(charts[k]);
    }
  }

  let lastEvents = '';
  async function pollEvents() {
    // The whole (bounded) timeline each time: an engine burst event keeps
    // growing (its count) while the burst lasts.
    const r = await source.events();
    $('#events-source').textContent = '(engine event ring)';
    const text = JSON.stringify(r.events);
    if (text === lastEvents) return;
    lastEvents = text;
    const body = $('#timeline tbody');
    body.textContent = '';
    for (const e of r.events.slice().reverse()) {
      const tr = document.createElement('tr');
      tr.className = `event ${e.type}`;
      tr.dataset.type = e.type;
      // The number behind the event: the burst size, a duration, a seq.
      const value = e.count > 1 ? `${e.count}×`
        : e.type === 'slow_commit' || e.type === 'slow_read' || e.type === 'sync_stall' ? `${(e.value / 1e6).toFixed(1)} ms`
          : e.type === 'checkpoint' ? `seq ${e.value}` : String(e.value);
      for (const [cls, t] of [['time', new Date(e.t).toLocaleTimeString()], ['type', e.type], ['message', e.message], ['value', value]]) {
        const td = document.createElement('td');
        td.className = cls;
        td.textContent = t;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  async function pollRecommendations() {
    const r = await source.recommendations();
    const ul = $('#recommendations');
    ul.textContent = '';
    if (!r.recommendations.length) {
      const li = document.createElement('li');
      li.className = 'none';
      li.textContent = 'No recommendations: nothing measured needs attention.';
      ul.appendChild(li);
      return;
    }
    for (const rec of r.recommendations) {
      const li = document.createElement('li');
      li.className = `recommendation ${rec.severity}`;
      li.dataset.id = rec.id;
      const value = document.createElement('span');
      value.className = 'value';
      value.textContent = fmtValue(rec);
      const title = document.createElement('div');
      title.className = 'title';
      title.textContent = rec.title;
      const detail = document.createElement('div');
      detail.className = 'detail';
      detail.textContent = rec.detail;
      li.append(value, title, detail);
      ul.appendChild(li);
    }
  }

  async function pollOverview() {
    const r = await source.overview();
    $('#db').textContent = `${r.path} (${r.engine})`;
    const h = $('#health');
    h.textContent = r.health.healthy ? 'healthy' : `unhealthy: ${r.health.issues.join('; ')}`;
    h.className = `badge ${r.health.healthy ? 'ok' : 'bad'}`;
    if (!r.loadTest) {
      $('#loadtest-run').disabled = true;
      $('#loadtest-status').textContent = 'load tests are disabled here';
    }
  }

  // ---- load test ------------------------------------------------------
  let loadPoints = 0;
  let loadTimer = null;

  function showLoad(r) {
    const status = $('#loadtest-status');
    status.dataset.state = r.state;
    if (r.state === 'running') {
      status.textContent = r.phase === 'preload' && r.preload
        ? `writing ${r.preload.done} / ${r.preload.total} keys…`
        : `running: ${r.points.length} points`;
    } else if (r.state === 'done') {
      const x = r.result;
      status.textContent = `done: ${x.opsPerSec} ops/s over ${(x.durationMs / 1000).toFixed(1)} s; ` +
        `get p50 ${x.getP50 ?? '-'} µs, p99 ${x.getP99 ?? '-'} µs; put p50 ${x.putP50 ?? '-'} µs, p99 ${x.putP99 ?? '-'} µs`;
    } else if (r.state === 'failed') {
      status.textContent = `failed: ${r.error}`;
    } else {
      status.textContent = r.enabled ? 'idle' : 'load tests are disabled here';
    }
    for (const p of r.points.slice(loadPoints)) push(charts.loadtest, p.tMs / 1000, [p.opsPerSec, p.getP99, p.putP99]);
    loadPoints = r.points.length;
    redraw(charts.loadtest);
    const running = r.state === 'running';
    $('#loadtest-run').disabled = running || !r.enabled;
    $('#loadtest-stop').disabled = !running;
    return running;
  }

  async function pollLoad() {
    loadTimer = null;
    try {
      if (showLoad(await source.loadTest())) loadTimer = later(pollLoad, 300);
    } catch (e) {
      $('#loadtest-status').textContent = `error: ${e.message}`;
    }
  }

  $('#loadtest-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = {
      durationMs: Math.round(Number(f.get('durationS')) * 1000),
      readRatio: Number(f.get('readPct')) / 100,
      keys: Number(f.get('keys')),
      valueSize: Number(f.get('valueSize')),
    };
    try {
      const r = await source.startLoadTest(body);
      charts.loadtest.data.forEach((a) => { a.length = 0; });
      loadPoints = 0;
      showLoad(r);
      if (!loadTimer) loadTimer = later(pollLoad, 300);
    } catch (e) {
      $('#loadtest-status').textContent = `error: ${e.message}`;
    }
  });
  $('#loadtest-stop').addEventListener('click', () => {
    source.stopLoadTest().catch(() => {});
  });

  // ---- polling ----------------------------------------------------------
  async function tick() {
    const results = await Promise.allSettled([pollSamples(), pollEvents(), pollRecommendations()]);
    const failed = results.find((r) => r.status === 'rejected');
    root.dataset.error = failed ? String(failed.reason && failed.reason.message) : '';
    later(tick, intervalMs);
  }

  const onResize = () => {
    for (const c of Object.values(charts)) if (c) c.plot.setSize({ width: width(c.el), height: 180 });
  };
  window.addEventListener('resize', onResize);

  const overviewLoop = () => pollOverview().catch(() => {}).then(() => later(overviewLoop, 5000));
  overviewLoop();
  pollLoad();
  tick();

  return {
    close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      window.removeEventListener('resize', onResize);
      for (const c of Object.values(charts)) if (c) c.plot.destroy();
      root.textContent = '';
      root.classList.remove('ldb-panel');
    },
  };
}
