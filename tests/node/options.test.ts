/* options.test.ts — every front end refuses option keys it does not take
 * (INVALID_ARGUMENT naming the key and the closest known one), and takes
 * the keys it documents: Database.create(), openWasm(), new
 * LightningLevel(), the replication Publisher and Follower, db.serve(),
 * registerDatabase(), runLoadTest(); the suggestion itself (closestKey).
 * open() and sub() are in the shared API suite (tests/api/errors.test.ts),
 * the browser's open(), openInWorker() and destroy() in tests/browser. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Database, LightningDbError, open, registerDatabase, runLoadTest } from '../../js/index.js';
import { LightningLevel } from '../../js/level/index.js';
import { follow, publish } from '../../js/replication/index.js';
import { openWasm } from '../../js/wasm/node.js';
import { OPTIONS } from '../../js/contract.js';
import { closestKey, DATABASE_OPTION_KEYS, engineOptionMismatch, engineOptionValues, PER_OPEN_OPTIONS } from '../../js/options.js';
import { tempDir } from './helpers.js';

/** Asserts e is INVALID_ARGUMENT with exactly `message`. */
function invalidWith(message: string | RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof LightningDbError, String(e));
    assert.equal(e.code, 'INVALID_ARGUMENT');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  };
}

describe('unknown option keys are refused by every front end', function () {
  this.timeout(60_000);
  const tmp = tempDir('options');
  after(() => tmp.remove());

  it("open()'s keys are the contract's options and the encodings, none copied by hand", () => {
    assert.deepEqual([...DATABASE_OPTION_KEYS], [...OPTIONS.map((o) => o.jsName), 'keyEncoding', 'valueEncoding']);
  });

  it('closestKey: case, _ and -, a few edits; nothing when none is close', () => {
    const known = DATABASE_OPTION_KEYS;
    assert.equal(closestKey('cachesize', known), 'cacheSize');
    assert.equal(closestKey('CACHE_SIZE', known), 'cacheSize');
    assert.equal(closestKey('cache-size', known), 'cacheSize');
    assert.equal(closestKey('chaceSize', known), 'cacheSize'); // a transposition
    assert.equal(closestKey('memtablSize', known), 'memtableSize');
    assert.equal(closestKey('sync', known), undefined);
    assert.equal(closestKey('durability', known), undefined);
    assert.equal(closestKey('x', known), undefined);
  });

  it('Database.create() (Node)', () => {
    assert.throws(() => Database.create(join(tmp.dir, 'c'), { cachesize: 1e9 } as never),
      invalidWith("unknown option 'cachesize' (did you mean 'cacheSize'?)"));
    open(join(tmp.dir, 'c'), { cacheSize: 1 << 20 }).close();
  });

  it('openWasm(): open()\'s keys and store', async () => {
    await assert.rejects(openWasm(join(tmp.dir, 'w'), { stor: 'memory' } as never),
      invalidWith("unknown option 'stor' (did you mean 'store'?)"));
    await assert.rejects(openWasm(join(tmp.dir, 'w'), { store: 'memory', pagesize: 8192 } as never),
      invalidWith("unknown option 'pagesize' (did you mean 'pageSize'?)"));
    const db = await openWasm(join(tmp.dir, 'w'), { store: 'memory', pageSize: 8192, valueEncoding: 'utf8' });
    db.put('k', 'v');
    assert.equal(db.get('k'), 'v');
    db.close();
  });

  it('new LightningLevel(): Level\'s and LightningDB\'s keys', async () => {
    assert.throws(() => new LightningLevel(join(tmp.dir, 'l'), { valueEncodng: 'json' } as never),
      invalidWith("unknown option 'valueEncodng' (did you mean 'valueEncoding'?)"));
    assert.throws(() => new LightningLevel(join(tmp.dir, 'l'), { cachesize: 1 } as never),
      invalidWith("unknown option 'cachesize' (did you mean 'cacheSize'?)"));
    assert.throws(() => new LightningLevel(join(tmp.dir, 'l'), { createIfMising: true } as never),
      invalidWith("unknown option 'createIfMising' (did you mean 'createIfMissing'?)"));
    // Level hands its options to hooks and plugins: keys far from every
    // LightningDB option are theirs, and pass (abstract-level's suite checks it).
    const db = new LightningLevel(join(tmp.dir, 'l'), {
      valueEncoding: 'json', cacheSize: 1 << 20, createIfMissing: true, errorIfExists: false, passive: false, userland: 1,
    } as never);
    await db.open();
    await db.put('a', { x: 1 });
    assert.deepEqual(await db.get('a'), { x: 1 });
    await db.close();
  });

  it('replication: publish() and follow() (before connecting)', async () => {
    const db = open(join(tmp.dir, 'r'));
    try {
      await assert.rejects(publish(db, { servers: 'nats://127.0.0.1:1', stream: 's', maxpending: 8 } as never),
        invalidWith("unknown option 'maxpending' (did you mean 'maxPending'?)"));
      await assert.rejects(follow(db, { server: 'nats://127.0.0.1:1', stream: 's' } as never),
        invalidWith("unknown option 'server' (did you mean 'servers'?)"));
      await assert.rejects(follow(db, { servers: 'nats://127.0.0.1:1', stream: 's', maxPending: 8 } as never),
        invalidWith(/^unknown option 'maxPending' \(the Follower takes: servers, stream, subject, onError, batch\)$/));
    } finally {
      db.close();
    }
  });

  it('db.serve(), registerDatabase(), runLoadTest()', async () => {
    const db = open(join(tmp.dir, 's'));
    try {
      await assert.rejects(db.serve({ prot: 0 } as never), invalidWith("unknown option 'prot' (did you mean 'port'?)"));
      const server = await db.serve({ host: '127.0.0.1', port: 0, intervalMs: 1000, loadTest: false });
      await server.close();
      const registry = new Registry();
      assert.throws(() => registerDatabase(registry, db, { label: { db: 'x' } } as never),
        invalidWith("unknown option 'label' (did you mean 'labels'?)"));
      registerDatabase(registry, db, { labels: { db: 'x' } })();
      await assert.rejects(runLoadTest(db.engine, { duration: 100 } as never),
        invalidWith("unknown option 'duration' (did you mean 'durationMs'?)"));
    } finally {
      db.close();
    }
  });
});

describe('the engine options a second open must match (PER_OPEN_OPTIONS, engineOptionMismatch)', function () {
  this.timeout(60_000);
  const tmp = tempDir('per-open');
  after(() => tmp.remove());

  /** A valid value of row other than its default. */
  function other(row: (typeof OPTIONS)[number]): number | boolean | string {
    if (row.type === 'bool') return row.default !== 1;
    if (row.type === 'enum') return row.values[(row.default + 1) % row.values.length]!;
    if (row.default === 0) return 1;
    return row.unit === 'bytes' ? row.default * 2 : row.default + 1;
  }

  it('the list is the engine\'s: a second native open is refused for every other option, and only for those', () => {
    const path = join(tmp.dir, 'db');
    const first = open(path);
    const free: string[] = [];
    try {
      for (const row of OPTIONS) {
        const value = other(row);
        let refused: LightningDbError | null = null;
        try {
          open(path, { [row.jsName]: value }).close();
        } catch (e) {
          refused = e as LightningDbError;
        }
        // errorIfExists refuses for its own reason (the database exists)
        if (refused !== null && /already open in this process/.test(refused.message)) {
          assert.equal(refused.code, 'INVALID_ARGUMENT');
          // The JS description is the engine's, word for word.
          const differs = engineOptionMismatch(engineOptionValues({}), { [row.jsName]: value });
          assert.ok(differs !== null && refused.message.includes(` with ${differs}; `), `${refused.message} / ${differs}`);
        } else {
          free.push(row.jsName);
          assert.equal(engineOptionMismatch(engineOptionValues({}), { [row.jsName]: value }), null, row.jsName);
        }
      }
    } finally {
      first.close();
    }
    assert.deepEqual(free, [...PER_OPEN_OPTIONS]);
  });

  it('engineOptionValues fills in the defaults, so an option given as its default matches one left out', () => {
    const have = engineOptionValues({ syncMode: 'full' });
    assert.equal(have.cacheSize, 64 * 2 ** 20);
    assert.equal(have.syncMode, 'full');
    assert.equal(have.backgroundCheckpoint, true);
    assert.ok(!('pageSize' in have) && !('readOnly' in have));
    assert.equal(engineOptionMismatch(have, { syncMode: 'full', cacheSize: 64 * 2 ** 20, pageSize: 8192 }), null);
    assert.equal(engineOptionMismatch(have, {}), "option syncMode 'full', and this open asks for 'normal'");
    assert.equal(engineOptionMismatch(have, { syncMode: 'full', cacheSize: 1 }), `option cacheSize ${64 * 2 ** 20}, and this open asks for 1`);
    assert.equal(engineOptionMismatch(have, { syncMode: 'full', mmapBounded: true }), 'option mmapBounded false, and this open asks for true');
  });
});
