#!/usr/bin/env node
/**
 * big64k.mjs — large values, LightningDB against lmdb-js per CPU second, in
 * alternating child processes of one run (the machine is shared: a ratio
 * between stores measured side by side is what this reports, not a rate of
 * one run).
 *
 * Each child opens a fresh database in a temp dir and times:
 *   fill64k  `--puts` puts of 64 KiB values, batches of 10 (as
 *            workloads.mjs's fill64k: background checkpoints count, the
 *            rest of the merge does not);
 *   fillckpt64k  the same plus a checkpoint() after it (LightningDB; lmdb-js
 *            has nothing to merge): every value written to its pages;
 *   read64k  then `--gets` random gets of those keys, each value's length
 *            and first and last bytes checked.
 * CPU time is the child's (all threads, so LightningDB's background
 * checkpoint counts), from process.cpuUsage().
 *
 * Usage: node bench/node/big64k.mjs [--rounds R] [--puts N] [--gets G]
 *          [--addon NAME=PATH ...]
 * Defaults: 3 rounds of 1,000 puts and 20,000 gets. Every round runs each
 * store once, in the order lightningdb, lmdb (and every --addon, which runs
 * LightningDB with LIGHTNINGDB_ADDON=PATH under the label NAME: an older
 * build beside the current one; it must load: the JavaScript passes over
 * an addon whose contract differs, and the run then stops). Prints each
 * round's rates and, per
 * workload, every LightningDB store's ratio to lmdb-js of the same round.
 * `npm run build` first: it runs js/ through tsx with the built addon.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VALUE = 64 * 1024;
const self = fileURLToPath(import.meta.url);

function parseArgs(argv) {
  const a = { rounds: 3, puts: 1000, gets: 20000, addons: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--rounds') a.rounds = Number(v());
    else if (k === '--puts') a.puts = Number(v());
    else if (k === '--gets') a.gets = Number(v());
    else if (k === '--addon') {
      const [name, p] = v().split('=');
      if (!name || !p) throw new Error('--addon takes NAME=PATH');
      a.addons.push({ name, path: path.resolve(p) });
    } else if (k === '--help' || k === '-h') {
      console.log(fs.readFileSync(self, 'utf8').split('*/')[0]);
      process.exit(0);
    } else throw new Error(`unknown option ${k}`);
  }
  for (const f of ['rounds', 'puts', 'gets'])
    if (!Number.isInteger(a[f]) || a[f] < 1) throw new Error(`--${f} must be a positive integer`);
  return a;
}

/** Key i: 16 bytes, "bigkey00" and i big-endian. */
function keyOf(i) {
  const k = Buffer.alloc(16);
  k.write('bigkey00');
  k.writeUInt32BE(i, 12);
  return k;
}

/** A pool of random bytes; value i is a 64 KiB slice of it. */
function makePool() {
  const pool = Buffer.alloc((1 << 20) + VALUE);
  let x = 0x9e3779b9;
  for (let i = 0; i < pool.length; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    pool.writeUInt32LE(x, i);
  }
  return pool;
}
const valueOf = (pool, i) => pool.subarray((i * 4099) % (1 << 20), ((i * 4099) % (1 << 20)) + VALUE);

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

async function openStore(kind, dir) {
  if (kind === 'lmdb') {
    const { open } = await import('lmdb');
    const db = open({ path: dir, keyEncoding: 'binary', encoding: 'binary', noSync: true, mapSize: 8 * 1024 ** 3 });
    return {
      putBatch(pairs) { db.transactionSync(() => { for (const [k, v] of pairs) db.putSync(k, v); }); },
      checkpoint() {},
      get: (k) => db.getBinary(k),
      close: () => db.close(),
    };
  }
  const { tsImport } = await import('tsx/esm/api');
  const ldb = await tsImport(new URL('../../js/index.ts', import.meta.url).href, import.meta.url);
  const db = await ldb.open(dir, { syncMode: 'normal', cacheSize: 64 << 20 });
  return {
    // the addon that loaded: an --addon built from other sources than js/
    // is passed over for the next candidate (js/native/addon.ts)
    addon: ldb.loadedAddonPath(),
    putBatch: (pairs) => db.putBatch(pairs),
    checkpoint: () => db.checkpoint(),
    get: (k) => db.get(k),
    close: () => db.close(),
  };
}

/** The child: one store, fill then read; sends {fill, read} in ops per CPU s. */
async function child(kind, puts, gets) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ldb-big64k-${kind}-`));
  try {
    const pool = makePool();
    const keys = Array.from({ length: puts }, (_, i) => keyOf(i));
    const st = await openStore(kind, dir);
    let c0 = cpuMs();
    for (let i = 0; i < puts; i += 10) {
      const pairs = [];
      for (let j = i; j < Math.min(puts, i + 10); j++) pairs.push([keys[j], valueOf(pool, j)]);
      st.putBatch(pairs);
    }
    const fillCpu = cpuMs() - c0;
    st.checkpoint();
    const ckptCpu = cpuMs() - c0;
    let x = 777;
    c0 = cpuMs();
    for (let i = 0; i < gets; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      const id = x % puts;
      const v = st.get(keys[id]);
      if (!v || v.length !== VALUE || v[0] !== valueOf(pool, id)[0] || v[VALUE - 1] !== valueOf(pool, id)[VALUE - 1])
        throw new Error(`${kind}: wrong value for key ${id}`);
    }
    const readCpu = cpuMs() - c0;
    await st.close();
    return { addon: st.addon, fill: puts / (fillCpu / 1000), fillckpt: puts / (ckptCpu / 1000), read: gets / (readCpu / 1000) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(store, a) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (store.addon) env.LIGHTNINGDB_ADDON = store.addon;
    const c = fork(self, ['--child', store.kind, String(a.puts), String(a.gets)], { env });
    let out = null;
    c.on('message', (m) => { out = m; });
    c.on('exit', (code) => {
      if (!out || out.error) reject(new Error(`${store.name}: ${out?.error || `exit ${code}`}`));
      else if (store.addon && out.addon !== store.addon)
        reject(new Error(`${store.name}: ${out.addon} loaded instead of ${store.addon} (built from other sources than js/?)`));
      else resolve(out);
    });
  });
}

async function main() {
  if (process.argv[2] === '--child') {
    const [kind, puts, gets] = process.argv.slice(3);
    try {
      process.send(await child(kind, Number(puts), Number(gets)));
    } catch (e) {
      process.send({ error: String(e?.stack || e) });
    }
    return;
  }
  const a = parseArgs(process.argv.slice(2));
  const stores = [{ name: 'lightningdb', kind: 'lightningdb' }, { name: 'lmdb', kind: 'lmdb' },
    ...a.addons.map((x) => ({ name: x.name, kind: 'lightningdb', addon: x.path }))];
  const fmt = (x) => `${(x / 1000).toFixed(2)}K`;
  const ratios = {};
  console.log(`big64k: ${a.rounds} rounds, ${a.puts} puts of 64 KiB, ${a.gets} gets; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (let r = 1; r <= a.rounds; r++) {
    const res = {};
    for (const s of stores) res[s.name] = await runChild(s, a);
    const row = [];
    for (const s of stores) {
      row.push(`${s.name} fill ${fmt(res[s.name].fill)} (+ckpt ${fmt(res[s.name].fillckpt)}) read ${fmt(res[s.name].read)}`);
      if (s.kind !== 'lightningdb') continue;
      for (const w of ['fill', 'fillckpt', 'read']) (ratios[`${s.name} ${w}64k`] ||= []).push(res[s.name][w] / res.lmdb[w]);
    }
    console.log(`round ${r} (per CPU s; load ${os.loadavg()[0].toFixed(1)}): ${row.join(' | ')}`);
  }
  for (const [k, v] of Object.entries(ratios))
    console.log(`${k} / lmdb-js: ${v.map((x) => `${x.toFixed(2)}x`).join(' ')}`);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
