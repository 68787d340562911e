/* crash.test.ts — a child process commits in a loop and is killed with
 * SIGKILL at an arbitrary point; every commit it reported must be present
 * after reopening, and the database must pass check(). Repeated so
 * recovery runs on a database that has already recovered. */
import assert from 'node:assert/strict';
import { open } from '../../js/index.js';
import { runFixture, tempDir } from './helpers.js';

const key = (p: string, i: number) => `${p}:${String(i).padStart(8, '0')}`;
const value = (i: number) => `value-${i}-${'z'.repeat(i % 300)}`;

/** Runs the writer from `start` until it reported `atLeast` commits (or a
 * time limit), kills it with SIGKILL, and returns the reported indexes. */
async function writeAndKill(path: string, start: number, atLeast: number, syncMode: string): Promise<number[]> {
  const child = runFixture('writer.mjs', [path, String(start), syncMode]);
  const reported: number[] = [];
  let partial = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<string | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
  await new Promise<void>((resolve, reject) => {
    const killAt = Date.now() + 20_000;
    const timer = setInterval(() => {
      if (Date.now() > killAt) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    child.stdout!.on('data', (d) => {
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) reported.push(Number(l));
      // kill at a pseudo-random point past the threshold
      if (reported.length >= atLeast + (start % 37)) {
        clearInterval(timer);
        resolve();
      }
    });
    child.on('exit', (code, sig) => {
      if (sig !== 'SIGKILL') {
        clearInterval(timer);
        reject(new Error(`writer exited early (${code}/${sig}): ${stderr}`));
      }
    });
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  return reported;
}

describe('crash safety (SIGKILL during writes)', function () {
  this.timeout(180_000);
  const tmp = tempDir('crash');
  after(() => tmp.remove());

  for (const syncMode of ['full', 'normal']) {
    it(`syncMode ${syncMode}: every reported commit survives, three kill/recover cycles`, async () => {
      const path = `${tmp.dir}/db-${syncMode}`;
      let next = 0;
      let total = 0;
      for (let cycle = 0; cycle < 3; cycle++) {
        const reported = await writeAndKill(path, next, 150, syncMode);
        assert.ok(reported.length >= 10, `the writer committed (${reported.length})`);
        const db = open(path);
        try {
          db.check();
          for (const i of reported) {
            assert.equal(db.get(key('k', i))?.toString(), value(i), `commit ${i} lost`);
            if (i % 3 === 1) assert.equal(db.get(key('b', i))?.toString(), value(i), `batch ${i} half applied`);
            if (i % 3 === 2) assert.ok(db.get(key('t', i)) !== undefined, `transaction ${i} half applied`);
          }
          // an unreported commit in flight may or may not be there, but
          // atomically: a batch or transaction is whole or absent
          const last = reported[reported.length - 1]!;
          const inflight = last + 1;
          const k = db.get(key('k', inflight));
          if (inflight % 3 === 1) assert.equal(k === undefined, db.get(key('b', inflight)) === undefined);
          if (inflight % 3 === 2) assert.equal(k === undefined, db.get(key('t', inflight)) === undefined);
          next = last + 2;
          total += reported.length;
        } finally {
          db.close();
        }
      }
      assert.ok(total >= 30);
    });
  }
});
