/* server.test.ts — db.serve() and registerDatabase() without a browser or
 * Prometheus: routes, status codes, bad requests that must never end the
 * process, the default bind address, and the prom-client registry view. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { LightningDbError, open, parseExposition, registerDatabase, recommend, type Database, type OpsServer, type Sample } from '../../js/index.js';
import { SampleHistory } from '../../js/ops/sampler.js';
import { fetchText, tempDir } from './helpers.js';

/** Sends raw bytes and returns the raw response (or '' when the server
 * closed without one). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => { s.destroy(); resolve(out); });
    s.end(bytes);
  });
}

describe('db.serve()', function () {
  this.timeout(60_000);
  const tmp = tempDir('serve');
  let db: Database;
  let srv: OpsServer;
  let base: string;

  before(async () => {
    db = open(join(tmp.dir, 'db'));
    for (let i = 0; i < 100; i++) db.put(`k${i}`, `v${i}`);
    srv = await db.serve({ port: 0, intervalMs: 100 });
    base = srv.url.replace(/\/$/, '');
  });
  after(async () => {
    await srv?.close();
    db?.close();
    tmp.remove();
  });

  it('binds 127.0.0.1 unless told otherwise', async () => {
    assert.equal(srv.host, '127.0.0.1');
    const any = await db.serve({ host: '0.0.0.0', port: 0 });
    try {
      assert.equal(any.host, '0.0.0.0');
    } finally {
      await any.close();
    }
  });

  it('/metrics: the engine exposition plus lightningdb_healthy', async () => {
    const r = await fetchText(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const f = parseExposition(r.text);
    assert.equal(f.get('lightningdb_puts_total')?.type, 'counter');
    assert.equal(f.get('lightningdb_puts_total')?.samples[0]?.value, 100);
    assert.equal(f.get('lightningdb_get_latency_seconds')?.type, 'histogram');
    assert.equal(f.get('lightningdb_healthy')?.samples[0]?.value, 1);
    for (const fam of f.values()) assert.ok(fam.help.length > 0, `${fam.name} has # HELP`);
  });

  it('/health: 200 with the JSON of healthCheck()', async () => {
    const r = await fetchText(`${base}/health`);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).healthy, true);
    assert.equal((await fetchText(`${base}/health`, { method: 'HEAD' })).status, 200);
  });

  it('unknown paths 404, wrong methods 405 with Allow', async () => {
    for (const p of ['/nope', '/metrics/', '/assets/../package.json', '/assets/x.js', '/api']) {
      assert.equal((await fetchText(base + p)).status, 404, p);
    }
    for (const [m, p] of [['POST', '/metrics'], ['DELETE', '/health'], ['PUT', '/'], ['PATCH', '/api/loadtest']] as const) {
      const r = await fetchText(base + p, { method: m });
      assert.equal(r.status, 405, `${m} ${p}`);
      assert.ok(r.headers.get('allow'), `${m} ${p} has Allow`);
    }
  });

  it('bad request bodies: 400, 413, 415; cross-origin 403; a second run 409', async () => {
    const post = (body: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
      fetchText(`${base}/api/loadtest`, { method: 'POST', body, headers });
    assert.equal((await post('{')).status, 400);
    assert.equal((await post('[1]')).status, 400);
    assert.equal((await post('{"durationMs": -1}')).status, 400);
    assert.equal((await post('{"keys": 1e9}')).status, 400);
    assert.equal((await post('{"bogus": 1}')).status, 400);
    assert.equal((await post('x'.repeat(10000))).status, 413);
    assert.equal((await post('{}', { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal((await post('{}', { 'Content-Type': 'application/json', Origin: 'http://evil.example' })).status, 403);
    const first = await post('{"durationMs": 1500, "keys": 100}');
    assert.equal(first.status, 202);
    assert.equal((await post('{"durationMs": 200}')).status, 409);
    const stop = await fetchText(`${base}/api/loadtest`, { method: 'DELETE' });
    assert.equal(stop.status, 200);
  });

  it('malformed HTTP never ends the process', async () => {
    const garbage = await raw(srv.port, 'GARBAGE\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400/);
    await raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n');
    await raw(srv.port, `GET /${'a'.repeat(100000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal((await fetchText(`${base}/health`)).status, 200, 'still serving');
  });

  it('the page data: samples, events, recommendations', async () => {
    await new Promise((r) => setTimeout(r, 350));
    const s = JSON.parse((await fetchText(`${base}/api/samples`)).text);
    assert.ok(s.samples.length >= 2);
    assert.equal(typeof s.samples[0].opsPerSec, 'number');
    assert.equal((await fetchText(`${base}/api/samples?after=abc`)).status, 400);
    assert.ok(Array.isArray(JSON.parse((await fetchText(`${base}/api/events`)).text).events));
    assert.ok(Array.isArray(JSON.parse((await fetchText(`${base}/api/recommendations`)).text).recommendations));
  });

  it('a port in use rejects with BUSY naming host:port; bad options throw', async () => {
    let busy: unknown;
    await db.serve({ port: srv.port }).then(() => assert.fail('served twice on one port'), (e) => { busy = e; });
    assert.ok(busy instanceof LightningDbError, String(busy));
    assert.equal(busy.code, 'BUSY');
    assert.equal(busy.message, `cannot listen on 127.0.0.1:${srv.port}: the port is in use by another server; ` +
      'stop it, or choose another port (port 0: any free one) (EADDRINUSE)');
    assert.equal((busy.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
    // A host that is not this machine's: INVALID_ARGUMENT, also naming it.
    await assert.rejects(db.serve({ host: '192.0.2.1', port: 0 }),
      (e: unknown) => e instanceof LightningDbError && e.code === 'INVALID_ARGUMENT' && /^cannot listen on 192\.0\.2\.1:0: .*EADDRNOTAVAIL/.test(e.message));
    await assert.rejects(db.serve({ port: 70000 }), /port must be an integer in 0\.\.65535/);
    await assert.rejects(db.serve({ host: '' }), TypeError);
  });

  it('a closed database: /health 503, /metrics 503, the server stays up', async () => {
    const other = open(join(tmp.dir, 'other'));
    const s = await other.serve({ port: 0 });
    try {
      other.close();
      const h = await fetchText(`${s.url}health`);
      assert.equal(h.status, 503);
      assert.equal(JSON.parse(h.text).closed, true);
      assert.equal((await fetchText(`${s.url}metrics`)).status, 503);
      assert.equal((await fetchText(`${s.url}`)).status, 200);
    } finally {
      await s.close();
    }
    await assert.rejects(other.serve({ port: 0 }), /closed/);
  });
});

describe('registerDatabase() with prom-client', function () {
  const tmp = tempDir('collector');
  after(() => tmp.remove());

  it('adds every family with HELP/TYPE, one label set per database', async () => {
    const a = open(join(tmp.dir, 'a'));
    const b = open(join(tmp.dir, 'b'));
    try {
      a.put('x', 'y');
      a.get('x');
      const reg = new Registry();
      const offA = registerDatabase(reg, a, { labels: { db: 'a' } });
      registerDatabase(reg, b, { labels: { db: 'b' } });
      assert.throws(() => registerDatabase(reg, b, { labels: { db: 'b' } }), /already registered/);
      assert.throws(() => registerDatabase(reg, b, { labels: { 'bad-name': 'x' } }), TypeError);
      assert.throws(() => registerDatabase({} as never, b), /prom-client Registry/);
      const text = await reg.metrics();
      const f = parseExposition(text);
      const puts = f.get('lightningdb_puts_total')!;
      assert.equal(puts.type, 'counter');
      assert.match(puts.help, /\w/);
      assert.deepEqual(puts.samples.map((s) => [s.labels.db, s.value]), [['a', 1], ['b', 0]]);
      const hist = f.get('lightningdb_get_latency_seconds')!;
      assert.equal(hist.type, 'histogram');
      assert.ok(hist.samples.some((s) => s.metricName.endsWith('_bucket') && s.labels.le === '+Inf' && s.labels.db === 'a'));
      assert.ok(hist.samples.some((s) => s.metricName.endsWith('_count') && s.labels.db === 'b'));
      assert.equal(f.get('lightningdb_healthy')?.samples.length, 2);
      // JSON view and removal.
      const json = await reg.getMetricsAsJSON();
      assert.ok(json.some((m) => m.name === 'lightningdb_gets_total'));
      offA();
      assert.deepEqual(parseExposition(await reg.metrics()).get('lightningdb_puts_total')!.samples.map((s) => s.labels.db), ['b']);
      // A closed database's series disappear instead of failing the scrape.
      b.close();
      assert.equal(parseExposition(await reg.metrics()).get('lightningdb_puts_total')?.samples.length ?? 0, 0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('recommend(): a small cache, conflicts and a failing background job', () => {
    const m = {
      cacheCapacity: 65536, dataFileSize: 4 << 20, backgroundError: 'FULL', logFileSize: 1 << 20, memtableBytes: 0,
      pageCount: 10, freePages: 0, activeTransactions: 0,
    } as never;
    const sample = (t: number, conflicts: number, commits: number) => ({
      t, opsPerSec: 0, getsPerSec: 0, writesPerSec: 0, commitsPerSec: 0, cacheHitRate: 0.5, cacheHitSource: 'cache' as const, cacheLookups: 1000,
      latency: { lightningdb_commit_latency_seconds: { p50: 10, p99: 30000 } }, memtableBytes: 0, logFileSize: 0, dataFileSize: 0,
      cacheBytes: 0, cacheCapacity: 0, checkpoints: 0, conflicts, commits, backgroundError: 'OK',
    });
    const recs = recommend([sample(0, 0, 0), sample(1000, 50, 100)], m);
    const ids = recs.map((r) => r.id).sort();
    assert.deepEqual(ids, ['background_error', 'cache_size', 'commit_latency', 'conflicts']);
    const cache = recs.find((r) => r.id === 'cache_size')!;
    assert.equal(cache.value, 0.5);
    assert.match(cache.title, /Raise cacheSize to 8 MiB \(now 64 KiB\)/);
    assert.match(recs.find((r) => r.id === 'background_error')!.title, /Free disk space/);
  });

  it('recommend(): reads through the mapping whose pages are not resident', () => {
    const m = {
      cacheCapacity: 65536, dataFileSize: 3 * 2 ** 30, backgroundError: 'OK', logFileSize: 0, memtableBytes: 0,
      pageCount: 10, freePages: 0, activeTransactions: 0, mmapBytes: 2 ** 40,
    };
    const sample = (t: number, rate: number, n: number, source: 'cache' | 'mapping' = 'mapping'): Sample => ({
      t, opsPerSec: 0, getsPerSec: 0, writesPerSec: 0, commitsPerSec: 0, cacheHitRate: rate, cacheHitSource: source,
      cacheLookups: n, latency: {}, memtableBytes: 0, logFileSize: 0, dataFileSize: 0, cacheBytes: 0, cacheCapacity: 0,
      checkpoints: 0, conflicts: 0, commits: 0, backgroundError: 'OK',
    });
    // 40% of 200 samples resident: the remedy is memory or mmapSize 0, never cacheSize alone.
    const recs = recommend([sample(0, 0.3, 100), sample(1000, 0.5, 100)], m);
    assert.deepEqual(recs.map((r) => r.id), ['page_residency']);
    const r = recs[0]!;
    assert.equal(r.value, 0.4);
    assert.equal(r.severity, 'critical');
    assert.match(r.title, /data file \(3 GiB\).*add RAM, or open with mmapSize: 0 and cacheSize 4 GiB/);
    assert.match(r.detail, /only 40\.0% of 200 sampled ones \(1 in 1024\) found their page resident/);
    // Too few samples to judge; a high residency; and cache samples judged apart.
    assert.deepEqual(recommend([sample(0, 0.1, 40), sample(1000, 0.1, 40)], m), []);
    assert.deepEqual(recommend([sample(0, 0.99, 500)], m), []);
    const mixed = recommend([sample(0, 0.2, 2000, 'cache'), sample(1000, 0.95, 500)], m).map((x) => x.id);
    assert.deepEqual(mixed, ['cache_size']);
  });

  it('the hit rate follows the read path: the mapping by default, the page cache with mmapSize 0', () => {
    const tmp = tempDir('hitrate');
    const dbs = [open(join(tmp.dir, 'mapped')), open(join(tmp.dir, 'cached'), { mmapSize: 0, cacheSize: 64 * 1024 })];
    try {
      for (const d of dbs) {
        const v = new Uint8Array(200).fill(3);
        for (let i = 0; i < 20000; i += 1000) d.putBatch(Array.from({ length: 1000 }, (_, j) => [`k${i + j}`, v] as [string, Uint8Array]));
        d.checkpoint();
      }
      const history = dbs.map(() => new SampleHistory());
      history.forEach((h, i) => h.ingest(dbs[i]!.metricsText(), [], 1000));
      for (let r = 0; r < 100000; r++) for (const d of dbs) d.get(`k${(r * 7919) % 20000}`);
      history.forEach((h, i) => h.ingest(dbs[i]!.metricsText(), [], 2000));
      const [mapped, cached] = dbs.map((d) => d.metrics());
      assert.equal(mapped!.cacheHitRateSource, 'mapping');
      assert.ok(mapped!.mmapBytes > 0);
      // 100,000 gets, each through 2+ mapped pages, 1 in 1024 sampled.
      assert.ok(mapped!.mmapSampledResident + mapped!.mmapSampledFaults >= 150, JSON.stringify(mapped));
      assert.equal(mapped!.cacheHitRate, Math.round(mapped!.mmapSampledResident / (mapped!.mmapSampledResident + mapped!.mmapSampledFaults) * 1e4) / 1e4);
      assert.equal(mapped!.cacheHits + mapped!.cacheMisses, 0, 'the mapped reads bypass the page cache');
      assert.equal(cached!.cacheHitRateSource, 'cache');
      assert.equal(cached!.mmapBytes, 0);
      assert.equal(cached!.mmapSampledResident + cached!.mmapSampledFaults, 0);
      assert.ok(cached!.cacheHitRate < 0.9, `a 64 KiB cache over 4 MB: ${cached!.cacheHitRate}`);
      // The diagnostics samples say the same, per interval.
      const [ms, cs] = history.map((h) => h.samples[h.samples.length - 1]!);
      assert.equal(ms!.cacheHitSource, 'mapping');
      assert.ok(ms!.cacheLookups >= 150 && ms!.cacheHitRate !== null && ms!.cacheHitRate > 0);
      assert.equal(cs!.cacheHitSource, 'cache');
      assert.ok(cs!.cacheLookups >= 100000 && cs!.cacheHitRate! < 0.9);
      assert.equal(dbs[0]!.healthCheck().cacheHitRateSource, 'mapping');
    } finally {
      for (const d of dbs) d.close();
      tmp.remove();
    }
  });
});
