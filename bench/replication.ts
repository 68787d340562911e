/* replication.ts — change feed read throughput and end-to-end replication
 * lag over NATS JetStream at a steady commit rate. Results: bench/RESULTS.md.
 *
 *   node --import tsx bench/replication.ts [--commits 200000] [--rate 10000]
 *        [--seconds 20] [--nodes 1|3]
 *
 * 1. feed: writes --commits single-put commits (16-byte keys, 100-byte
 *    values, syncMode off), then reads them all back with db.changes()
 *    (for await) and with the engine cursor alone; commits/s of each.
 * 2. lag: starts a nats-server (--nodes 3: a 3-node cluster, stream
 *    replicas 3) on 127.0.0.1, a primary with a publisher in this process
 *    committing at --rate commits/s (bursts every 10 ms, syncMode normal)
 *    for --seconds, and a follower in a child process; for every commit
 *    the follower records apply time - commit time (same machine, same
 *    clock) and reports p50/p99/max. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from '../js/index.js';
import { follow, publish } from '../js/replication/index.js';
import { startCluster } from '../tests/replication/nats.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

if (process.argv[2] === '--follower') {
  // child: follow until --expect commits are applied, print the delays' summary
  const [, , , path, servers, stream, expect] = process.argv;
  const db = open(path!);
  const f = await follow(db, { servers: servers!.split(','), stream: stream!, onError: (e) => console.error(e.message) });
  f.recordDelays(true);
  console.log('ready');
  const target = Number(expect);
  const t = setInterval(async () => {
    if (f.stats().seq < target) return;
    clearInterval(t);
    const d = f.recordDelays(false).sort((a, b) => a - b);
    const q = (p: number) => d[Math.min(d.length - 1, Math.floor((p / 100) * d.length))]!;
    console.log(JSON.stringify({ n: d.length, p50: q(50), p99: q(99), max: d[d.length - 1] }));
    await f.close();
    db.close();
    process.exit(0);
  }, 50);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ldb-bench-repl-'));
  const commits = arg('commits', 200_000);
  const rate = arg('rate', 10_000);
  const seconds = arg('seconds', 20);
  const nodes = arg('nodes', 1);
  try {
    // ---- 1. feed read throughput
    const db = open(join(dir, 'feed'), { syncMode: 'off', logRetentionBytes: 1 << 30 });
    const v = new Uint8Array(100).map((_, i) => (i * 7919) & 255);
    for (let i = 0; i < commits; i++) db.put(`key${String(i).padStart(13, '0')}`, v);
    let t0 = performance.now();
    let n = 0;
    for await (const c of db.changes({ since: 0 })) {
      n += c.ops.length > 0 ? 1 : 0;
      if (c.seq === commits) break;
    }
    const feedRate = n / ((performance.now() - t0) / 1000);
    const m = db.metrics();
    db.close();
    console.log(`feed: ${n} commits read with db.changes() at ${Math.round(feedRate)} commits/s (retained ${m.logRetainedBytes} bytes in ${m.logRetainedSegments} segments)`);

    // ---- 2. replication lag at a steady rate
    const cluster = await startCluster(nodes);
    try {
      await cluster.ready(0);
      const servers = cluster.urls;
      const primary = open(join(dir, 'primary'));
      const pub = await publish(primary, { servers, stream: 'bench', replicas: nodes, maxPending: arg('pending', 64), onError: (e) => console.error(e.message) });
      const total = rate * seconds;
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--follower',
        join(dir, 'replica'), servers.join(','), 'bench', String(total)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const ready = new Promise<void>((r) => child.stdout!.on('data', (d) => { out += d; if (out.includes('ready')) r(); }));
      const done = new Promise<void>((r) => child.on('exit', () => r()));
      await ready;
      const per = rate / 100; // every 10 ms
      let written = 0;
      const start = performance.now();
      let maxBehind = 0;
      await new Promise<void>((resolve) => {
        const tick = () => {
          const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
          while (written < due) {
            primary.put(`k${written % 100000}`, v);
            written++;
          }
          maxBehind = Math.max(maxBehind, due - written);
          if (written >= total) return resolve();
          setTimeout(tick, 10);
        };
        tick();
      });
      const elapsed = (performance.now() - start) / 1000;
      await done;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      const r = line ? JSON.parse(line) : null;
      console.log(`lag: ${total} commits at ${Math.round(total / elapsed)} commits/s (target ${rate}, ${per} per 10 ms), ` +
        `${nodes} nats node(s), stream replicas ${nodes}: end-to-end commit -> applied on the replica ` +
        (r ? `p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms over ${r.n} commits` : 'no result'));
      await pub.close();
      primary.close();
    } finally {
      await cluster.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
