#!/usr/bin/env node
// bench/node/ranges-codecs.mjs — the numbers of bench/RESULTS.md "Range
// operations and codecs": count() and clear() over 1M keys (done in the
// engine: ldb_count / ldb_delete_range), compared with counting and
// deleting by scanning in JavaScript; and each value codec's ratio and speed
// on a compressible data set (JSON log records).
//
// Usage: node bench/node/ranges-codecs.mjs [--keys N] [--records N]
// (after `npm run build`). Prints Markdown tables.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../../dist/esm/index.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const KEYS = arg('--keys', 1_000_000);
const RECORDS = arg('--records', 20_000);
const root = mkdtempSync(join(tmpdir(), 'ldb-bench-rc-'));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const ms = (t) => `${t.toFixed(0)} ms`;

function key(i) {
  return `key${String(i).padStart(12, '0')}`; // 15 bytes
}

function fill(db, n) {
  const value = new Uint8Array(100);
  for (let i = 0; i < n; i += 10_000) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 10_000); j++) {
      value[0] = j & 0xff;
      value[1] = (j >> 8) & 0xff;
      batch.push([key(j), value]);
    }
    db.putBatch(batch);
  }
  db.checkpoint();
}

function ranges() {
  const rows = [];
  const dir = join(root, 'ranges');
  const db = open(dir, { syncMode: 'off', keyEncoding: 'utf8' });
  fill(db, KEYS);
  const half = { gte: key(KEYS / 4), lt: key((3 * KEYS) / 4) };
  let t = now();
  const all = db.count();
  rows.push(['count() all', all, now() - t]);
  t = now();
  const mid = db.count(half);
  rows.push(['count({ gte, lt }) half', mid, now() - t]);
  t = now();
  let n = 0;
  for (const _ of db.keys()) n++;
  rows.push(['for (const k of db.keys()) n++ (JS scan, for comparison)', n, now() - t]);
  t = now();
  const cleared = db.clear(half);
  rows.push(['clear({ gte, lt }) half, one atomic commit', cleared, now() - t]);
  t = now();
  db.checkpoint();
  rows.push(['  then checkpoint() (merging the deletes into the B+tree)', '', now() - t]);
  t = now();
  const rest = db.clear();
  rows.push(['clear() the rest', rest, now() - t]);
  t = now();
  db.checkpoint();
  rows.push(['  then checkpoint()', '', now() - t]);
  if (db.count() !== 0) throw new Error('clear() left keys');
  db.close();
  // the JS way, for comparison: scan the keys and deleteBatch them
  const db2 = open(join(root, 'ranges-js'), { syncMode: 'off', keyEncoding: 'utf8' });
  fill(db2, KEYS);
  t = now();
  const keys = [...db2.keys()];
  db2.deleteBatch(keys);
  rows.push(['[...db.keys()] + deleteBatch(keys) all (JS, for comparison)', keys.length, now() - t]);
  db2.close();
  console.log(`\n${KEYS.toLocaleString('en-US')} keys (15-byte keys, 100-byte values, checkpointed), syncMode 'off':\n`);
  console.log('| operation | keys | time |');
  console.log('|---|---:|---:|');
  for (const [op, k, time] of rows) console.log(`| ${op} | ${k === '' ? '' : k.toLocaleString('en-US')} | ${ms(time)} |`);
}

/** A compressible data set: values of 8 JSON log entries each (~2.3 KB),
 * repeated field names and a small vocabulary, like batched application
 * logs or events. (Codecs compress each value on its own: values of a few
 * hundred bytes rarely save the 1/8 a codec must save to be kept.) */
function records(n) {
  const levels = ['info', 'warn', 'error', 'debug'];
  const paths = ['/api/users', '/api/orders', '/api/products', '/health', '/api/cart/items'];
  const agents = ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    'curl/8.5.0'];
  let x = 12345;
  const rnd = (m) => { x = (x * 1103515245 + 12345) >>> 0; return x % m; };
  const out = [];
  const entry = (i) => ({
      ts: 1764500000000 + i * 37, level: levels[rnd(4)], path: paths[rnd(5)], status: [200, 200, 200, 404, 500][rnd(5)],
      latencyMs: rnd(900), user: `user-${rnd(5000)}`, requestId: `${rnd(1e9).toString(16)}-${rnd(1e9).toString(16)}`,
      agent: agents[rnd(3)], message: `request ${levels[rnd(4)]} handled by worker ${rnd(16)} in region eu-west-${rnd(3)}`,
  });
  for (let i = 0; i < n; i++) {
    out.push(new TextEncoder().encode(JSON.stringify(Array.from({ length: 8 }, (_, j) => entry(i * 8 + j)))));
  }
  return out;
}

function codecs() {
  const data = records(RECORDS);
  const raw = data.reduce((s, v) => s + v.length, 0);
  const rows = [];
  for (const compression of ['none', 'lz4', 'snappy', 'zstd', 'auto']) {
    const dir = join(root, `codec-${compression}`);
    let db = open(dir, { syncMode: 'off', keyEncoding: 'utf8', compression, cacheSize: 256 << 20 });
    const base = db.metrics().dataFileSize;
    for (let i = 0; i < data.length; i += 5000) db.putBatch(data.slice(i, i + 5000).map((v, j) => [key(i + j), v]));
    let t = now();
    db.checkpoint(); // the values are compressed here, when merged into the B+tree
    const writeMs = now() - t;
    const m = db.metrics();
    const size = m.dataFileSize - base;
    db.close();
    db = open(dir, { keyEncoding: 'utf8', compression, cacheSize: 256 << 20 });
    t = now();
    let got = 0;
    for (const [, v] of db.scan()) got += v.length; // every value decompressed
    const readMs = now() - t;
    if (got !== raw) throw new Error(`${compression}: read ${got} of ${raw} bytes`);
    db.close();
    const c = m.compression;
    const picked = compression === 'auto' ? `lz4 ${c.lz4}, snappy ${c.snappy}, zstd ${c.zstd}, raw ${c.raw}` : '';
    rows.push({ compression, size, ratio: raw / size, writeMBs: raw / 1e6 / (writeMs / 1e3), readMBs: raw / 1e6 / (readMs / 1e3), picked });
  }
  console.log(`\n${RECORDS.toLocaleString('en-US')} values of 8 JSON log entries, ${(raw / 1e6).toFixed(1)} MB raw ` +
    `(${(raw / RECORDS).toFixed(0)} bytes each), 4 KiB pages:\n`);
  console.log('| compression | data file | ratio (raw / file) | checkpoint (compress + write) | full scan (read + decompress) | auto picked |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of rows) {
    console.log(`| \`${r.compression}\` | ${(r.size / 1e6).toFixed(1)} MB | ${r.ratio.toFixed(2)}x | ` +
      `${r.writeMBs.toFixed(0)} MB/s | ${r.readMBs.toFixed(0)} MB/s | ${r.picked} |`);
  }
}

try {
  ranges();
  codecs();
} finally {
  rmSync(root, { recursive: true, force: true });
}
