/* retention.test.ts — memory a kept scan result holds, measured the way a
 * user sees it: process.memoryUsage().arrayBuffers after a full collection,
 * in a child process with --expose-gc (fixtures/retain.mjs). Issue 9,
 * item 2: 6,000 keys (70 KiB) of a scan over 4 KiB values kept 23.6 MiB. The
 * structural test for every backend is tests/api/retention.test.ts. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { finished, runFixture, tempDir } from './helpers.js';

describe('memory kept alive by scan results', function () {
  this.timeout(120_000);
  const tmp = tempDir('retain');
  after(() => tmp.remove());

  for (const size of [4096, 1000]) {
    it(`the keys of a scan over ${size}-byte values keep well under 1 MiB alive`, async () => {
      const r = await finished(runFixture('retain.mjs', [join(tmp.dir, `db${size}`), String(size)], ['--expose-gc']));
      assert.equal(r.code, 0, r.stderr);
      const { retained, keys } = JSON.parse(r.stdout.trim()) as { retained: number; keys: number };
      assert.equal(keys, 6000);
      assert.ok(retained < 1 << 20, `6,000 kept keys retain ${retained} bytes of ArrayBuffers`);
    });
  }
});
