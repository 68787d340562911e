/* prometheus.test.ts — metricsText() (the core's ldb_stats_prometheus) is
 * valid Prometheus exposition that follows the naming conventions:
 * `promtool check metrics` (from Debian's prometheus package) accepts it,
 * with and without labels, on a fresh and on a busy database. Skipped only
 * when promtool is not installed. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { open } from '../../js/index.js';
import { tempDir } from './helpers.js';

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

function check(text: string): { status: number | null; out: string } {
  const r = spawnSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe('metricsText passes promtool check metrics', function () {
  this.timeout(60_000);
  const tmp = tempDir('prom');
  after(() => tmp.remove());

  before(function () {
    if (!promtool) this.skip();
  });

  it('a fresh database, a busy one, and with labels', async () => {
    const db = open(join(tmp.dir, 'db'));
    const texts = [db.metricsText()];
    db.putBatch(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v'.repeat(i % 50)]));
    for (let i = 0; i < 200; i++) db.get(`k${i}`);
    db.transaction((tx) => tx.put('t', '1'));
    await db.putAsync('a', 'b');
    db.checkpoint();
    texts.push(db.metricsText(), db.metricsText('db="main",instance="test"'));
    db.close();
    for (const t of texts) {
      const r = check(t);
      assert.equal(r.status, 0, `promtool: ${r.out}\n${t.slice(0, 600)}`);
      assert.equal(r.out, '', `promtool lint: ${r.out}`);
    }
    // the check itself fails on a malformed exposition
    assert.notEqual(check('lightningdb_x_total{bad 1\n').status, 0);
  });
});
