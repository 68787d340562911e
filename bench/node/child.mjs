/**
 * child.mjs — the body of every per-store child process (bench/node/stores/*.mjs
 * call runChild with their adapter factory). Each store runs in its own
 * process so peak RSS, the allocator and the page cache state of one store do
 * not leak into another's numbers. Talks to run.mjs over the fork IPC
 * channel: {type:'progress'} messages while running, one {type:'result'} or
 * {type:'error'} at the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runWorkloads } from './workloads.mjs';
import { readers, canShareBetweenThreads } from './threads.mjs';

/** Bytes allocated on disk under p (st_blocks, so sparse files count true). */
export function diskUsage(p) {
  let total = 0;
  let st;
  try { st = fs.lstatSync(p); } catch { return 0; }
  if (st.isDirectory()) {
    for (const e of fs.readdirSync(p)) total += diskUsage(path.join(p, e));
  } else {
    total += st.blocks * 512;
  }
  return total;
}

/** A "Name: N kB" field of /proc/self/status in bytes, or null (not Linux). */
function procStatus(field) {
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : null;
  } catch { return null; }
}

/** Sets the peak RSS (VmHWM) back to the current RSS; false if it cannot. */
function resetPeakRss() {
  try { fs.writeFileSync('/proc/self/clear_refs', '5'); return true; } catch { return false; }
}

const send = (m) => (process.send ? process.send(m) : console.log(JSON.stringify(m)));

export async function runChild(name, makeStore) {
  const cfg = JSON.parse(process.env.BENCH_CONFIG || '{}');
  const n = cfg.n || 2000;
  const dir = cfg.dir || fs.mkdtempSync('/tmp/ldb-bench-');
  fs.mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  let lastSent = 0;
  let rssBase = null;
  try {
    const store = await makeStore(dir, cfg);
    const out = await runWorkloads(store, n, {
      now: () => performance.now(),
      makeBytes: (len) => Buffer.alloc(len),
      cpuMs: () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; },
      only: cfg.only ? new Set(cfg.only) : null,
      // The RSS baseline: the harness with its key and value material, no
      // store open yet. A GC first, when exposed, so garbage from making the
      // data does not sit in the baseline.
      baseline: () => {
        if (globalThis.gc) globalThis.gc();
        const rss = procStatus('VmRSS');
        if (rss != null && resetPeakRss()) rssBase = rss;
      },
      readers: store.threadPath && canShareBetweenThreads(name)
        ? (kind, threads, perThread) => readers(name, store.threadPath(kind), n, threads, perThread)
        : null,
      sizeOf: async (kind) => {
        if (store.settle) await store.settle(kind);
        return diskUsage(store.pathOf(kind));
      },
      progress: (workload, done, total) => {
        const t = Date.now();
        if (done === 0 || done >= total || t - lastSent > 100) {
          lastSent = t;
          send({ type: 'progress', workload, done, total });
        }
      },
    });
    send({
      type: 'result',
      store: name,
      version: store.version || null,
      config: store.describe || '',
      n,
      results: out.results,
      sizeAfterLoad: out.sizeAfterLoad ?? null,
      sizeAfterOverwrite: out.sizeAfterOverwrite ?? null,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      // VmHWM was reset at the baseline, so this peak is the store's (and
      // the workloads' garbage), over everything after it.
      rssBaseBytes: rssBase,
      peakRssAboveBaseBytes: rssBase != null ? Math.max(0, procStatus('VmHWM') - rssBase) : null,
      wallMs: Date.now() - t0,
    });
  } catch (e) {
    send({ type: 'error', store: name, error: String(e && e.stack || e) });
    process.exitCode = 1;
  } finally {
    if (!cfg.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  // Give the IPC channel a moment to flush, then leave.
  if (process.send) process.disconnect();
}

/** Installed version of a package (reads its package.json directly: some
 * packages do not export it). */
export function pkgVersion(name) {
  const p = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  try { return JSON.parse(fs.readFileSync(p, 'utf8')).version; } catch { return null; }
}
