/* diskfull.test.ts — writes refused on a full disk show in healthCheck()
 * and in lightningdb_background_error (what the shipped LightningDBDiskFull
 * alert reads) until a write succeeds again. Before, both said healthy / 0
 * while every write failed with FULL. Needs root to mount a small tmpfs;
 * skipped otherwise. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database } from '../../js/index.js';
import { tempDir } from './helpers.js';

describe('disk full: health and the background_error gauge', function () {
  this.timeout(120_000);
  const tmp = tempDir('diskfull');
  const mnt = join(tmp.dir, 'tmpfs');
  let mounted = false;

  before(function () {
    mkdirSync(mnt);
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]).status === 0;
    if (!mounted) this.skip();
  });
  after(() => {
    if (mounted) spawnSync('umount', [mnt]);
    tmp.remove();
  });

  for (const syncMode of ['normal', 'full'] as const) {
    it(`a put refused with FULL makes the database unhealthy until a write succeeds (syncMode ${syncMode})`, () => {
      const dir = join(mnt, `db-${syncMode}`);
      // A memtable larger than the disk: no checkpoint runs, so only the
      // refused log appends can report the full disk.
      let db: Database | undefined = open(dir, { syncMode, memtableSize: 64 << 20 });
      try {
        db.put('first', 'x');
        assert.equal(db.healthCheck().healthy, true);
        writeFileSync(join(mnt, 'filler'), new Uint8Array(0));
        try {
          writeFileSync(join(mnt, 'filler'), new Uint8Array(16 << 20)); // fills the tmpfs, then ENOSPC
        } catch (e) {
          assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
        }
        const v = new Uint8Array(4096).fill(7);
        let code = '';
        for (let i = 0; i < 10_000 && code === ''; i++) {
          try {
            db.put(`k${i}`, v);
          } catch (e) {
            code = (e as { code?: string }).code ?? String(e);
          }
        }
        assert.equal(code, 'FULL');
        const h = db.healthCheck();
        assert.equal(h.healthy, false);
        assert.equal(h.backgroundError, 'FULL');
        assert.match(h.issues.join('\n'), /writes or background checkpoints\/syncs are failing with FULL/);
        assert.match(db.metricsText(), /^lightningdb_background_error(\{[^}]*\})? 6$/m);
        // space returns: the next write that succeeds clears it
        rmSync(join(mnt, 'filler'));
        db.put('after', 'y');
        assert.equal(db.healthCheck().backgroundError, 'OK');
        assert.equal(db.healthCheck().healthy, true);
        assert.match(db.metricsText(), /^lightningdb_background_error(\{[^}]*\})? 0$/m);
        db.close();
        db = undefined;
      } finally {
        db?.close();
        rmSync(join(mnt, 'filler'), { force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
