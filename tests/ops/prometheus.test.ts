/* prometheus.test.ts — a real Prometheus (Debian's) scrapes db.serve() and
 * a prom-client registry holding registerDatabase(); then every PromQL
 * query of the Grafana dashboard and every alert rule of deploy/ is run
 * through its HTTP API and must return data; promtool checks deploy/ and
 * runs its alert unit tests (deploy/prometheus/alerts.test.yml). */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { open, registerDatabase, type Database, type OpsServer } from '../../js/index.js';
import { root, startPrometheus, tempDir, until, type PromServer } from './helpers.js';

const deploy = join(root, 'deploy');
const alertsFile = join(deploy, 'prometheus', 'alerts.yml');

/** The alert rules of deploy/prometheus/alerts.yml: name and expr. */
function alertRules(): Array<{ alert: string; expr: string }> {
  // The file is YAML; its rules are simple enough to read line-wise, and
  // promtool (below) proves it is what Prometheus reads.
  const text = readFileSync(alertsFile, 'utf8');
  const rules: Array<{ alert: string; expr: string }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const a = /^\s*- alert: (\S+)/.exec(lines[i]!);
    if (!a) continue;
    const e = /^(\s*)expr: (.*)$/.exec(lines[i + 1]!);
    assert.ok(e, `alert ${a[1]} needs expr on the next line`);
    let expr = e[2]!;
    if (expr.trim() === '|') {
      const body: string[] = [];
      const indent = e[1]!.length;
      for (let j = i + 2; j < lines.length; j++) {
        const l = lines[j]!;
        if (l.trim() !== '' && l.search(/\S/) <= indent) break;
        body.push(l.trim());
      }
      expr = body.join(' ');
    }
    rules.push({ alert: a[1]!, expr });
  }
  return rules;
}

function dashboardQueries(): Array<{ panel: string; expr: string }> {
  const d = JSON.parse(readFileSync(join(deploy, 'grafana', 'dashboards', 'lightningdb.json'), 'utf8'));
  const out: Array<{ panel: string; expr: string }> = [];
  for (const p of d.panels) for (const t of p.targets ?? []) out.push({ panel: p.title, expr: t.expr });
  return out;
}

describe('Prometheus scraping db.serve() and a prom-client registry', function () {
  this.timeout(120_000);
  const tmp = tempDir('prom');
  let served: Database;
  let registered: Database;
  let closing: Database;
  let srv: OpsServer;
  let closedSrv: OpsServer;
  // A database on a full tmpfs (needs root to mount): its background
  // checkpoint fails with FULL, so the disk-full and checkpoint-failing
  // alerts fire for real.
  const tmpfs = join(tmp.dir, 'tmpfs');
  let mounted = false;
  let full: Database | undefined;
  let fullSrv: OpsServer | undefined;
  let appServer: Server;
  let prom: PromServer;
  let load: ReturnType<typeof setInterval> | undefined;

  before(async () => {
    // The served database has the default options: natively its tree pages
    // are read through the memory mapping, so its hit rate is the sampled
    // residency of those reads (source "mapping"). The registered one
    // turns the mapping off and has a page cache far smaller than its data
    // (source "page cache"): random reads miss, so the cache-hit-rate alert
    // fires for it. (Residency under the mapping cannot be forced low
    // here: pages this process has mapped stay in memory.)
    served = open(join(tmp.dir, 'served'));
    registered = open(join(tmp.dir, 'registered'), { cacheSize: 64 * 1024, mmapSize: 0 });
    const big = new Uint8Array(200).fill(7);
    for (const db of [served, registered]) {
      for (let i = 0; i < 20000; i += 1000) {
        const batch: Array<[string, Uint8Array]> = [];
        for (let j = i; j < i + 1000; j++) batch.push([`k${String(j).padStart(6, '0')}`, big]);
        db.putBatch(batch);
      }
      db.checkpoint();
    }
    closing = open(join(tmp.dir, 'closing'));
    srv = await served.serve({ port: 0 });
    mkdirSync(tmpfs);
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', tmpfs]).status === 0;
    if (mounted) {
      full = open(join(tmpfs, 'db'), { memtableSize: 64 << 20 });
      const kib = new Uint8Array(1024).fill(3);
      for (let i = 0; i < 1000; i += 100) {
        full.putBatch(Array.from({ length: 100 }, (_, j) => [`f${i + j}`, kib] as [string, Uint8Array]));
      }
      full.flush();
      try {
        writeFileSync(join(tmpfs, 'filler'), new Uint8Array(4 << 20)); // fills the tmpfs, then ENOSPC
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      assert.throws(() => full!.checkpoint(), /FULL|space/i);
      assert.equal(full.metrics().backgroundError, 'FULL');
      fullSrv = await full.serve({ port: 0 });
    }
    closedSrv = await closing.serve({ port: 0 });
    const registry = new Registry();
    registerDatabase(registry, registered, { labels: { db: 'app' } });
    appServer = createServer(async (req, res) => {
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
    });
    await new Promise<void>((r) => appServer.listen(0, '127.0.0.1', () => r()));
    const appPort = (appServer.address() as { port: number }).port;
    // A steady workload with checkpoints and transaction conflicts.
    let n = 0;
    load = setInterval(() => {
      for (const db of [served, registered]) {
        for (let i = 0; i < 300; i++) db.get(`k${String(Math.floor(Math.random() * 20000)).padStart(6, '0')}`);
        for (let i = 0; i < 30; i++) db.put(`k${String(n++ % 20000).padStart(6, '0')}`, big);
        const a = db.beginTransaction();
        const b = db.beginTransaction();
        a.get('hot');
        b.get('hot');
        a.put('hot', 'a');
        b.put('hot', 'b');
        a.commit();
        try { b.commit(); } catch { /* CONFLICT, counted */ }
        if (n % 600 === 0) db.checkpoint();
      }
    }, 50);
    // The third database is closed: its /metrics answers 503, so
    // Prometheus marks the target down (the unhealthy alert).
    closing.close();
    prom = await startPrometheus([
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${alertsFile}`,
      'scrape_configs:',
      '  - job_name: lightningdb',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${srv.port}', '127.0.0.1:${closedSrv.port}'${fullSrv ? `, '127.0.0.1:${fullSrv.port}'` : ''}]`,
      '  - job_name: lightningdb-app',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${appPort}']`,
      '',
    ].join('\n'), join(tmp.dir, 'prom'));
    // Enough scrapes for rate() and increase() over their windows.
    await until('three scrapes of every target', 30_000, async () => {
      const r = await prom.query('count_over_time(up[1m])');
      return r.length === (fullSrv ? 4 : 3) && r.every((s) => Number(s.value[1]) >= 4);
    });
  });

  after(async () => {
    if (load) clearInterval(load);
    await prom?.stop();
    await srv?.close();
    await closedSrv?.close();
    await fullSrv?.close();
    // The full disk also fails close's final checkpoint (FULL; the log keeps
    // every commit), which is expected here.
    try {
      full?.close();
    } catch (e) {
      if ((e as { code?: string }).code !== 'FULL') throw e;
    }
    if (mounted) spawnSync('umount', ['-l', tmpfs]);
    await new Promise<void>((r) => (appServer ? appServer.close(() => r()) : r()));
    served?.close();
    registered?.close();
    tmp.remove();
  });

  it('promtool check config and check rules pass on deploy/', () => {
    const cfg = execFileSync('promtool', ['check', 'config', join(deploy, 'prometheus', 'prometheus.yml')], { encoding: 'utf8' });
    assert.match(cfg, /SUCCESS/);
    const rules = execFileSync('promtool', ['check', 'rules', alertsFile], { encoding: 'utf8' });
    assert.match(rules, /SUCCESS: 4 rules found/);
  });

  it('promtool test rules: the alert unit tests of deploy/ pass (low residency under the mapping fires)', () => {
    const r = spawnSync('promtool', ['test', 'rules', join(deploy, 'prometheus', 'alerts.test.yml')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /SUCCESS/);
  });

  it('scrapes both the server and the registry (one label set per database)', async () => {
    const up = await prom.query('up');
    const byTarget = new Map(up.map((s) => [s.metric.instance, s.value[1]]));
    assert.equal(byTarget.get(`127.0.0.1:${srv.port}`), '1');
    assert.equal(byTarget.get(`127.0.0.1:${closedSrv.port}`), '0', 'the closed database answers 503');
    const gets = await prom.query('lightningdb_gets_total > 0 unless lightningdb_healthy == 0');
    const jobs = gets.map((s) => `${s.metric.job}/${s.metric.db ?? ''}`).sort();
    assert.deepEqual(jobs, ['lightningdb-app/app', 'lightningdb/']);
    const types = await fetch(`${prom.url}/api/v1/metadata?metric=lightningdb_get_latency_seconds`).then((r) => r.json());
    assert.equal(types.data.lightningdb_get_latency_seconds[0].type, 'histogram');
  });

  it('every PromQL query of the Grafana dashboard returns data', async () => {
    const queries = dashboardQueries();
    assert.ok(queries.length >= 20, `the dashboard has ${queries.length} queries`);
    for (const q of queries) {
      const r = await until(`data for "${q.panel}": ${q.expr}`, 20_000, async () => {
        const res = await prom.query(q.expr);
        return res.some((s) => Number.isFinite(Number(s.value[1]))) ? res : null;
      });
      assert.ok(r.length > 0, q.expr);
    }
  });

  it('the hit-rate panels show each database\'s read path: the mapping by default, the page cache with mmapSize 0', async () => {
    const hit = dashboardQueries().filter((q) => /hit rate/i.test(q.panel));
    assert.equal(hit.length, 2);
    for (const q of hit) {
      const res = await until(`both sources in "${q.panel}"`, 30_000, async () => {
        const r = await prom.query(q.expr);
        return r.length >= 2 ? r : null;
      });
      const by = new Map(res.map((s) => [`${s.metric.job}/${s.metric.db ?? ''}`, s]));
      const mapped = by.get('lightningdb/')!;
      const cached = by.get('lightningdb-app/app')!;
      assert.equal(mapped.metric.source, 'mapping', JSON.stringify(res));
      assert.equal(mapped.metric.instance, `127.0.0.1:${srv.port}`);
      assert.ok(Number(mapped.value[1]) > 0 && Number(mapped.value[1]) <= 1, `mapped residency ${mapped.value[1]}`);
      assert.equal(cached.metric.source, 'page cache');
      assert.ok(Number(cached.value[1]) < 0.9, `64 KiB page cache hit rate ${cached.value[1]}`);
    }
  });

  it('every alert rule expression evaluates; the ones this setup triggers return data', async () => {
    const rules = alertRules();
    assert.deepEqual(rules.map((r) => r.alert).sort(),
      ['LightningDBCacheHitRateLow', 'LightningDBCheckpointFailing', 'LightningDBDiskFull', 'LightningDBUnhealthy']);
    const triggered = new Set(['LightningDBCacheHitRateLow', 'LightningDBUnhealthy']);
    if (mounted) triggered.add('LightningDBDiskFull').add('LightningDBCheckpointFailing');
    for (const r of rules) {
      if (triggered.has(r.alert)) {
        const res = await until(`${r.alert} to return data`, 30_000, async () => {
          const x = await prom.query(r.expr);
          return x.length > 0 ? x : null;
        });
        assert.ok(res.length > 0);
      } else {
        // Without root no full disk can be made: the expression must
        // evaluate and the series it compares must exist (the next test
        // is reported as skipped).
        await prom.query(r.expr);
        const series = await prom.query('lightningdb_background_error');
        assert.ok(series.length >= 2, 'lightningdb_background_error is scraped from both sources');
      }
    }
    // Prometheus itself loaded the same rules and sees the alerts.
    const alerts = await fetch(`${prom.url}/api/v1/alerts`).then((x) => x.json());
    const names = new Set(alerts.data.alerts.map((a: { labels: { alertname: string } }) => a.labels.alertname));
    for (const a of triggered) assert.ok(names.has(a), `${a} pending or firing in Prometheus: ${[...names].join(',')}`);
  });

  it('the disk-full and checkpoint-failing alerts name the database on the full disk', async function () {
    if (!mounted) this.skip(); // mounting a tmpfs needs root
    for (const name of ['LightningDBDiskFull', 'LightningDBCheckpointFailing']) {
      const rule = alertRules().find((r) => r.alert === name)!;
      const res = await prom.query(rule.expr);
      assert.deepEqual(res.map((s) => s.metric.instance), [`127.0.0.1:${fullSrv!.port}`], name);
    }
  });

  it('the cache-hit-rate alert names the small-cache database only; it judges the mapped one by residency', async () => {
    const rule = alertRules().find((r) => r.alert === 'LightningDBCacheHitRateLow')!;
    const res = await prom.query(rule.expr);
    assert.deepEqual(res.map((s) => [s.metric.job, s.metric.db, s.metric.source]), [['lightningdb-app', 'app', 'page cache']]);
    // Without its threshold the same expression gives every database with
    // enough reads, the served one (default options) from the mapping.
    const all = rule.expr.replace(/\s*<\s*0\.9\s*$/, '');
    assert.notEqual(all, rule.expr, 'the alert ends with its threshold');
    const rates = await prom.query(all);
    const sources = new Map(rates.map((s) => [s.metric.instance, s.metric.source]));
    assert.equal(sources.get(`127.0.0.1:${srv.port}`), 'mapping', JSON.stringify(rates));
  });
});
