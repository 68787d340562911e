// tests/level/suite.test.mjs — the Level ecosystem's own abstract-level
// test suite (run with tape) against lightningdb/level, each database in a
// fresh temporary directory. Run: node --import=tsx tests/level/suite.test.mjs
import test from 'tape';
import suite from 'abstract-level/test/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LightningLevel } from '../../js/level/index.ts';

const root = mkdtempSync(join(tmpdir(), 'ldb-level-'));
let n = 0;
test.onFinish(() => {
  rmSync(root, { recursive: true, force: true });
  // the summary line scripts/test.mjs counts (tape prints only TAP)
  const r = test.getHarness()._results;
  console.log(`total ${r.pass} passed ${r.fail} failed`);
});

suite({
  test,
  factory(options) {
    return new LightningLevel(join(root, `db${n++}`), options);
  },
});
