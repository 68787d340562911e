/* build-lock.test.ts — `npm pack` and `npm test` in one checkout both build
 * the host's prebuild (build/prebuild-<target>, prebuilds/<target>); the
 * lock of scripts/build-lock.mjs makes the second wait for the first. Here:
 * the lock itself (one holder at a time across processes, a stale lock of
 * a dead process taken over, a live holder waited for up to the bound),
 * then npm test's prebuild (scripts/prebuild.mjs) and npm pack's prepack
 * (scripts/pack.mjs --prepack) started together: both succeed, one waited,
 * the shipped prebuild matches its manifest (whose `tested` says it was
 * loaded and used in node), and neither printed a CMake warning; a
 * manifest without a test is refused by the pack check. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lockModule = pathToFileURL(join(root, 'scripts', 'build-lock.mjs')).href;
const plat = `${process.platform}-${process.arch}`;

/** Runs node with args in root; resolves with its exit code and output. */
function node(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => done({ code, out }));
  });
}

describe('builds that share a directory take a lock (scripts/build-lock.mjs)', function () {
  this.timeout(600_000);
  const dir = mkdtempSync(join(tmpdir(), 'ldb-lock-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('one holder at a time: three processes append start/end pairs that never interleave', async () => {
    const lock = join(dir, 'a', 'x.lock');
    const log = join(dir, 'a.log');
    writeFileSync(log, '');
    const holder = `
      import { withLock } from ${JSON.stringify(lockModule)};
      import { appendFileSync } from 'node:fs';
      withLock(${JSON.stringify(lock)}, { what: 'test', pollMs: 20, log: () => {} }, () => {
        appendFileSync(${JSON.stringify(log)}, 'start ' + process.pid + '\\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        appendFileSync(${JSON.stringify(log)}, 'end ' + process.pid + '\\n');
      });`;
    const runs = await Promise.all([1, 2, 3].map(() => node(['--input-type=module', '-e', holder])));
    for (const r of runs) assert.equal(r.code, 0, r.out);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(lines.length, 6, lines.join('\n'));
    for (let i = 0; i < 6; i += 2) {
      const [a, pa] = lines[i]!.split(' ');
      const [b, pb] = lines[i + 1]!.split(' ');
      assert.deepEqual([a, b, pa], ['start', 'end', pb], `interleaved:\n${lines.join('\n')}`);
    }
    assert.equal(existsSync(lock), false, 'the last holder removed the lock');
  });

  it('a lock left by a process that has ended is stale: taken over at once', async () => {
    const lock = join(dir, 'stale.lock');
    const ended = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lock, `${JSON.stringify({ pid: ended, host: hostname(), since: new Date().toISOString(), what: 'a killed build' })}\n`);
    const { acquireLock } = await import(lockModule);
    const said: string[] = [];
    const t0 = Date.now();
    const release = acquireLock(lock, { what: 'test', timeoutMs: 5_000, log: (m: string) => said.push(m) });
    assert.ok(Date.now() - t0 < 2_000, 'no wait for a dead holder');
    assert.match(said.join('\n'), new RegExp(`removed the stale lock .*pid ${ended}, has ended`));
    assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid);
    release();
    release(); // idempotent
    assert.equal(existsSync(lock), false);
  });

  it('a live holder is waited for, up to the bound, and named', async () => {
    const lock = join(dir, 'live.lock');
    const { acquireLock } = await import(lockModule);
    const release = acquireLock(lock, { what: 'first' });
    try {
      const said: string[] = [];
      const t0 = Date.now();
      assert.throws(() => acquireLock(lock, { what: 'second', timeoutMs: 400, pollMs: 50, log: (m: string) => said.push(m) }),
        new RegExp(`second: .*live\\.lock is still held by pid ${process.pid} on .*\\(first, since`));
      assert.ok(Date.now() - t0 >= 350, 'it waited');
      assert.match(said.join('\n'), /second: waiting for pid \d+ .*first/);
    } finally {
      release();
    }
    assert.equal(existsSync(lock), false);
  });

  it("npm test's prebuild and npm pack's prepack at once: both succeed, one waits, no CMake warning", async () => {
    for (const f of ['dist/esm/index.js', 'dist/esm/browser/lightningdb.wasm']) {
      assert.ok(existsSync(join(root, f)), `${f} is missing: run npm run build and npm run build:wasm first`);
    }
    // Without its manifest the prebuild is not fresh, so prepack builds it too.
    rmSync(join(root, 'prebuilds', plat, 'lightningdb.json'), { force: true });
    const [test, pack] = await Promise.all([
      node(['scripts/prebuild.mjs']),
      node(['scripts/pack.mjs', '--prepack']),
    ]);
    assert.equal(test.code, 0, `prebuild.mjs:\n${test.out}`);
    assert.equal(pack.code, 0, `pack.mjs --prepack:\n${pack.out}`);
    const waited = [test.out, pack.out].filter((o) => /prebuild [\w-]+: waiting for pid \d+/.test(o));
    assert.equal(waited.length, 1, `exactly one waited for the other:\n--- prebuild.mjs\n${test.out}\n--- pack.mjs\n${pack.out}`);
    for (const o of [test.out, pack.out]) assert.doesNotMatch(o, /CMake Warning|Manually-specified variables were not used/);
    const file = readFileSync(join(root, 'prebuilds', plat, 'lightningdb.node'));
    const manifest = JSON.parse(readFileSync(join(root, 'prebuilds', plat, 'lightningdb.json'), 'utf8'));
    assert.equal(manifest.sha256, createHash('sha256').update(file).digest('hex'));
    assert.equal(existsSync(join(root, 'build', `prebuild-${plat}.lock`)), false);
    assert.equal(existsSync(join(root, 'prebuilds', plat, 'lightningdb.node.tmp')), false);
    // The prebuild was loaded and used in node before its manifest was
    // written, and the manifest says so (README "Installing").
    assert.match(manifest.tested, /^loaded in node v\d+\.\d+\.\d+: .*check with none, zstd, lz4, snappy$/);
  });

  it('npm pack refuses a prebuild of this platform whose manifest records no test, and prepack rebuilds and tests it', async () => {
    const mf = join(root, 'prebuilds', plat, 'lightningdb.json');
    const saved = readFileSync(mf, 'utf8');
    try {
      writeFileSync(mf, `${JSON.stringify({ ...JSON.parse(saved), tested: null }, null, 2)}\n`);
      const check = await node(['scripts/pack.mjs', '--check']);
      assert.equal(check.code, 1, check.out);
      assert.match(check.out, new RegExp(`prebuilds/${plat} was not loaded and used in node when it was built`));
      const pack = await node(['scripts/pack.mjs', '--prepack']);
      assert.equal(pack.code, 0, pack.out);
      assert.match(pack.out, /prebuild [\w-]+: loaded in node v/);
      assert.match(JSON.parse(readFileSync(mf, 'utf8')).tested, /^loaded in node v/);
    } finally {
      if (JSON.parse(readFileSync(mf, 'utf8')).tested === null) writeFileSync(mf, saved);
    }
  });
});
