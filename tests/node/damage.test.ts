/* damage.test.ts — damage that only reads reach shows in healthCheck(),
 * metrics() and the Prometheus text. Reproduced by the new-user trial: a
 * byte flipped in a leaf of a checkpointed database; gets of the keys on it
 * threw CORRUPT while healthCheck() said healthy (no checkpoint needs the
 * page, so backgroundError stayed 'OK'), and no series showed it. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from '../../js/index.js';
import { errorCode, tempDir } from './helpers.js';

const PAGE = 4096;
const KEYS = 3000;
const key = (i: number) => `key-${String(i).padStart(6, '0')}`;

describe('damage on the read path: health and corruptReads', function () {
  this.timeout(60_000);
  const tmp = tempDir('damage');
  after(() => tmp.remove());

  it('reads that throw CORRUPT make healthCheck() unhealthy, counted in metrics() and lightningdb_corrupt_reads_total', () => {
    const dir = join(tmp.dir, 'leaf');
    let db = open(dir, { pageSize: PAGE });
    db.putBatch(Array.from({ length: KEYS }, (_, i) => [key(i), `value of ${i}`] as [string, string]));
    db.close(); // checkpointed: the keys are in the tree's leaves

    // A leaf in the middle of the data file, damaged in its cells.
    const file = join(dir, 'data.ldb');
    const data = readFileSync(file);
    const pages = data.length / PAGE;
    let leaf = 0;
    for (let p = Math.floor(pages / 2); p < pages && !leaf; p++) if (data[p * PAGE + 4] === 2 /* leaf */) leaf = p;
    assert.ok(leaf >= 2, `a leaf page among ${pages}`);
    data[leaf * PAGE + PAGE - 20]! ^= 0x5a;
    writeFileSync(file, data);

    for (const readOnly of [false, true]) {
      db = open(dir, { readOnly });
      try {
        assert.equal(db.healthCheck().healthy, true);
        assert.equal(db.metrics().corruptReads, 0);
        let bad = 0;
        for (let i = 0; i < KEYS; i++) {
          const code = errorCode(() => db.get(key(i)));
          if (code === 'CORRUPT') bad++;
          else assert.equal(code, 'no error', `${key(i)}: ${code}`);
        }
        assert.ok(bad >= 2, `keys on the damaged leaf: ${bad}`);
        const m = db.metrics();
        assert.equal(m.corruptReads, bad);
        assert.equal(m.backgroundError, 'OK'); // what the health check looked at before
        const h = db.healthCheck();
        assert.equal(h.healthy, false);
        const issue = h.issues.find((t) => t.includes('CORRUPT'));
        assert.ok(issue, `issues: ${JSON.stringify(h.issues)}`);
        assert.match(issue, new RegExp(`^${bad} reads failed with CORRUPT since the database was opened`));
        assert.match(issue, /db\.check\(\).*lightningdb check/);
        assert.match(db.metricsText(), new RegExp(`^lightningdb_corrupt_reads_total ${bad}$`, 'm'));
        assert.match(db.metricsText(), /^# TYPE lightningdb_corrupt_reads_total counter$/m);
        // A scan that reaches the leaf is one more.
        assert.equal(errorCode(() => { for (const _ of db.scan()) void _; }), 'CORRUPT');
        assert.equal(db.metrics().corruptReads, bad + 1);
        // check() finds the page itself and does not count as a read.
        assert.equal(errorCode(() => db.check()), 'CORRUPT');
        assert.equal(db.metrics().corruptReads, bad + 1);
      } finally {
        db.close();
      }
    }
  });
});
