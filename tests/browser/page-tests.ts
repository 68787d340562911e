/**
 * page-tests.ts — the main-thread promise API (js/browser/index.ts): every
 * call crosses to the database Worker and back. Runs in the test page;
 * results are returned to the runner (run.mjs).
 */
import { install, run, type Results } from './harness.js';
import { destroy, LightningDbError, open, type RemoteDatabase } from '../../js/browser/index.js';

declare const describe: (t: string, f: () => void) => void;
declare const it: (t: string, f: () => unknown) => void;
declare const afterEach: (f: () => unknown) => void;

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);

function assert(c: unknown, msg: string): asserts c {
  if (!c) throw new Error(msg);
}
function eq(a: unknown, e: unknown, msg = ''): void {
  if (JSON.stringify(a) !== JSON.stringify(e)) throw new Error(`${msg} expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`);
}
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TypeError) return 'TypeError';
    assert(e instanceof LightningDbError, `not a LightningDbError: ${String(e)}`);
    return e.code;
  }
  return 'OK';
}

let n = 0;
const open_: RemoteDatabase[] = [];
async function fresh(options: Record<string, unknown> = {}): Promise<RemoteDatabase> {
  const name = `page-test-${Date.now()}-${++n}`;
  const db = await open(name, options);
  open_.push(db);
  return db;
}

function define(): void {
  afterEach(async () => {
    for (const db of open_.splice(0)) await db.close();
  });

  describe('main-thread API', () => {
    it('put/get/has/delete return promises with Uint8Array values', async () => {
      const db = await fresh();
      await db.put(b('a'), b('1'));
      const v = await db.get(b('a'));
      assert(v instanceof Uint8Array, 'value should be a Uint8Array');
      eq(dec.decode(v as Uint8Array), '1');
      eq(await db.has(b('a')), true);
      await db.delete(b('a'));
      eq(await db.get(b('a')), undefined);
      eq(await db.has(b('a')), false);
    });

    it('utf8 and json encodings, batches and getBatch', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'json' });
      await db.putBatch([['x', { n: 1 }], ['y', [1, 2]]]);
      await db.batch([{ type: 'put', key: 'z', value: 'zz' }, { type: 'del', key: 'x' }]);
      eq(await db.getBatch(['x', 'y', 'z']), [undefined, [1, 2], 'zz']);
      await db.putAsync('w', true);
      await db.flushAsync();
      eq(await db.get('w'), true);
    });

    it('scans stream as async iterables in chunks (forward, reverse, limit, prefix, early exit)', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < 1500; i++) pairs.push([`k${String(i).padStart(5, '0')}`, `v${i}`]);
      await db.putBatch(pairs);
      await db.put('other', 'o');
      let count = 0;
      let last = '';
      for await (const [k] of db.scan({ prefix: 'k' })) {
        assert((k as string) > last, 'keys out of order');
        last = k as string;
        count++;
      }
      eq(count, 1500);
      const rev: string[] = [];
      for await (const [k] of db.scan({ reverse: true, limit: 3 })) rev.push(k as string);
      eq(rev, ['other', 'k01499', 'k01498']);
      let seen = 0;
      for await (const _ of db.scan()) if (++seen === 10) break; // early exit closes the worker iterator
      eq(seen, 10);
      const keys: string[] = [];
      for await (const k of db.keys({ gte: 'k00010', lt: 'k00013' })) keys.push(k as string);
      eq(keys, ['k00010', 'k00011', 'k00012']);
      const m = await db.metrics();
      eq(m.activeSnapshots, 0, 'snapshots left open:');
    });

    it('transactions commit, abort on throw, and retry on conflict', async () => {
      const db = await fresh({ keyEncoding: 'utf8', valueEncoding: 'json' });
      await db.put('n', 0);
      await db.transaction(async (tx) => {
        const v = (await tx.get('n')) as number;
        await tx.put('n', v + 1);
      });
      eq(await db.get('n'), 1);
      let thrown: unknown;
      try {
        await db.transaction(async (tx) => {
          await tx.put('n', 100);
          throw new Error('no');
        });
      } catch (e) {
        thrown = e;
      }
      assert(thrown instanceof Error && thrown.message === 'no', `fn's error should be rethrown, got ${String(thrown)}`);
      eq(await db.get('n'), 1);
      // Conflict: a write between this transaction's read and its commit.
      let attempts = 0;
      await db.transaction(async (tx) => {
        attempts++;
        const v = (await tx.get('n')) as number;
        if (attempts === 1) await db.put('n', 10);
        await tx.put('n', v + 1);
      }, { retries: 2 });
      eq(attempts, 2);
      eq(await db.get('n'), 11);
      // transactionAsync + a scan inside the transaction sees its own writes.
      const seen = await db.transactionAsync(async (tx) => {
        await tx.put('m1', 'x');
        await tx.delete('n');
        const keys: string[] = [];
        for await (const [k] of tx.scan()) keys.push(k as string);
        return keys;
      });
      eq(seen, ['m1']);
      eq(await db.get('n'), undefined);
      await db.put('n', 11);
      const t1 = await db.beginTransaction();
      await t1.get('n');
      await db.put('n', 50);
      await t1.put('n', 0);
      eq(await code(t1.commit()), 'CONFLICT');
    });

    it('errors cross with their codes', async () => {
      const db = await fresh();
      eq(await code(db.put(new Uint8Array(0), b('x'))), 'INVALID_ARGUMENT');
      eq(await code(db.put(123 as unknown as Uint8Array, b('x'))), 'TypeError');
      const other = await code(open(`page-test-busy-${n}`, {}).then(async (d) => {
        open_.push(d);
        return open(`page-test-busy-${n}`, {}); // same tab, second worker: BUSY
      }));
      eq(other, 'BUSY');
      await db.close();
      eq(await code(db.get(b('a'))), 'CLOSED');
    });

    it('metrics, metricsText and healthCheck', async () => {
      const db = await fresh();
      for (let i = 0; i < 20; i++) await db.put(b(`k${i}`), b('v'));
      await db.get(b('k1'));
      const m = await db.metrics();
      assert((m.puts as number) >= 20, `puts ${m.puts}`);
      assert((m.gets as number) >= 1, `gets ${m.gets}`);
      const text = await db.metricsText();
      assert(/lightningdb_/.test(text) && /# TYPE/.test(text), 'prometheus text');
      const h = await db.healthCheck();
      eq(h.healthy, true);
    });

    it('destroy removes a closed database', async () => {
      const name = `page-test-destroy-${n}`;
      const db = await open(name, { store: 'opfs' });
      await db.put(b('k'), b('v'));
      await db.close();
      await destroy(name, { store: 'opfs' });
      const again = await open(name, { store: 'opfs' });
      eq(await again.get(b('k')), undefined);
      await again.close();
      await destroy(name, { store: 'opfs' });
    });
  });
}

export default async function main(): Promise<Results> {
  install();
  define();
  return run({ timeout: 30000 });
}
