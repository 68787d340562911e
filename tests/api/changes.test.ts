/* changes.test.ts — the change feed (db.changes) and subscriptions
 * (db.subscribe): commits in order with their ops, waiting once caught up,
 * ranges, resuming from a since after a reopen, COMPACTED and the other
 * errors, ending by break, close() and the database closing. Shared API
 * suite: imports only backend.ts. */
import {
  backendName, cleanup, deepEqual, equal, nameOf, ok, openDb, reopen, rejectsCode, text, throwsCode, throwsType,
  type Database,
} from './backend.js';

type Row = [number, Array<[string, string, string | undefined]>];

/** Collects the next n changes of db.changes(opts) as rows of text. */
async function take(db: Database, n: number, opts: object): Promise<Row[]> {
  const out: Row[] = [];
  if (n === 0) return out;
  for await (const c of db.changes(opts)) {
    out.push([c.seq, c.ops.map((o: any) => [o.type, text(o.key), o.type === 'put' ? text(o.value) : undefined])]);
    if (out.length === n) break;
  }
  return out;
}

/** Resolves after the event loop turned (a commit signal may then run). */
const tick = () => new Promise((r) => setTimeout(r, 5));

describe(`change feed and subscriptions [${backendName}]`, function () {
  this.timeout(60_000);
  afterEach(cleanup);

  it('yields every commit after since in order, with its ops', async () => {
    const db = openDb();
    db.put('a', '1');
    db.batch([{ type: 'put', key: 'b', value: '2' }, { type: 'del', key: 'a' }]);
    db.transaction((tx) => {
      tx.put('c', '3');
      tx.delete('b');
    });
    db.putBatch([['d', '4'], ['e', '5']]);
    db.delete('c');
    const rows = await take(db, 5, { since: 0 });
    // a transaction's ops come in its own order (sorted here to compare)
    rows[2]![1].sort();
    deepEqual(rows, [
      [1, [['put', 'a', '1']]],
      [2, [['put', 'b', '2'], ['del', 'a', undefined]]],
      [3, [['del', 'b', undefined], ['put', 'c', '3']]],
      [4, [['put', 'd', '4'], ['put', 'e', '5']]],
      [5, [['del', 'c', undefined]]],
    ]);
    // from the middle, and the time of each commit
    const start = Date.now();
    for await (const c of db.changes({ since: 3 })) {
      equal(c.seq, 4);
      ok(Math.abs(c.time - start) < 60_000, `commit time ${c.time} is about now (${start})`);
      break;
    }
  });

  it('has no limit of live feeds and subscriptions per handle (one engine listener)', async () => {
    // Before, each took one of the engine's 64 commit hooks: the 65th
    // threw "BUSY ldb_commit_hook_remove: no such hook".
    const db = openDb();
    const feeds = Array.from({ length: 80 }, () => db.changes());
    const seen: number[] = [];
    const subs = Array.from({ length: 80 }, (_, i) => db.subscribe(undefined, () => seen.push(i)));
    const waits = feeds.map((f) => f.next());
    db.put('a', '1');
    const got = await Promise.all(waits);
    deepEqual(got.map((r) => r.value!.seq), feeds.map(() => 1));
    for (let i = 0; i < 400 && seen.length < 80; i++) await tick();
    equal(seen.length, 80);
    // closing some leaves the others waking up
    for (const f of feeds.slice(0, 40)) f.close();
    for (const u of subs.slice(0, 40)) u();
    const more = feeds.slice(40).map((f) => f.next());
    db.put('b', '2');
    const got2 = await Promise.all(more);
    deepEqual(got2.map((r) => r.value!.seq), more.map(() => 2));
    for (let i = 0; i < 400 && seen.length < 120; i++) await tick();
    equal(seen.length, 120);
    for (const f of feeds) f.close();
    for (const u of subs) u();
    db.put('c', '3');
    for (let i = 0; i < 10; i++) await tick();
    equal(seen.length, 120);
    // and a new one after all closed works
    const again = db.changes();
    const w = again.next();
    db.put('d', '4');
    equal((await w).value!.seq, 4);
    again.close();
  });

  it('waits once caught up and yields new commits as they come', async () => {
    const db = openDb();
    db.put('x', '0');
    const feed = db.changes();
    equal(feed.seq, 1);
    const first = feed.next();
    let settled = false;
    void first.then(() => {
      settled = true;
    });
    await tick();
    equal(settled, false, 'a caught-up feed waits');
    db.put('y', '1');
    const r = await first;
    equal(r.done, false);
    equal(r.value!.seq, 2);
    equal(text(r.value!.ops[0]!.key), 'y');
    // several commits while nobody reads come in order
    for (let i = 0; i < 50; i++) db.put(`k${i}`, String(i));
    for (let i = 0; i < 50; i++) {
      const n = await feed.next();
      equal(n.value!.seq, 3 + i);
      equal(text(n.value!.ops[0]!.value), String(i));
    }
    equal(feed.seq, 52);
    feed.close();
    equal((await feed.next()).done, true);
  });

  it('a pending next() ends when the database closes; breaking out ends the feed', async () => {
    const db = openDb();
    const feed = db.changes();
    const p = feed.next();
    await tick();
    db.close();
    equal((await p).done, true);
    equal((await feed.next()).done, true);
    throwsCode(() => db.changes(), 'CLOSED');

    const db2 = openDb();
    db2.put('a', '1');
    let n = 0;
    for await (const c of db2.changes({ since: 0 })) {
      n += c.ops.length;
      break;
    }
    equal(n, 1);
    // the iterator returned by a for-await break is closed: db2 closes cleanly
    db2.close();
  });

  it('ranges: prefix, gt/gte/lt/lte; commits without ops in range are skipped', async () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.put('a1', 'x');
    db.put('b1', 'x');
    db.batch([{ type: 'put', key: 'a2', value: 'y' }, { type: 'put', key: 'b2', value: 'y' }, { type: 'del', key: 'c1' }]);
    db.put('c2', 'x');
    const keys = async (opts: object, n: number) => {
      const out: Array<[number, string[]]> = [];
      for await (const c of db.changes({ since: 0, ...opts })) {
        out.push([c.seq, c.ops.map((o) => o.key as string)]);
        if (out.length === n) break;
      }
      return out;
    };
    deepEqual(await keys({ prefix: 'b' }, 2), [[2, ['b1']], [3, ['b2']]]);
    deepEqual(await keys({ gt: 'a1', lt: 'c1' }, 2), [[2, ['b1']], [3, ['a2', 'b2']]]);
    deepEqual(await keys({ gte: 'b2', lte: 'c2' }, 2), [[3, ['b2', 'c1']], [4, ['c2']]]);
    // values decoded with the value encoding
    for await (const c of db.changes({ since: 3 })) {
      deepEqual(c.ops, [{ type: 'put', key: 'c2', value: 'x' }]);
      break;
    }
    throwsType(() => db.changes({ since: 0, reverse: true } as object));
    throwsCode(() => db.changes({ since: -1 }), 'INVALID_ARGUMENT');
  });

  it('resumes from any since after a reopen; since out of range is refused', async () => {
    let db = openDb();
    for (let i = 1; i <= 20; i++) db.put(`k${i}`, `v${i}`);
    db = reopen(db);
    const rows = await take(db, 10, { since: 10 });
    deepEqual(rows.map((r) => r[0]), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    deepEqual(rows[0]![1], [['put', 'k11', 'v11']]);
    throwsCode(() => db.changes({ since: 21 }), 'INVALID_ARGUMENT');
    db.put('k21', 'v21');
    deepEqual(await take(db, 1, { since: 20 }), [[21, [['put', 'k21', 'v21']]]]);
  });

  it('since older than the retained log is COMPACTED; metrics show what is retained', async () => {
    const db = openDb(undefined, { logRetentionBytes: 64 * 1024 });
    const v = 'v'.repeat(500);
    // The log drops records only once checkpointed (twice: the older meta
    // page's checkpoint may still need them).
    for (let i = 0; i < 2000; i++) {
      db.put(`key${i}`, v);
      if (i % 500 === 499) db.checkpoint();
    }
    const m = db.metrics();
    ok(m.logRetainedSince > 0, `logRetainedSince ${m.logRetainedSince}`);
    ok(m.logRetainedBytes >= 64 * 1024, `logRetainedBytes ${m.logRetainedBytes}`);
    const err = throwsCode(() => db.changes({ since: 0 }), 'COMPACTED');
    ok(/retain/.test(err.message), err.message);
    const rows = await take(db, 1, { since: m.logRetainedSince });
    equal(rows[0]![0], m.logRetainedSince + 1);
    // the feed off: changes() is refused
    const off = openDb(undefined, { logRetentionBytes: 0 });
    throwsCode(() => off.changes(), 'INVALID_ARGUMENT');
  });

  it('subscribe: called after each commit in order with the ops in range, until unsubscribed', async () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    db.put('before', 'x'); // not delivered: subscriptions start now
    const seen: Array<[number, string[]]> = [];
    const stop = db.subscribe({ prefix: 'u:' }, (c) => {
      seen.push([c.seq, c.ops.map((o) => `${o.type} ${o.key}`)]);
      ok(db.metrics().lastSeq >= c.seq, 'the commit is visible when the subscriber is called');
    });
    db.put('u:1', 'a');
    equal(seen.length, 0, 'never called inside the committing call');
    db.put('other', 'b');
    db.batch([{ type: 'put', key: 'u:2', value: 'c' }, { type: 'del', key: 'u:1' }, { type: 'put', key: 'v', value: 'd' }]);
    for (let i = 0; i < 20 && seen.length < 2; i++) await tick();
    deepEqual(seen, [[2, ['put u:1']], [4, ['put u:2', 'del u:1']]]);
    // nothing after unsubscribe (idempotent)
    stop();
    stop();
    db.put('u:3', 'e');
    await tick();
    await tick();
    equal(seen.length, 2);
    // closing the database ends subscriptions
    const later: number[] = [];
    db.subscribe(undefined, (c) => later.push(c.seq));
    db.put('z', 'z');
    for (let i = 0; i < 20 && later.length < 1; i++) await tick();
    deepEqual(later, [6]);
    db.close();
    throwsType(() => openDb().subscribe(undefined, 'nope' as any));
  });

  it('a feed reads commits made through another handle on the same database', async () => {
    const db = openDb();
    const feed = db.changes();
    const p = feed.next();
    const other = reopenShared(db);
    other.put('from-other', '1');
    const r = await Promise.race([p, new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 10_000))]);
    ok(r !== 'timeout', 'the commit of the other handle woke the feed');
    equal(text((r as IteratorResult<any>).value.ops[0].key), 'from-other');
    feed.close();
    other.close();
  });

  it('a rejected commit is not in the feed', async () => {
    const db = openDb();
    db.put('a', '1');
    await rejectsCode(db.putAsync('k'.repeat(2000), 'x'), 'INVALID_ARGUMENT');
    db.put('b', '2');
    deepEqual((await take(db, 2, { since: 0 })).map((r) => r[0]), [1, 2]);
  });
});

/** A second handle on db's database (handles on one path share an engine). */
function reopenShared(db: Database): Database {
  return openDb(nameOf(db));
}
