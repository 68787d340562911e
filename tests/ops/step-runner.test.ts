/* step-runner.test.ts — the time bound of `npm test`'s steps
 * (scripts/step-runner.mjs, used by scripts/test.mjs): a step past its
 * limit has its whole process group killed (grandchildren included, also
 * ones that ignore SIGTERM) and reports timedOut; a step that ends in time
 * keeps its exit code and output; a step whose process exits while a
 * leftover grandchild holds its output open still settles, and the
 * leftover is ended. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
// @ts-expect-error a plain .mjs script without type declarations
import { runStep } from '../../scripts/step-runner.mjs';
import { tempDir, until } from './helpers.js';

interface StepResult { code: number; output: string; timedOut: boolean; ms: number }
const run = runStep as (cmd: string, args: string[], o: Record<string, unknown>) => Promise<StepResult>;

const sink = () => new Writable({ write(_c, _e, cb) { cb(); } });

/** True while pid is a live process (a zombie counts as gone). */
function alive(pid: number): boolean {
  const f = `/proc/${pid}/stat`;
  if (!existsSync(f)) return false;
  try {
    // "pid (comm) S ...": the state follows the last ')'.
    const stat = readFileSync(f, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('npm test step runner: a time bound per step', function () {
  this.timeout(60_000);
  const tmp = tempDir('steps');
  after(() => tmp.remove());

  it('kills a step past its limit with its whole process group and reports it', async () => {
    const pidFile = join(tmp.dir, 'grandchild.pid');
    const started = Date.now();
    const r = await run('sh', ['-c', `echo started; sleep 300 & echo $! > ${pidFile}; wait`],
      { timeoutMs: 800, graceMs: 1000, out: sink(), err: sink() });
    const took = Date.now() - started;
    assert.equal(r.timedOut, true);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /^started\n/);
    assert.match(r.output, /step timed out after 0\.8 s: its process group was killed/);
    assert.ok(took >= 800 && took < 10_000, `settled after ${took} ms`);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await until(`grandchild ${grandchild} to be gone`, 5000, () => !alive(grandchild));
  });

  it('a step that ignores SIGTERM is killed after the grace period', async () => {
    const pidFile = join(tmp.dir, 'stubborn.pid');
    // An ignored signal stays ignored across exec: sleep ignores TERM too.
    const r = await run('sh', ['-c', `trap '' TERM; sleep 300 & echo $! > ${pidFile}; wait; wait`],
      { timeoutMs: 500, graceMs: 500, out: sink(), err: sink() });
    assert.equal(r.timedOut, true);
    assert.notEqual(r.code, 0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await until(`stubborn ${pid} to be gone`, 5000, () => !alive(pid));
  });

  it('a step that ends in time keeps its exit code and output', async () => {
    const ok = await run(process.execPath, ['-e', 'console.log("out"); console.error("err")'], { timeoutMs: 30_000, out: sink(), err: sink() });
    assert.deepEqual([ok.code, ok.timedOut], [0, false]);
    assert.match(ok.output, /out\n/);
    assert.match(ok.output, /err\n/);
    const bad = await run('sh', ['-c', 'exit 3'], { timeoutMs: 30_000, out: sink(), err: sink() });
    assert.deepEqual([bad.code, bad.timedOut], [3, false]);
    const missing = await run(join(tmp.dir, 'no-such-program'), [], { timeoutMs: 30_000, out: sink(), err: sink() });
    assert.equal(missing.code, 127);
  });

  it('settles when the step exits but a leftover holds its output open, and ends the leftover', async () => {
    const pidFile = join(tmp.dir, 'leftover.pid');
    const started = Date.now();
    const r = await run('sh', ['-c', `sleep 300 & echo $! > ${pidFile}; exit 0`], { timeoutMs: 60_000, out: sink(), err: sink() });
    assert.deepEqual([r.code, r.timedOut], [0, false]);
    assert.ok(Date.now() - started < 20_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await until(`leftover ${pid} to be gone`, 5000, () => !alive(pid));
  });
});
