/* busy.test.ts — a second process that opens a database another process
 * has open for writing gets BUSY naming the holder; it opens once the
 * holder is gone. */
import assert from 'node:assert/strict';
import { LightningDbError, open } from '../../js/index.js';
import { runFixture, tempDir, waitForLine } from './helpers.js';

describe('multi-process locking', function () {
  this.timeout(60_000);
  const tmp = tempDir('busy');
  after(() => tmp.remove());

  it('BUSY with the holder named, then opens after the holder exits', async () => {
    const path = `${tmp.dir}/db`;
    const child = runFixture('holder.mjs', [path]);
    try {
      const line = await waitForLine(child, /^ready \d+/);
      const pid = line.split(' ')[1]!;
      let err: unknown;
      try {
        open(path).close();
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof LightningDbError, `expected BUSY, got ${err}`);
      assert.equal(err.code, 'BUSY');
      assert.match(err.message, new RegExp(pid), `message names the holder: ${err.message}`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    const db = open(path);
    assert.equal(db.get('holder')?.toString(), String(child.pid));
    db.close();
  });
});
