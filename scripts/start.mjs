#!/usr/bin/env node
// scripts/start.mjs — `npm start`: builds LightningDB when needed, then runs
// a short tour on a database at build/demo-db (or the path given as the
// first argument): writes, reads, scans, a transaction, metrics; then a
// quick benchmark table. Takes well under a minute.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plat = `${process.platform}-${process.arch}`;

/** Newest modification time under the given files/directories (0 if none). */
function newest(paths, filter = () => true) {
  let t = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) t = Math.max(t, newest(readdirSync(p).map((n) => join(p, n)), filter));
    else if (filter(p)) t = Math.max(t, st.mtimeMs);
  }
  return t;
}
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : -1);
const distJs = join(root, 'dist', 'esm', 'index.js');
const addon = join(root, 'build', 'node', 'lightningdb.node');
// scripts/build.mjs leaves a .built stamp next to each output when it succeeds
const fresh = existsSync(distJs) && existsSync(addon) &&
  mtime(join(root, 'dist', '.built')) >= newest([join(root, 'js')], (p) => p.endsWith('.ts')) &&
  mtime(join(root, 'build', 'node', '.built')) >= newest([join(root, 'node'), join(root, 'core')], (p) => /\.[ch]$/.test(p));
const prebuilt = existsSync(join(root, 'prebuilds', plat, 'lightningdb.node')) && existsSync(distJs);
const fromSource = existsSync(join(root, 'CMakeLists.txt')) && existsSync(join(root, 'node_modules', 'node-api-headers'));

if (!fresh && !(prebuilt && !fromSource)) {
  console.log('Building LightningDB (system packages, addon, TypeScript)...');
  for (const [cmd, args] of [['bash', [join(root, 'scripts', 'setup-system.sh')]], [process.execPath, [join(root, 'scripts', 'build.mjs')]]]) {
    const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`\n${cmd} ${args.join(' ')} failed; see above.`);
      process.exit(1);
    }
  }
}

const { open } = await import(pathToFileURL(join(root, 'dist', 'esm', 'index.js')).href);
const dbPath = resolve(process.argv[2] ?? join(root, 'build', 'demo-db'));
const h = (s) => console.log(`\n\x1b[1m${s}\x1b[0m`);

// ---- the tour ------------------------------------------------------------
h(`LightningDB demo — database at ${dbPath}`);
const db = open(dbPath, { keyEncoding: 'utf8', valueEncoding: 'json' });
const runs = (db.get('demo:runs') ?? 0) + 1;
db.put('demo:runs', runs);
console.log(`opened (this database has been opened by the demo ${runs} time${runs > 1 ? 's' : ''}: data persists)`);

h('Writes: put, batch');
db.put('user:1', { name: 'Ada', city: 'London' });
db.put('user:2', { name: 'Grace', city: 'Arlington' });
db.batch([
  { type: 'put', key: 'user:3', value: { name: 'Edsger', city: 'Nuenen' } },
  { type: 'put', key: 'user:4', value: { name: 'Barbara', city: 'Boston' } },
  { type: 'put', key: 'account:alice', value: 100 },
  { type: 'put', key: 'account:bob', value: 50 },
  { type: 'del', key: 'user:0' },
]);
console.log('put user:1, user:2; one atomic batch of 5 operations');

h('Reads: get, has, getBatch');
console.log("get('user:1')        ->", db.get('user:1'));
console.log("has('user:9')        ->", db.has('user:9'));
console.log("getBatch(user:2, :9) ->", db.getBatch(['user:2', 'user:9']));

h('Scans (lazy, one snapshot each)');
console.log("scanPrefix('user:')              ->", [...db.scanPrefix('user:')].map(([k, v]) => `${k}=${v.name}`).join(', '));
console.log("scan({ gte: 'user:2', lt: 'user:4' }) ->", [...db.keys({ gte: 'user:2', lt: 'user:4' })].join(', '));
console.log("scanReverse(undefined, undefined, { limit: 2 }) ->", [...db.scanReverse(undefined, undefined, { limit: 2 })].map(([k]) => k).join(', '));

h('Transaction: transfer 30 from alice to bob (retried on conflict)');
db.transaction((tx) => {
  const a = tx.get('account:alice');
  const b = tx.get('account:bob');
  if (a < 30) throw new Error('insufficient funds');
  tx.put('account:alice', a - 30);
  tx.put('account:bob', b + 30);
}, { retries: 3 });
console.log(`alice=${db.get('account:alice')} bob=${db.get('account:bob')} (total stays ${db.get('account:alice') + db.get('account:bob')})`);
db.put('account:alice', 100);
db.put('account:bob', 50);

h('Monitoring');
db.flush();
const m = db.metrics();
console.log({ gets: m.gets, puts: m.puts, commits: m.commits, conflicts: m.conflicts, cacheHitRate: m.cacheHitRate,
  activeTransactions: m.activeTransactions, dataFileSize: m.dataFileSize, logFileSize: m.logFileSize,
  latencyMicros: m.latency });
console.log('healthCheck() ->', db.healthCheck());
console.log('metricsText() (first lines):');
console.log(db.metricsText().split('\n').slice(0, 6).map((l) => `  ${l}`).join('\n'));
db.close();

// ---- quick benchmark -----------------------------------------------------
h('Quick benchmark (single process, small data; see bench/RESULTS.md for real numbers)');
const benchPath = join(root, 'build', 'demo-bench');
rmSync(benchPath, { recursive: true, force: true });
const bdb = open(benchPath, { syncMode: 'normal' });
const N = 50_000;
const key = (i) => Buffer.from(`key${String(i).padStart(8, '0')}`);
const val = Buffer.alloc(100, 0x61);
const rows = [];
function bench(name, ops, fn) {
  const t0 = process.hrtime.bigint();
  fn();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  rows.push({ workload: name, operations: ops, 'ops/sec': Math.round(ops / secs).toLocaleString('en-US'), 'µs/op': ((secs / ops) * 1e6).toFixed(2) });
}
bench('putBatch (1000 per batch)', N, () => {
  for (let s = 0; s < N; s += 1000) {
    const entries = [];
    for (let i = s; i < s + 1000; i++) entries.push([key(i), val]);
    bdb.putBatch(entries);
  }
});
bench('put (one commit each)', 20_000, () => {
  for (let i = 0; i < 20_000; i++) bdb.put(key(N + i), val);
});
let x = 12345;
const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) % N;
bench('get (random)', 200_000, () => {
  for (let i = 0; i < 200_000; i++) bdb.get(key(rnd()));
});
bench('scan (entries)', N + 20_000, () => {
  let n = 0;
  for (const _ of bdb.scan()) n++;
  if (n !== N + 20_000) throw new Error(`scan saw ${n}`);
});
bench('transaction (read-modify-write)', 10_000, () => {
  for (let i = 0; i < 10_000; i++) {
    bdb.transaction((tx) => {
      const k = key(rnd());
      tx.put(k, tx.get(k) ?? val);
    });
  }
});
console.table(rows);
bdb.close();
rmSync(benchPath, { recursive: true, force: true });
console.log(`\nDone. The demo database stays at ${dbPath}; run \`npm test\` for the full test suite.`);
