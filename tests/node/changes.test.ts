/* changes.test.ts (Node) — commits made by other threads on the same
 * database reach a feed and a subscription of this thread without polling
 * (the addon's commit hook wakes the event loop through a thread-safe
 * function), in commit order; a waiting feed keeps the process alive and a
 * subscription does not. */
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { strict as assert } from 'node:assert';
import { open } from '../../js/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const src = pathToFileURL(join(root, 'js', 'index.ts')).href;
const tsxApi = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'esm', 'api', 'index.mjs')).href;

/** Runs `code` (an ES module body with `open` and `workerData` in scope)
 * in a worker_thread that loads the TypeScript sources through tsx's
 * loader API (execArgv --import does not reach a data: URL worker);
 * resolves when it exits. */
function inWorker(code: string, data: unknown): Promise<void> {
  const body = `import { workerData } from 'node:worker_threads';
    const { register } = await import(${JSON.stringify(tsxApi)});
    register();
    const { open } = await import(${JSON.stringify(src)});
    ${code}`;
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(body)}`), { workerData: data });
    w.on('error', reject);
    w.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`worker exit ${c}`))));
  });
}

describe('change feed across threads (Node)', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ldb-changes-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('commits of two worker_threads reach a subscription and a feed, in commit order', async () => {
    const path = join(dir, 'db');
    const db = open(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    const subSeqs: number[] = [];
    const subKeys: string[] = [];
    const stop = db.subscribe({ prefix: 'w' }, (c) => {
      subSeqs.push(c.seq);
      for (const op of c.ops) subKeys.push(op.key as string);
    });
    const feed = db.changes();
    const writers = [0, 1].map((t) =>
      inWorker(
        `const db = open(workerData.path);
         for (let i = 0; i < 200; i++) db.put('w' + workerData.t + ':' + String(i).padStart(3, '0'), 'v');
         db.close();`,
        { path, t },
      ),
    );
    const failed = Promise.all(writers).then(() => new Promise<never>(() => {}));
    const feedSeqs: number[] = [];
    const read = (async () => {
      for await (const c of feed) {
        feedSeqs.push(c.seq);
        if (feedSeqs.length === 400) break;
      }
    })();
    // a writer that fails rejects here instead of leaving the feed waiting
    await Promise.race([read, failed]);
    await Promise.all(writers);
    for (let i = 0; i < 100 && subSeqs.length < 400; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(feedSeqs, Array.from({ length: 400 }, (_, i) => i + 1));
    assert.deepEqual(subSeqs, feedSeqs);
    // each writer's keys in its own order
    for (const t of [0, 1]) {
      const mine = subKeys.filter((k) => k.startsWith(`w${t}:`));
      assert.deepEqual(mine, Array.from({ length: 200 }, (_, i) => `w${t}:${String(i).padStart(3, '0')}`));
    }
    stop();
    db.close();
  });

  it('a waiting feed keeps the process alive until a commit arrives; a subscription alone does not', () => {
    const script = (body: string) => `
      const { open } = await import(${JSON.stringify(src)});
      const db = open(${JSON.stringify(join(dir, 'alive'))});
      ${body}`;
    // A subscription alone lets the process exit (exit code 0, nothing printed).
    const a = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      script(`db.subscribe(undefined, () => console.log('called'));`)], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, '');
    // A feed awaiting the next commit keeps it alive until a timer commits.
    const b = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      script(`const t = setTimeout(() => db.put('k', 'v'), 300); t.unref();
        for await (const c of db.changes()) { console.log('seq', c.seq); break; }
        db.close();`)], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(b.status, 0, b.stderr);
    assert.equal(b.stdout.trim(), 'seq 1');
  });
});
