/**
 * server.ts — db.serve(): an HTTP server (node:http) for one database with
 *   /metrics  the Prometheus text exposition (db.metricsText()) and
 *             lightningdb_healthy (db.healthCheck() passes: 1, else 0)
 *   /health   200 or 503 with the JSON of db.healthCheck()
 *   /         the diagnostics page (assets under /assets/)
 *   /api/...  the page's data: samples, events, recommendations, load test
 * It binds 127.0.0.1 unless told otherwise. Every request is answered:
 * unknown paths 404, wrong methods 405 (with Allow), bad bodies 400, a
 * closed database 503, anything unexpected 500; nothing a client sends can
 * end the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Database } from '../database.js';
import { invalidType, typeError, LightningDbError, type ErrorCode } from '../errors.js';
import { checkOptionKeys, keyList } from '../options.js';
import { Sampler } from './sampler.js';
import { healthyText } from './exposition.js';
import { recommend } from './recommend.js';
import { runLoadTest, loadTestOptions, type LoadTestOptions, type LoadTestPoint, type LoadTestResult } from './loadtest.js';

/** Options of db.serve() / serve(). */
export interface ServeOptions {
  /** interface to bind; default '127.0.0.1' (only this machine). Give
   * '0.0.0.0' or '::' explicitly to accept other machines. */
  host?: string;
  /** TCP port; default 9470; 0 picks a free port (see OpsServer.port) */
  port?: number;
  /** diagnostics sampling period, ms; default 1000 */
  intervalMs?: number;
  /** whether POST /api/loadtest may run load tests (on a scratch database,
   * never on this one); default true */
  loadTest?: boolean;
}

/** The keys serve() takes; any other is INVALID_ARGUMENT. */
const SERVE_KEYS = keyList<ServeOptions>({ host: true, port: true, intervalMs: true, loadTest: true });

/** A running server (the result of db.serve()). */
export interface OpsServer {
  /** e.g. http://127.0.0.1:9470/ */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops the server, its sampler and a running load test. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_PORT = 9470;
const MAX_BODY = 4096;

/** The directory of the page's assets, in the source tree and in the
 * package (dist/esm/ops, or the dist/cjs bundle). */
function assetsDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    for (const c of [join(d, 'assets'), join(d, 'js', 'ops', 'assets')]) {
      if (existsSync(join(c, 'index.html'))) return c;
    }
    d = dirname(d);
  }
  throw new Error('lightningdb: the diagnostics page assets (js/ops/assets) are missing from this installation');
}

interface Asset {
  file: string;
  type: string;
}

function assets(): Map<string, Asset> {
  const dir = assetsDir();
  const req = createRequire(import.meta.url);
  const uplot = dirname(req.resolve('uplot/dist/uPlot.iife.min.js'));
  return new Map<string, Asset>([
    ['/', { file: join(dir, 'index.html'), type: 'text/html; charset=utf-8' }],
    ['/assets/app.js', { file: join(dir, 'app.js'), type: 'text/javascript; charset=utf-8' }],
    ['/assets/panel.js', { file: join(dir, 'panel.js'), type: 'text/javascript; charset=utf-8' }],
    ['/assets/app.css', { file: join(dir, 'app.css'), type: 'text/css; charset=utf-8' }],
    ['/assets/uPlot.min.js', { file: join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
    ['/assets/uPlot.min.css', { file: join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }],
  ]);
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string | Buffer,
  headers: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': String(buf.length),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'",
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

function json(res: ServerResponse, req: IncomingMessage, status: number, value: unknown, headers?: Record<string, string>): void {
  send(res, req, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}

/** Reads a JSON body of at most MAX_BODY bytes. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\b/.test(type)) {
      reject(new HttpError(415, 'the body must be JSON (Content-Type: application/json)'));
      req.resume();
      return;
    }
    let size = 0;
    let tooLarge = false;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      if (tooLarge) return; // drained and dropped
      size += c.length;
      if (size > MAX_BODY) {
        tooLarge = true;
        chunks.length = 0;
        reject(new HttpError(413, `the body must be at most ${MAX_BODY} bytes`, { Connection: 'close' }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new HttpError(400, 'the body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

interface LoadTestState {
  state: 'idle' | 'running' | 'done' | 'failed';
  startedAt: number | null;
  options: LoadTestOptions | null;
  phase: 'preload' | 'run' | null;
  preload: { done: number; total: number } | null;
  points: LoadTestPoint[];
  result: LoadTestResult | null;
  error: string | null;
}

/** The LightningDbError for a server that cannot listen on host:port (the
 * system's error is its cause): BUSY when the port is taken (EADDRINUSE:
 * another server, or another db.serve(), listens there), INVALID_ARGUMENT
 * when host:port cannot be used here (EACCES: a port below 1024 without
 * the privilege; EADDRNOTAVAIL: host is not an address of this machine;
 * ENOTFOUND / EAI_AGAIN: host does not resolve), IO otherwise. */
function listenError(e: Error, host: string, port: number): LightningDbError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const [ldb, why]: [ErrorCode, string] =
    code === 'EADDRINUSE' ? ['BUSY', 'the port is in use by another server; stop it, or choose another port (port 0: any free one)']
    : code === 'EACCES' ? ['INVALID_ARGUMENT', 'permission denied (ports below 1024 need privileges); choose a port of 1024 or more']
    : code === 'EADDRNOTAVAIL' ? ['INVALID_ARGUMENT', 'the host is not an address of this machine']
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? ['INVALID_ARGUMENT', 'the host name does not resolve']
    : ['IO', e.message];
  return new LightningDbError(ldb, `cannot listen on ${where}: ${why}${code ? ` (${code})` : ''}`, { cause: e });
}

/**
 * Serves db on host:port (default 127.0.0.1:9470) and resolves once it
 * listens. Throws TypeError / INVALID_ARGUMENT for bad options; rejects
 * with a LightningDbError naming host:port when it cannot listen: BUSY for
 * a port in use, INVALID_ARGUMENT for a host or port not usable here, IO
 * for any other failure (listenError; the system error is its cause).
 */
export async function serve(db: Database, options: ServeOptions = {}): Promise<OpsServer> {
  if (options === null || typeof options !== 'object') throw invalidType('serve options', 'an object', options);
  checkOptionKeys(options, SERVE_KEYS, 'serve()');
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw typeError('host must be a non-empty string');
  const port = options.port ?? DEFAULT_PORT;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LightningDbError('INVALID_ARGUMENT', `port must be an integer in 0..65535, got ${String(port)}`);
  }
  const intervalMs = options.intervalMs ?? 1000;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 100) {
    throw new LightningDbError('INVALID_ARGUMENT', `intervalMs must be a number >= 100, got ${String(intervalMs)}`);
  }
  const allowLoadTest = options.loadTest ?? true;
  if (db.closed) throw new LightningDbError('CLOSED', 'the database is closed');
  const files = assets();
  const cache = new Map<string, Buffer>();
  const sampler = new Sampler(db, { intervalMs });
  let load: LoadTestState = {
    state: 'idle', startedAt: null, options: null, phase: null, preload: null, points: [], result: null, error: null,
  };
  let abort: AbortController | null = null;
  let running: Promise<void> | null = null;

  /** path -> method -> handler */
  const routes = new Map<string, Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>>>();
  const staticRoute = (path: string) => {
    const a = files.get(path)!;
    const h = (req: IncomingMessage, res: ServerResponse) => {
      let body = cache.get(path);
      if (!body) {
        body = readFileSync(a.file);
        cache.set(path, body);
      }
      send(res, req, 200, a.type, body);
    };
    routes.set(path, { GET: h, HEAD: h });
  };
  for (const path of files.keys()) staticRoute(path);
  const readOnly = (path: string, h: (req: IncomingMessage, res: ServerResponse, url: URL) => void) =>
    routes.set(path, { GET: h, HEAD: h });

  // Browsers ask for it on every page; there is none.
  readOnly('/favicon.ico', (_req, res) => { res.writeHead(204, { 'Cache-Control': 'max-age=86400' }).end(); });
  readOnly('/metrics', (req, res) => {
    if (db.closed) throw new HttpError(503, 'the database is closed');
    const text = db.metricsText();
    send(res, req, 200, 'text/plain; version=0.0.4; charset=utf-8', text + healthyText(db.healthCheck().healthy));
  });
  readOnly('/health', (req, res) => {
    const h = db.healthCheck();
    json(res, req, h.healthy ? 200 : 503, h);
  });
  readOnly('/api/overview', (req, res) => {
    json(res, req, 200, {
      path: db.path, engine: db.engine.kind, closed: db.closed, intervalMs: sampler.intervalMs,
      loadTest: allowLoadTest, metrics: sampler.latest, health: db.healthCheck(),
    });
  });
  readOnly('/api/samples', (req, res, url) => {
    const after = Number(url.searchParams.get('after') ?? '0');
    if (!Number.isFinite(after)) throw new HttpError(400, "'after' must be a number (ms since the epoch)");
    json(res, req, 200, { intervalMs: sampler.intervalMs, samples: sampler.samples.filter((s) => s.t > after) });
  });
  readOnly('/api/events', (req, res, url) => {
    const after = Number(url.searchParams.get('after') ?? '0');
    if (!Number.isFinite(after)) throw new HttpError(400, "'after' must be a number (ms since the epoch)");
    json(res, req, 200, { source: 'engine', events: sampler.timeline.filter((e) => e.t > after) });
  });
  readOnly('/api/recommendations', (req, res) => {
    json(res, req, 200, { recommendations: recommend(sampler.samples, sampler.latest) });
  });
  const loadTestView = () => ({ ...load, enabled: allowLoadTest });
  routes.set('/api/loadtest', {
    GET: (req, res) => json(res, req, 200, loadTestView()),
    HEAD: (req, res) => json(res, req, 200, loadTestView()),
    POST: async (req, res) => {
      if (!allowLoadTest) throw new HttpError(403, 'load tests are disabled on this server (serve({ loadTest: false }))');
      checkOrigin(req);
      const body = await readJson(req);
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object');
      const b = body as Record<string, unknown>;
      for (const k of Object.keys(b)) {
        if (!['durationMs', 'readRatio', 'keys', 'valueSize', 'cacheSize', 'syncMode'].includes(k)) {
          throw new HttpError(400, `unknown load test option '${k}'`);
        }
      }
      const opts = b as LoadTestOptions;
      try {
        loadTestOptions(opts);
      } catch (e) {
        throw new HttpError(400, (e as Error).message);
      }
      if (load.state === 'running') throw new HttpError(409, 'a load test is already running');
      if (db.closed) throw new HttpError(503, 'the database is closed');
      abort = new AbortController();
      load = { state: 'running', startedAt: Date.now(), options: opts, phase: 'preload', preload: null, points: [], result: null, error: null };
      const mine = load;
      running = runLoadTest(db.engine, opts, (p) => {
        if (p.phase === 'preload') mine.preload = { done: p.done, total: p.total };
        else { mine.phase = 'run'; mine.points.push(p.point); }
      }, abort.signal).then((r) => {
        mine.result = r;
        mine.state = 'done';
      }, (e: unknown) => {
        mine.error = e instanceof Error ? e.message : String(e);
        mine.state = 'failed';
      }).finally(() => { running = null; });
      json(res, req, 202, loadTestView());
    },
    DELETE: (req, res) => {
      checkOrigin(req);
      abort?.abort();
      json(res, req, 200, loadTestView());
    },
  });

  /** Refuses state-changing requests from pages of other origins (a page
   * on any site can POST to 127.0.0.1; browsers send Origin with it). */
  function checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const hostHeader = req.headers.host ?? '';
    let ok = false;
    try {
      ok = new URL(origin).host === hostHeader;
    } catch {
      ok = false;
    }
    if (!ok) throw new HttpError(403, `requests from origin ${origin} are not accepted`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new HttpError(400, 'bad request URL');
    }
    const methods = routes.get(url.pathname);
    if (!methods) throw new HttpError(404, `no such path: ${url.pathname} (try /, /metrics or /health)`);
    const h = methods[req.method ?? ''];
    if (!h) {
      throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`, { Allow: Object.keys(methods).join(', ') });
    }
    await h(req, res, url);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = e instanceof HttpError ? e.status
        : e instanceof LightningDbError && e.code === 'CLOSED' ? 503 : 500;
      const message = e instanceof Error ? e.message : String(e);
      json(res, req, status, { error: message }, e instanceof HttpError ? e.headers : {});
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error) => reject(listenError(e, host, port));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('error', () => { /* after listening: per-connection errors are handled per request */ });
  sampler.start();
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' || addr.family as unknown === 6 ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${addr.port}/`,
    host: addr.address,
    port: addr.port,
    close() {
      closing ??= (async () => {
        sampler.stop();
        abort?.abort();
        await running?.catch(() => {});
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
