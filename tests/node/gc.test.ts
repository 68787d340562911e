/* gc.test.ts — garbage collection of unclosed databases, transactions and
 * scans (a child process with --expose-gc runs fixtures/gc.mjs). */
import assert from 'node:assert/strict';
import { finished, runFixture, tempDir } from './helpers.js';

describe('garbage collection of unclosed objects', function () {
  this.timeout(120_000);
  const tmp = tempDir('gc');
  after(() => tmp.remove());

  it('finalizers release transactions, snapshots and handles without crashing', async () => {
    const r = await finished(runFixture('gc.mjs', [`${tmp.dir}/db`], ['--expose-gc']));
    assert.equal(r.signal, null, `child crashed with ${r.signal}: ${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
  });
});
