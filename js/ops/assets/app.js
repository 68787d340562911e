// app.js — the LightningDB diagnostics page (served by db.serve()).
// Polls the server's /api/* JSON and draws it with uPlot. No framework.
// Each chart's element carries data-points (points drawn) and data-last
// (the newest value of its first series) for tests and for scraping.
'use strict';

(function main() {
  const MAX_POINTS = 600;
  const $ = (sel) => document.querySelector(sel);

  async function getJson(path, init) {
    const r = await fetch(path, init);
    const body = await r.json().catch(() => ({}));
    if (!r.ok && r.status !== 503) throw new Error(body.error || `${path}: HTTP ${r.status}`);
    return body;
  }

  function fmtBytes(n) {
    if (n == null) return '';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${u[i]}`;
  }

  function width(el) {
    return Math.max(300, el.clientWidth - 16);
  }

  /** A uPlot chart in figure #id with the given series (label, color). */
  function makeChart(id, series, opts = {}) {
    const el = document.getElementById(id);
    const data = [[], ...series.map(() => [])];
    // Series with `right: true` use a second y scale, drawn on the right.
    const right = series.some((s) => s.right);
    const plot = new uPlot({
      width: width(el),
      height: 180,
      scales: { x: { time: opts.time !== false }, y: opts.y || {}, ...(right ? { r: {} } : {}) },
      axes: [{}, { size: 70, values: opts.values || undefined }, ...(right ? [{ scale: 'r', side: 1, size: 60, grid: { show: false } }] : [])],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true, scale: s.right ? 'r' : 'y' }))],
    }, data, el);
    const chart = { el, plot, data, series };
    el.dataset.points = '0';
    return chart;
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
    ops: makeChart('chart-ops', [
      { label: 'ops/s', color: palette[0] }, { label: 'gets/s', color: palette[2] }, { label: 'writes/s', color: palette[1] },
    ]),
    cache: makeChart('chart-cache', [{ label: 'hit rate %', color: palette[2] }], { y: { range: [0, 100] } }),
    sizes: makeChart('chart-sizes', [
      { label: 'memtable', color: palette[3] }, { label: 'log', color: palette[4] },
    ], { values: (u, ticks) => ticks.map(fmtBytes) }),
    checkpoints: makeChart('chart-checkpoints', [{ label: 'checkpoints', color: palette[5] }]),
    latency: null, // created on the first sample: one p50 and one p99 series per latency histogram
    loadtest: makeChart('chart-loadtest', [
      { label: 'ops/s', color: palette[0] },
      { label: 'get p99 µs (right)', color: palette[2], right: true },
      { label: 'put p99 µs (right)', color: palette[1], right: true },
    ], { time: false }),
  };
  let latencyNames = [];
  let lastSample = 0;
  let intervalMs = 1000;

  function shortName(name) {
    return name.replace(/^lightningdb_/, '').replace(/_latency_seconds$/, '').replace(/_seconds$/, '');
  }

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
    charts.latency = makeChart('chart-latency', series);
  }

  function addSample(s) {
    const x = s.t / 1000;
    push(charts.ops, x, [s.opsPerSec, s.getsPerSec, s.writesPerSec]);
    push(charts.cache, x, [s.cacheHitRate == null ? null : Math.round(s.cacheHitRate * 10000) / 100]);
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
    const r = await getJson(`/api/samples?after=${lastSample}`);
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
    const r = await getJson('/api/events');
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
        : e.type === 'slow_commit' || e.type === 'sync_stall' ? `${(e.value / 1e6).toFixed(1)} ms`
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

  function fmtValue(r) {
    if (r.unit === 'ratio') return `${(r.value * 100).toFixed(1)}%`;
    if (r.unit === 'bytes') return fmtBytes(r.value);
    if (r.unit === 'microseconds') return `${Math.round(r.value)} µs`;
    return String(r.value);
  }

  async function pollRecommendations() {
    const r = await getJson('/api/recommendations');
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
    const r = await getJson('/api/overview');
    $('#db').textContent = `${r.path} (${r.engine})`;
    const h = $('#health');
    h.textContent = r.health.healthy ? 'healthy' : `unhealthy: ${r.health.issues.join('; ')}`;
    h.className = `badge ${r.health.healthy ? 'ok' : 'bad'}`;
    if (!r.loadTest) {
      $('#loadtest-run').disabled = true;
      $('#loadtest-status').textContent = 'load tests are disabled on this server';
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
      status.textContent = 'idle';
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
      if (showLoad(await getJson('/api/loadtest'))) loadTimer = setTimeout(pollLoad, 300);
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
      const r = await getJson('/api/loadtest', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      charts.loadtest.data.forEach((a) => { a.length = 0; });
      loadPoints = 0;
      showLoad(r);
      if (!loadTimer) loadTimer = setTimeout(pollLoad, 300);
    } catch (e) {
      $('#loadtest-status').textContent = `error: ${e.message}`;
    }
  });
  $('#loadtest-stop').addEventListener('click', () => {
    fetch('/api/loadtest', { method: 'DELETE' }).catch(() => {});
  });

  // ---- polling ----------------------------------------------------------
  async function tick() {
    const jobs = [pollSamples(), pollEvents(), pollRecommendations()];
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r) => r.status === 'rejected');
    document.body.dataset.error = failed ? String(failed.reason && failed.reason.message) : '';
    setTimeout(tick, intervalMs);
  }

  window.addEventListener('resize', () => {
    for (const c of Object.values(charts)) if (c) c.plot.setSize({ width: width(c.el), height: 180 });
  });

  pollOverview().catch(() => {});
  setInterval(() => pollOverview().catch(() => {}), 5000);
  pollLoad();
  tick();
})();
