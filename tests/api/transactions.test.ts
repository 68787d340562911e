/* transactions.test.ts — commit/abort, isolation, read-your-writes,
 * optimistic conflicts and retry, read-only snapshots, lifecycle. */
import {
  backendName, cleanup, deepEqual, equal, ok, openDb, text, throwsCode, throwsType, LightningDbError,
  RETRY_BASE_MS, RETRY_CAP_MS, retryBound, retryTimer,
} from './backend.js';

const num = (v: Uint8Array | undefined) => (v === undefined ? undefined : Number(text(v)));

describe(`transactions [${backendName}]`, () => {
  afterEach(cleanup);

  it('transaction(fn) commits when fn returns and returns its result', () => {
    const db = openDb();
    const r = db.transaction((tx) => {
      tx.put('a', '1');
      tx.put('b', '2');
      return 'done';
    });
    equal(r, 'done');
    equal(text(db.get('a')), '1');
    equal(text(db.get('b')), '2');
  });

  it('transfer funds: balances stay consistent', () => {
    const db = openDb(undefined, { keyEncoding: 'utf8', valueEncoding: 'json' });
    db.put('alice', 100);
    db.put('bob', 50);
    const transfer = (from: string, to: string, amount: number) =>
      db.transaction((tx) => {
        const a = tx.get(from) as number;
        if (a < amount) throw new Error('insufficient funds');
        tx.put(from, a - amount);
        tx.put(to, (tx.get(to) as number) + amount);
      });
    transfer('alice', 'bob', 30);
    equal(db.get('alice'), 70);
    equal(db.get('bob'), 80);
    let err: unknown;
    try {
      transfer('bob', 'alice', 1000);
    } catch (e) {
      err = e;
    }
    equal((err as Error).message, 'insufficient funds');
    equal(db.get('alice') + db.get('bob'), 150);
  });

  it('a throwing fn aborts: nothing is applied and the error propagates', () => {
    const db = openDb();
    const boom = new Error('boom');
    let caught: unknown;
    try {
      db.transaction((tx) => {
        tx.put('a', '1');
        throw boom;
      });
    } catch (e) {
      caught = e;
    }
    equal(caught, boom);
    equal(db.get('a'), undefined);
    equal(db.metrics().activeTransactions, 0);
  });

  it('reads its own writes, including deletes and in scans', () => {
    const db = openDb();
    db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
    const tx = db.beginTransaction();
    tx.put('b', '20');
    tx.delete('c');
    tx.put('d', '4');
    equal(text(tx.get('b')), '20');
    equal(tx.get('c'), undefined);
    equal(tx.has('d'), true);
    deepEqual([...tx.scan()].map(([k, v]) => `${text(k)}=${text(v)}`), ['a=1', 'b=20', 'd=4']);
    deepEqual([...tx.scan({ reverse: true, limit: 2 })].map(([k]) => text(k)), ['d', 'b']);
    deepEqual(tx.getBatch(['a', 'c']).map(num), [1, undefined]);
    equal(text(db.get('b')), '2', 'not visible outside before commit');
    tx.commit();
    equal(text(db.get('b')), '20');
    equal(db.get('c'), undefined);
  });

  it('isolation: a transaction reads its snapshot, not later commits', () => {
    const db = openDb();
    db.put('x', 'old');
    const tx = db.beginTransaction({ readOnly: true });
    db.put('x', 'new');
    db.put('y', 'added');
    equal(text(tx.get('x')), 'old');
    equal(tx.get('y'), undefined);
    deepEqual([...tx.scan()].map(([k]) => text(k)), ['x']);
    tx.commit();
  });

  it('two overlapping transactions: the second commit is a CONFLICT and applies nothing', () => {
    const db = openDb();
    db.put('counter', '0');
    const t1 = db.beginTransaction();
    const t2 = db.beginTransaction();
    t1.put('counter', String(num(t1.get('counter'))! + 1));
    t2.put('counter', String(num(t2.get('counter'))! + 10));
    t2.put('other', 'x');
    t1.commit();
    const e = throwsCode(() => t2.commit(), 'CONFLICT');
    ok(e instanceof LightningDbError);
    equal(num(db.get('counter')), 1);
    equal(db.get('other'), undefined, 'nothing of the conflicting commit applied');
    equal(t2.closed, true, 'a failed commit ends the transaction');
    ok(db.metrics().conflicts >= 1);
  });

  it('a write-only overlap on the same key conflicts too', () => {
    const db = openDb();
    const t1 = db.beginTransaction();
    const t2 = db.beginTransaction();
    t1.put('k', '1');
    t2.put('k', '2');
    t1.commit();
    throwsCode(() => t2.commit(), 'CONFLICT');
    equal(text(db.get('k')), '1');
  });

  it('the CONFLICT message shows the key as text when it is printable UTF-8, else in hex, saying which', () => {
    const db = openDb();
    const conflict = (key: string | Uint8Array) => {
      const t1 = db.beginTransaction();
      const t2 = db.beginTransaction();
      t1.put(key, '1');
      t2.put(key, '2');
      t1.commit();
      return throwsCode(() => t2.commit(), 'CONFLICT').message;
    };
    const tail = ', written by this transaction, was committed by another transaction after its snapshot; retry';
    equal(conflict('c'), `transaction conflict: key "c"${tail}`);
    equal(conflict('caf\u00e9 "q"'), `transaction conflict: key "caf\u00e9 \\"q\\""${tail}`);
    equal(conflict(new Uint8Array([0, 1, 0xff])), `transaction conflict: key 0001ff (hex)${tail}`);
    equal(conflict('x'.repeat(100)), `transaction conflict: key "${'x'.repeat(48)}"... (100 bytes)${tail}`);
  });

  it('disjoint transactions both commit', () => {
    const db = openDb();
    const t1 = db.beginTransaction();
    const t2 = db.beginTransaction();
    t1.put('a', '1');
    t2.put('b', '2');
    equal(t1.get('b'), undefined);
    t1.commit();
    t2.commit();
    equal(text(db.get('a')), '1');
    equal(text(db.get('b')), '2');
  });

  it('retries: fn reruns after a CONFLICT, up to `retries` times', () => {
    const db = openDb();
    db.put('n', '0');
    let attempts = 0;
    const r = db.transaction((tx) => {
      attempts++;
      const n = num(tx.get('n'))!;
      if (attempts === 1) db.put('n', '100'); // a concurrent commit on a key we read
      tx.put('n', String(n + 1));
      return n;
    }, { retries: 3 });
    equal(attempts, 2);
    equal(r, 100);
    equal(num(db.get('n')), 101);
  });

  it('retries exhausted: the CONFLICT is thrown', () => {
    const db = openDb();
    db.put('n', '0');
    let attempts = 0;
    throwsCode(() => db.transaction((tx) => {
      attempts++;
      tx.get('n');
      db.put('n', String(attempts));
      tx.put('n', 'mine');
    }, { retries: 2 }), 'CONFLICT');
    equal(attempts, 3);
    equal(num(db.get('n')), 3);
    attempts = 0;
    throwsCode(() => db.transaction((tx) => {
      attempts++;
      tx.get('n');
      db.put('n', 'x');
      tx.put('n', 'mine');
    }), 'CONFLICT');
    equal(attempts, 1, 'retries defaults to 0');
  });

  it('transactionAsync waits before each rerun (exponential backoff, full jitter); transaction() cannot', async () => {
    const db = openDb();
    db.put('n', '0');
    const events: string[] = [];
    const waits: number[] = [];
    const real = retryTimer.wait;
    retryTimer.wait = (ms: number) => {
      events.push('wait');
      waits.push(ms);
      return real(ms);
    };
    try {
      let attempts = 0;
      await db.transactionAsync(async (tx) => {
        attempts++;
        events.push('attempt');
        const n = num(tx.get('n'))!;
        if (attempts <= 7) db.put('n', String(attempts * 100)); // a concurrent commit on a key we read
        await Promise.resolve();
        tx.put('n', String(n + 1));
      }, { retries: 10 });
      equal(attempts, 8);
      equal(num(db.get('n')), 701);
      deepEqual(events, ['attempt', ...Array.from({ length: 7 }, () => ['wait', 'attempt']).flat()]);
      waits.forEach((ms, i) => {
        const bound = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** i);
        equal(retryBound(i), bound);
        ok(ms >= 0 && ms < bound, `wait ${i}: ${ms} ms not in [0, ${bound})`);
      });
      equal(retryBound(40), RETRY_CAP_MS);
      // the synchronous form reruns at once (it cannot wait)
      events.length = 0;
      attempts = 0;
      db.transaction((tx) => {
        attempts++;
        events.push('attempt');
        tx.get('n');
        if (attempts === 1) db.put('n', 'x');
        tx.put('n', 'mine');
      }, { retries: 2 });
      deepEqual(events, ['attempt', 'attempt']);
    } finally {
      retryTimer.wait = real;
    }
  });

  it('contended transactionAsync calls with retries all succeed', async () => {
    const db = openDb();
    db.put('n', '0');
    let attempts = 0;
    const N = 6;
    await Promise.all(Array.from({ length: N }, () => db.transactionAsync(async (tx) => {
      attempts++;
      const n = num(tx.get('n'))!;
      await new Promise((r) => setTimeout(r, 0)); // the others read the same n meanwhile
      tx.put('n', String(n + 1));
    }, { retries: 20 })));
    equal(num(db.get('n')), N);
    ok(attempts > N, `they collided (${attempts} attempts)`);
  });

  it('abort discards writes; abort is idempotent', () => {
    const db = openDb();
    const tx = db.beginTransaction();
    tx.put('a', '1');
    tx.abort();
    tx.abort();
    equal(db.get('a'), undefined);
    equal(tx.closed, true);
  });

  it('using a transaction after commit or abort throws CLOSED', () => {
    const db = openDb();
    for (const end of ['commit', 'abort'] as const) {
      const tx = db.beginTransaction();
      tx.put('a', '1');
      tx[end]();
      throwsCode(() => tx.get('a'), 'CLOSED');
      throwsCode(() => tx.has('a'), 'CLOSED');
      throwsCode(() => tx.put('a', '2'), 'CLOSED');
      throwsCode(() => tx.delete('a'), 'CLOSED');
      throwsCode(() => tx.scan(), 'CLOSED');
      throwsCode(() => tx.commit(), 'CLOSED');
      tx.abort();
    }
  });

  it('a scan of a transaction ends when the transaction ends (next() throws CLOSED)', () => {
    const db = openDb();
    db.putBatch([['a', '1'], ['b', '2'], ['c', '3']]);
    const tx = db.beginTransaction();
    const it = tx.scan();
    equal(text(it.next().value[0]), 'a');
    tx.commit();
    throwsCode(() => it.next(), 'CLOSED');
    equal(db.metrics().activeSnapshots, 0);
  });

  it('read-only transactions: writes are READ_ONLY, commit never conflicts', () => {
    const db = openDb();
    db.put('a', '1');
    const tx = db.beginTransaction({ readOnly: true });
    equal(tx.readOnly, true);
    throwsCode(() => tx.put('a', '2'), 'READ_ONLY');
    throwsCode(() => tx.delete('a'), 'READ_ONLY');
    tx.get('a');
    db.put('a', '3');
    tx.commit();
  });

  it('transaction() with an async callback is a TypeError (use transactionAsync)', () => {
    const db = openDb();
    throwsType(() => db.transaction(async (tx) => tx.put('a', '1')));
    equal(db.get('a'), undefined);
    equal(db.metrics().activeTransactions, 0);
  });

  it('transaction() where fn ends the transaction itself', () => {
    const db = openDb();
    db.transaction((tx) => {
      tx.put('a', '1');
      tx.abort();
    });
    equal(db.get('a'), undefined);
    db.transaction((tx) => {
      tx.put('b', '1');
      tx.commit();
    });
    equal(text(db.get('b')), '1');
  });

  it('bad arguments', () => {
    const db = openDb();
    throwsType(() => db.transaction('nope' as never));
    throwsType(() => db.transaction(() => 1, 'x' as never));
    throwsType(() => db.transaction(() => 1, { retries: '2' } as never));
    throwsCode(() => db.transaction(() => 1, { retries: -1 }), 'INVALID_ARGUMENT');
    throwsType(() => db.beginTransaction({ readOnly: 1 } as never));
  });
});
