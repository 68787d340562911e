/* mmap.test.ts — the data file is read through a memory mapping (the
 * mmapSize option). In a Node process (whose runtime has its own signal
 * handling) a data file truncated from outside while the database is open
 * must give IO/CORRUPT errors, never a SIGBUS that kills the process;
 * mmapSize 0 (everything through the page cache) reads the same data; and
 * cacheSize bounds the mapped bytes kept resident (metrics()) unless
 * mmapBounded is false. */
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { open } from '../../js/index.js';
import { tempDir } from './helpers.js';

const N = 20000;
const key = (i: number) => `key${String(i).padStart(8, '0')}`;
const value = (i: number) => Buffer.alloc(100, i & 255);

function load(dir: string, n = N): void {
  const db = open(dir, { syncMode: 'off' });
  const batch: Array<[string, Buffer]> = [];
  for (let i = 0; i < n; i++) batch.push([key(i), value(i)]);
  db.putBatch(batch);
  db.checkpoint();
  db.close();
}

describe('reads through the memory mapping', () => {
  it('mmapSize 0 and the default read the same values', () => {
    const t = tempDir('mmap-same');
    try {
      load(t.dir);
      for (const mmapSize of [0, undefined]) {
        const db = open(t.dir, mmapSize === undefined ? {} : { mmapSize });
        for (let i = 0; i < N; i += 13) assert.deepEqual(db.get(key(i)), value(i));
        let n = 0;
        for (const [k] of db.scan()) {
          assert.equal(k.toString(), key(n));
          n++;
        }
        assert.equal(n, N);
        db.close();
      }
    } finally {
      t.remove();
    }
  });

  it('cacheSize bounds the mapped bytes kept resident; mmapBounded: false does not', () => {
    const t = tempDir('mmap-bound');
    try {
      load(t.dir, 2 * N);
      const cacheSize = 1 << 20;
      for (const mmapBounded of [true, false]) {
        const db = open(t.dir, { cacheSize, mmapBounded });
        let x = 7;
        for (let n = 0; n < 2 * N; n++) {
          x = (x * 1103515245 + 12345) % 2147483648;
          const i = x % (2 * N);
          assert.deepEqual(db.get(key(i)), value(i));
        }
        const m = db.metrics();
        assert.ok(m.dataFileSize > 3 * cacheSize, `data file ${m.dataFileSize}`);
        if (mmapBounded) {
          assert.ok(m.mmapResidentBytes > 0 && m.mmapResidentBytes <= cacheSize, `resident ${m.mmapResidentBytes}`);
          assert.ok(m.mmapReleasedBytes > 0);
        } else {
          assert.equal(m.mmapResidentBytes + m.mmapReleasedBytes, 0);
        }
        db.close();
      }
    } finally {
      t.remove();
    }
  });

  it('a data file truncated from outside gives IO or CORRUPT, not a crash', () => {
    const t = tempDir('mmap-trunc');
    try {
      load(t.dir);
      const db = open(t.dir);
      for (let i = 0; i < N; i += 7) assert.deepEqual(db.get(key(i)), value(i));
      truncateSync(join(t.dir, 'data.ldb'), 3 * 4096);
      const codes = new Map<string, number>();
      for (let i = 0; i < N; i += 3) {
        let c = 'OK';
        try {
          db.get(key(i));
        } catch (e) {
          c = (e as { code: string }).code;
        }
        codes.set(c, (codes.get(c) ?? 0) + 1);
      }
      assert.ok(codes.get('IO')! >= 1, `codes: ${[...codes]}`);
      for (const c of codes.keys()) assert.ok(['OK', 'IO', 'CORRUPT'].includes(c), `unexpected ${c}`);
      try {
        db.close();
      } catch (e) {
        assert.ok(['IO', 'CORRUPT'].includes((e as { code: string }).code));
      }
    } finally {
      t.remove();
    }
  });
});
