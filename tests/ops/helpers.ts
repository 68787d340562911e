/* helpers.ts — shared bits of the operations tests: temp directories, free
 * ports, a real Prometheus server started and stopped by the test, HTTP
 * requests with a bound on time. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
/** Screenshots and other kept test output (gitignored). */
export const artifacts = join(root, 'build', 'test-artifacts', 'ops');

export function tempDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `ldb-ops-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function fetchText(url: string, init: RequestInit = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/** Waits until fn() is truthy (polling), or throws after ms. */
export async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(200);
  }
}

export interface PromServer {
  url: string;
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

/** Starts Debian's prometheus with `config` (YAML text) on a free
 * 127.0.0.1 port and waits until it is ready (30 s at most). */
export async function startPrometheus(config: string, dir: string): Promise<PromServer> {
  const bin = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout.trim();
  if (!bin) throw new Error('prometheus is not installed (Debian package `prometheus`; scripts/setup-system.sh installs it)');
  mkdirSync(join(dir, 'tsdb'), { recursive: true });
  const cfg = join(dir, 'prometheus.yml');
  writeFileSync(cfg, config);
  const port = await freePort();
  const child: ChildProcess = spawn(bin, [
    `--config.file=${cfg}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => { log += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await until('prometheus to be ready', 30_000, async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
      return (await fetchText(`${url}/-/ready`)).status === 200;
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    url,
    async query(expr: string) {
      const r = await fetchText(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = JSON.parse(r.text);
      if (body.status !== 'success') throw new Error(`query failed: ${expr}: ${body.error ?? r.text}`);
      return body.data.result;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
  };
}
