/* nats.ts — a nats-server cluster with JetStream on 127.0.0.1 for the
 * replication tests and benchmark: started and stopped by the caller, on
 * ports it finds free, each node in its own temporary directory; every
 * wait is bounded. Needs Debian's nats-server (scripts/setup-system.sh). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

/** A free TCP port on 127.0.0.1 (asked of the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function natsServerAvailable(): boolean {
  return spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).status === 0;
}

export interface Cluster {
  /** client URLs, one per node */
  urls: string[];
  /** kill -9 node i (no-op when down) */
  kill(i: number): void;
  /** starts node i again (same ports and store directory) */
  start(i: number): Promise<void>;
  /** waits until JetStream answers through node i's URL */
  ready(i?: number): Promise<void>;
  /** stops every node and removes the directories */
  stop(): Promise<void>;
}

async function waitPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const { Socket } = await import('node:net');
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = new Socket();
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => { s.destroy(); r(false); });
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server on port ${port} did not start within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts an n-node cluster (n = 1: a single server, no cluster block). */
export async function startCluster(n: number): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ldb-nats-'));
  const client: number[] = [];
  const route: number[] = [];
  for (let i = 0; i < n; i++) {
    client.push(await freePort());
    route.push(await freePort());
  }
  const procs: Array<ChildProcess | null> = new Array(n).fill(null);
  const conf = (i: number) => {
    const routes = route.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
    return [
      `listen: 127.0.0.1:${client[i]}`,
      `server_name: n${i + 1}`,
      `jetstream { store_dir: "${join(dir, `n${i + 1}`)}", max_memory_store: 64MB, max_file_store: 1GB }`,
      n > 1 ? `cluster { name: ldbtest, listen: 127.0.0.1:${route[i]}, routes: [${routes}] }` : '',
    ].join('\n');
  };
  const start = async (i: number) => {
    if (procs[i]) return;
    const file = join(dir, `n${i + 1}.conf`);
    writeFileSync(file, conf(i));
    const p = spawn('nats-server', ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => { err = (err + d).slice(-4000); });
    p.on('exit', () => { if (procs[i] === p) procs[i] = null; });
    procs[i] = p;
    try {
      await waitPort(client[i]!, 10_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${err}`);
    }
  };
  const urls = client.map((p) => `nats://127.0.0.1:${p}`);
  const cluster: Cluster = {
    urls,
    kill(i) {
      const p = procs[i];
      if (!p) return;
      procs[i] = null;
      p.kill('SIGKILL');
    },
    start,
    async ready(i = 0) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const nc = await connect({ servers: urls[i], timeout: 2000 });
          try {
            const jsm = await jetstreamManager(nc, { timeout: 2000 });
            await jsm.getAccountInfo();
            return;
          } finally {
            await nc.close();
          }
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`JetStream not ready on ${urls[i]}: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
    async stop() {
      const waits = procs.map((p) => p && new Promise<void>((r) => {
        p.once('exit', () => r());
        p.kill('SIGKILL');
      }));
      await Promise.all(waits);
      procs.fill(null);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < n; i++) await start(i);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
