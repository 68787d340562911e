/**
 * shared.mjs — the `shared` suite of tests/browser/run.mjs: several tabs
 * open one database (issue 11). One tab's Worker owns it, the others are
 * clients (a dedicated Worker can be one too); the owner is closed,
 * reloaded, crashed (CDP Page.crash), its Worker terminated and its page
 * navigated away, and the tests check what every tab saw.
 *
 * LDB_SHARED_CYCLES (default 20) sets the owner changes of the chaos test,
 * LDB_SHARED_STORE (default opfs) its store.
 */

const within = (p, ms, what) => Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`HUNG: ${what} did not finish within ${ms} ms`)), ms))]);

/** Runs in every test page before its scripts: records the Workers it
 * starts (to terminate the owner's) and a writer loop the tests start. */
function pageInit() {
  const RealWorker = window.Worker;
  window.__workers = [];
  window.Worker = class extends RealWorker {
    constructor(...a) {
      super(...a);
      window.__workers.push(this);
    }
  };
  /** Speaks the protocol (js/browser/protocol.ts) as another tab's
   * client of database channel `base` (utf8 keys and values) would:
   * send(req) resolves with the owner's reply; close() ends the client. */
  window.protocolClient = async (base) => {
    const ctrl = new BroadcastChannel(`${base}:ctrl`);
    const owner = await new Promise((res) => {
      ctrl.onmessage = (ev) => ev.data?.t === 'owner' && res(ev.data);
      ctrl.postMessage({ t: 'who' });
    });
    const client = `test${Math.random().toString(16).slice(2)}`;
    let release;
    await new Promise((res) => navigator.locks.request(`${base}:c:${client}`, () => { res(); return new Promise((r2) => (release = r2)); }));
    const to = new BroadcastChannel(`${base}:o:${owner.id}`);
    const replies = new BroadcastChannel(`${base}:c:${client}`);
    const waiting = new Map();
    replies.onmessage = (ev) => waiting.get(ev.data.id)?.(ev.data);
    const send = (req) => new Promise((res) => {
      waiting.set(req.id, res);
      to.postMessage({ from: client, enc: JSON.stringify(['utf8', 'utf8']), req });
    });
    const close = () => {
      release();
      to.close(); replies.close(); ctrl.close();
    };
    return { send, close };
  };
  /** Writes until window.__stop: puts of unique keys and, every 4th, a
   * counter transaction that also writes inc:<tab>:<op id> (op id fixed
   * across reruns: a transaction applied twice would count twice with one
   * inc key). Reports every acknowledgement with window.ack(). */
  window.startWriter = async (tag, name, opts) => {
    window.__stop = false;
    window.lastPut = null;
    const { open } = window.lib;
    let db;
    try {
      db = await open(name, opts);
    } catch (e) {
      await window.ack('error', `${tag} open: ${e.code} ${e.message}`);
      return 0;
    }
    window.db = db;
    let n = 0;
    const value = 'v'.repeat(200);
    while (!window.__stop) {
      n++;
      try {
        if (n % 4 === 0) {
          const op = `${tag}-${n}`;
          await db.transaction(async (tx) => {
            const c = (await tx.get(`count:${tag}`)) ?? 0;
            await tx.put(`count:${tag}`, c + 1);
            await tx.put(`inc:${tag}:${op}`, 1);
          }, { retries: 5 });
          await window.ack('inc', `inc:${tag}:${op}`);
        } else if (n % 4 === 2 && window.lastPut) {
          // Reads too: the last acknowledged put of this tab is there.
          const v = await db.get(window.lastPut);
          if (v !== value) await window.ack('error', `${tag} read ${window.lastPut}: ${JSON.stringify(v)?.slice(0, 40)}`);
        } else {
          const key = `k:${tag}:${n}`;
          await db.put(key, value);
          window.lastPut = key;
          await window.ack('put', key);
        }
      } catch (e) {
        if (window.__stop && e.code === 'CLOSED') break;
        await window.ack('error', `${tag} ${e.code} ${e.message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return n;
  };
}

export function sharedChecks({ context, newPage, assert, base }) {
  const pages = [];
  const NAME = 'shared-db';
  // The store of the owner chaos test: LDB_SHARED_STORE=indexeddb runs it there.
  const STORE = process.env.LDB_SHARED_STORE ?? 'opfs';
  const opts = { store: STORE, syncMode: 'full', keyEncoding: 'utf8', valueEncoding: 'json' };
  const open = (page, name, o) => page.evaluate(async ([name, o]) => {
    window.db = await window.lib.open(name, o);
    return window.db.isOwner;
  }, [name, o]);
  const isOwner = (page) => page.evaluate(() => !!window.db && window.db.isOwner);
  const ownerPage = async () => {
    for (const p of pages) if (!p.isClosed() && await isOwner(p).catch(() => false)) return p;
    return null;
  };
  /** Where the pages' acknowledgements go (each test sets it). */
  let onAck = () => {};
  async function tab() {
    const p = await newPage();
    await p.exposeFunction('ack', (kind, key) => onAck(kind, key));
    await p.evaluate(pageInit);
    pages.push(p);
    return p;
  }
  /** Waits until some open tab's Worker owns the database. */
  async function waitOwner(ms = 15000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const p = await ownerPage();
      if (p) return p;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no tab became the owner within ${ms} ms`);
  }

  const list = [
    ['two tabs share one database: the second is a client (over BroadcastChannel), reads and writes with its own encodings', async () => {
      const a = await tab();
      const b = await tab();
      await a.evaluate(async (n) => {
        await window.lib.destroy(n, { store: 'opfs' });
      }, 'share-2');
      assert(await open(a, 'share-2', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'json' }) === true, 'the first tab owns it');
      // This client has no SharedWorker: its calls go over BroadcastChannel.
      await b.evaluate(() => { window.SharedWorker = undefined; });
      assert(await open(b, 'share-2', { store: 'opfs' }) === false, 'the second tab is a client');
      const r = await b.evaluate(async () => {
        const e = new TextEncoder();
        const d = new TextDecoder();
        await window.db.put(e.encode('from-b'), e.encode('"bee"'));
        await window.db.putBatch([[e.encode('x1'), e.encode('1')], [e.encode('x2'), e.encode('2')]]);
        const keys = [];
        for await (const [k] of window.db.scan()) keys.push(d.decode(k));
        let reserved;
        try {
          await window.db.put(new Uint8Array(9).fill(255), e.encode('x'));
        } catch (err) {
          reserved = err.code;
        }
        return { keys, reserved };
      });
      const fromA = await a.evaluate(async () => [await window.db.get('from-b'), await window.db.get('x2')]);
      assert(fromA[0] === 'bee' && fromA[1] === 2, `the owner reads the client's writes decoded as json: ${JSON.stringify(fromA)}`);
      assert(JSON.stringify(r.keys) === JSON.stringify(['from-b', 'x1', 'x2']), `a client's scan sees user keys only (no request records): ${r.keys}`);
      assert(r.reserved === 'INVALID_ARGUMENT', `a reserved key is refused: ${r.reserved}`);
      // metrics() of both tabs: the owner's, with heapBytes, counting the
      // tabs' calls (1 put, a batch of 2 and the owner's 2 gets), not the
      // request records (one per write) nor the owner's epoch.
      const COUNTERS = ['gets', 'puts', 'deletes', 'batches', 'commits', 'heapBytes'];
      const seen = [];
      for (const p of [a, b]) {
        seen.push(await p.evaluate(async (c) => {
          await new Promise((res) => setTimeout(res, 300)); // the owner drops acknowledged records meanwhile
          const m = await window.db.metrics();
          return { fields: Object.keys(m).sort().join(), ...Object.fromEntries(c.map((k) => [k, m[k]])) };
        }, COUNTERS));
      }
      for (const [i, m] of seen.entries()) {
        const tabName = i === 0 ? 'owner tab' : 'client tab';
        assert(m.fields === seen[0].fields && m.fields.includes('heapBytes') && m.heapBytes > 0, `${tabName} metrics(): ${JSON.stringify(m)}`);
        const { fields, heapBytes, ...counts } = m;
        assert(JSON.stringify(counts) === JSON.stringify({ gets: 2, puts: 3, deletes: 0, batches: 1, commits: 2 }),
          `${tabName} metrics() counters count the tabs' calls: ${JSON.stringify(counts)}`);
      }
      await a.evaluate(() => window.db.close());
      // The client's next call reaches the new owner: its own Worker.
      const after = await b.evaluate(async () => {
        const e = new TextEncoder();
        await window.db.put(e.encode('after'), e.encode('"1"'));
        return { owner: window.db.isOwner, v: new TextDecoder().decode(await window.db.get(e.encode('x1'))) };
      });
      assert(after.owner === true && after.v === '1', `after the owner closed, the client owns it: ${JSON.stringify(after)}`);
      await b.evaluate(() => window.db.close());
    }],

    ["a dedicated Worker joins a tab's shared database with open() (a client), and takes it over when that tab closes", async () => {
      const a = await tab();
      const b = await tab();
      await a.evaluate(async () => {
        await window.lib.destroy('share-w', { store: 'opfs' });
        window.db = await window.lib.open('share-w', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'utf8' });
        await window.db.put('from-tab', 'a');
      });
      // A module Worker of tab b; it loads the library by its URL.
      await b.evaluate(() => {
        const src = `
          const lib = await import(${JSON.stringify(new URL('/build/browser-tests/index.js', location.href).href)});
          let db;
          onmessage = async (ev) => {
            try {
              if (ev.data === 'open') db = await lib.open('share-w', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'utf8' });
              else if (ev.data === 'close') await db.close();
              else await db.put('from-worker-' + ev.data, ev.data);
              postMessage({ owner: db.isOwner, tab: await db.get('from-tab'), keys: await db.count() });
            } catch (e) {
              postMessage({ error: e.code + ' ' + e.message });
            }
          };
          postMessage('ready');`;
        const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), { type: 'module' });
        window.ask = (m) => new Promise((res) => { w.onmessage = (ev) => res(ev.data); w.postMessage(m); });
        window.workerReady = new Promise((res) => { w.onmessage = () => res(); });
      });
      await within(b.evaluate(() => window.workerReady), 15000, 'the Worker loading the library');
      const opened = await within(b.evaluate(() => window.ask('open')), 15000, "the Worker's open()");
      assert(opened.owner === false && opened.tab === 'a' && opened.keys === 1, `the Worker is a client of tab a's database: ${JSON.stringify(opened)}`);
      const wrote = await within(b.evaluate(() => window.ask('1')), 15000, "the Worker's put");
      assert(wrote.keys === 2, `the Worker's put: ${JSON.stringify(wrote)}`);
      assert(await a.evaluate(() => window.db.get('from-worker-1')) === '1', "tab a reads the Worker's write");
      // Tab a goes away: the Worker's own database Worker takes over.
      pages.splice(pages.indexOf(a), 1);
      await a.close();
      const after = await within(b.evaluate(() => window.ask('2')), 15000, "the Worker's put after tab a closed");
      assert(after.owner === true && after.keys === 3 && after.tab === 'a', `after the owner tab closed: ${JSON.stringify(after)}`);
      await within(b.evaluate(() => window.ask('close')), 15000, "the Worker's close()");
      pages.splice(pages.indexOf(b), 1);
      await b.close();
    }],

    ["a client tab's open() must ask for the owner's engine options: INVALID_ARGUMENT otherwise, as a second open in one process (per-open options and encodings free)", async () => {
      const a = await tab();
      const b = await tab();
      await a.evaluate(() => window.lib.destroy('share-opts', { store: 'opfs' }));
      const base = { store: 'opfs', syncMode: 'full', cacheSize: 1 << 20 };
      assert(await open(a, 'share-opts', base) === true, 'the first tab owns it');
      await a.evaluate(() => window.db.put(new Uint8Array([1]), new TextEncoder().encode('2')));
      const tryOpen = (o) => b.evaluate(async (o) => {
        try {
          const d = await window.lib.open('share-opts', o);
          const r = { ok: true, owner: d.isOwner, v: await d.get('\x01') };
          await d.close();
          return r;
        } catch (e) {
          return { ok: false, code: e.code, message: e.message };
        }
      }, o);
      const refused = [
        [{ ...base, syncMode: 'off' }, "option syncMode 'full', and this open asks for 'off'"],
        [{ store: 'opfs', syncMode: 'full' }, `option cacheSize ${1 << 20}, and this open asks for ${64 * 2 ** 20}`],
        [{ ...base, compression: 'lz4' }, "option compression 'none', and this open asks for 'lz4'"],
        [{ ...base, logRetentionBytes: 0 }, `option logRetentionBytes ${64 * 2 ** 20}, and this open asks for 0`],
      ];
      for (const [o, differs] of refused) {
        const r = await tryOpen(o);
        assert(!r.ok && r.code === 'INVALID_ARGUMENT' && r.message === `database "share-opts" is already open in another tab or Worker ` +
          `of this site (its owner) with ${differs}; open it with the same engine options or close it there first`, `${JSON.stringify(o)}: ${JSON.stringify(r)}`);
      }
      // The core's per-open options (pageSize: used only when creating,
      // createIfMissing, salvage) and the encodings may differ; a default
      // given matches one left out.
      const joined = await tryOpen({ ...base, pageSize: 8192, createIfMissing: false, salvage: true, mmapSize: 2 ** 40, valueEncoding: 'json' });
      assert(joined.ok && joined.owner === false && joined.v === 2, `a client with the same engine options: ${JSON.stringify(joined)}`);
      // The refused opens left the owner serving.
      assert(await a.evaluate(async () => { await window.db.put('after', 'x'); return window.db.isOwner; }) === true, 'the owner still serves');
      await a.evaluate(() => window.db.close());
      for (const p of [a, b]) {
        pages.splice(pages.indexOf(p), 1);
        await p.close();
      }
    }],

    ['an exclusive holder makes a shared open BUSY at once; a shared owner makes openInWorker-style exclusive opens BUSY', async () => {
      const [a, b] = pages;
      const r = await a.evaluate(async () => {
        const x = await window.lib.open('share-x', { store: 'opfs', exclusive: true });
        window.x = x;
        return 'ok';
      });
      assert(r === 'ok', r);
      const got = await b.evaluate(async () => {
        try {
          await window.lib.open('share-x', { store: 'opfs' });
          return 'opened';
        } catch (e) {
          return `${e.code} ${e.message}`;
        }
      });
      assert(/^BUSY .*exclusive/.test(got), `shared open of an exclusive database: ${got}`);
      await a.evaluate(() => window.x.close());
      const shared = await b.evaluate(async () => {
        window.s = await window.lib.open('share-x', { store: 'opfs' });
        try {
          await window.lib.open('share-x', { store: 'opfs', exclusive: true });
          return 'opened';
        } catch (e) {
          return e.code;
        } finally {
          await window.s.close();
        }
      });
      assert(shared === 'BUSY', `exclusive open of a shared database: ${shared}`);
    }],

    ['a write resent after a hand-off is applied once (request id record), and an unknown retry applies', async () => {
      const [a] = pages;
      const r = await a.evaluate(async () => {
        await window.lib.destroy('share-dedup', { store: 'opfs' });
        const db = await window.lib.open('share-dedup', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'utf8' });
        // Speak the protocol as another tab would.
        const base = 'lightningdb:opfs:share-dedup';
        const { send, close } = await window.protocolClient(base);
        const out = [];
        out.push(await send({ id: 1, rid: 1, op: 'call', method: 'put', args: ['k', 'first'] }));
        out.push(await send({ id: 2, rid: 2, op: 'call', method: 'put', args: ['k', 'second'] }));
        // Request 1 again, as a client does after a hand-off: committed, so not applied.
        out.push(await send({ id: 3, rid: 1, retry: true, op: 'call', method: 'put', args: ['k', 'first'] }));
        const afterRetry = await db.get('k');
        // A retry whose record is absent (never committed) is applied.
        out.push(await send({ id: 4, rid: 7, retry: true, op: 'call', method: 'put', args: ['k2', 'late'] }));
        // A transaction commit resent for a transaction this owner never had.
        out.push(await send({ id: 5, rid: 8, retry: true, op: 'txn', txn: 1, method: 'commit', args: [] }));
        const k2 = await db.get('k2');
        close();
        await db.close();
        return { out, afterRetry, k2 };
      });
      assert(r.out.slice(0, 4).every((x) => x.ok), `replies: ${JSON.stringify(r.out)}`);
      assert(r.afterRetry === 'second', `the resent committed write was applied again: k = ${r.afterRetry}`);
      assert(r.k2 === 'late', `a resent write that never committed is applied: ${r.k2}`);
      assert(r.out[4].ok === false && r.out[4].error.code === 'OWNER_LOST', `resent commit of a lost transaction: ${JSON.stringify(r.out[4])}`);
    }],

    ['the records of writes a client reports acknowledged (forget) are deleted, in a write of their own; the others stay', async () => {
      const [a] = pages;
      const r = await a.evaluate(async () => {
        await window.lib.destroy('share-forget', { store: 'opfs' });
        const db = await window.lib.open('share-forget', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'utf8' });
        const base = 'lightningdb:opfs:share-forget';
        const { send, close } = await window.protocolClient(base);
        const out = [];
        for (let i = 1; i <= 3; i++) out.push(await send({ id: i, rid: i, op: 'call', method: 'put', args: [`k${i}`, 'first'] }));
        // Writes 1 and 2 acknowledged: their records may go (a read carries the list).
        out.push(await send({ id: 4, op: 'call', method: 'get', args: ['k1'], forget: [1, 2] }));
        await new Promise((res) => setTimeout(res, 50));
        // Probes: a resent write is applied when its record is absent.
        for (let i = 1; i <= 3; i++) out.push(await send({ id: 4 + i, rid: i, retry: true, op: 'call', method: 'put', args: [`k${i}`, 'again'] }));
        const vs = [await db.get('k1'), await db.get('k2'), await db.get('k3')];
        close();
        await db.close();
        return { out, vs };
      });
      assert(r.out.every((x) => x.ok), `replies: ${JSON.stringify(r.out)}`);
      assert(JSON.stringify(r.vs) === JSON.stringify(['again', 'again', 'first']),
        `records 1 and 2 deleted after forget, record 3 kept: ${JSON.stringify(r.vs)}`);
    }],

    ["count/clear from a client tab run in the owner's engine; a clear carries its request id (resent: applied once) and never reaches the bookkeeping records", async () => {
      // Tabs of the checks above (new ones when run alone with --grep).
      while (pages.length < 2) await tab();
      const [a, b] = pages;
      await a.evaluate(async () => {
        await window.lib.destroy('share-clear', { store: 'opfs' });
        window.db = await window.lib.open('share-clear', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'utf8' });
        const pairs = [];
        for (let i = 0; i < 40; i++) pairs.push([`c${String(i).padStart(2, '0')}`, `v${i}`]);
        await window.db.putBatch(pairs);
      });
      assert(await open(b, 'share-clear', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'utf8' }) === false, 'b is a client');
      const viaClient = await b.evaluate(async () => {
        const before = await window.db.count({ prefix: 'c' });
        const cleared = await window.db.clear({ gte: 'c10', lt: 'c20' });
        const all = await window.db.count();
        const inTx = await window.db.transaction(async (tx) => {
          const n = await tx.clear({ prefix: 'c3' });
          return [n, await tx.count()];
        });
        return { before, cleared, all, inTx, after: await window.db.count() };
      });
      const onOwner = await a.evaluate(async () => [await window.db.get('c15'), await window.db.get('c09'), await window.db.count()]);
      assert(JSON.stringify(viaClient) === JSON.stringify({ before: 40, cleared: 10, all: 30, inTx: [10, 20], after: 20 }),
        `count/clear through the client: ${JSON.stringify(viaClient)}`);
      assert(onOwner[0] === undefined && onOwner[1] === 'v9' && onOwner[2] === 20, `the owner sees the client's clears: ${JSON.stringify(onOwner)}`);
      // The request id path, as the dedup check above: a clear resent after
      // a hand-off with the rid of a committed clear is not applied again.
      const r = await a.evaluate(async () => {
        const base = 'lightningdb:opfs:share-clear';
        const { send, close } = await window.protocolClient(base);
        const out = [];
        out.push(await send({ id: 1, rid: 1, op: 'call', method: 'clear', args: [{ prefix: 'c0' }] }));
        await window.db.put('c05', 'back');
        out.push(await send({ id: 2, rid: 1, retry: true, op: 'call', method: 'clear', args: [{ prefix: 'c0' }] }));
        const afterRetry = await window.db.get('c05');
        // A clear of everything leaves the records (which the dedup needs).
        out.push(await send({ id: 3, rid: 2, op: 'call', method: 'clear', args: [] }));
        out.push(await send({ id: 4, rid: 1, retry: true, op: 'call', method: 'clear', args: [] }));
        const left = await window.db.count();
        close();
        return { out, afterRetry, left };
      });
      assert(r.out.every((x) => x.ok), `replies: ${JSON.stringify(r.out)}`);
      assert(r.out[0].value === 10, `the first clear deleted c00..c09: ${JSON.stringify(r.out[0])}`);
      assert(r.afterRetry === 'back', `the resent committed clear was applied again: c05 = ${r.afterRetry}`);
      assert(r.out[2].value === 11, `clear() deleted the 11 user keys: ${JSON.stringify(r.out[2])}`);
      assert(r.out[3].value === undefined && r.left === 0, `rid 1's record survived clear(): a resend is still recognised (${JSON.stringify(r)})`);
      await b.evaluate(() => window.db.close());
      await a.evaluate(() => window.db.close());
    }],

    ["a client tab's sub-databases, tx.sub() and scan({ retain }) run in the owner's engine: writes carry their request id (resent: applied once), reserved keys stay out, and a sub-database survives a change of owner", async () => {
      // Tabs of their own: the owner tab is closed at the end.
      const a = await tab();
      const b = await tab();
      await a.evaluate(async () => {
        await window.lib.destroy('share-sub', { store: 'opfs' });
        window.db = await window.lib.open('share-sub', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'utf8' });
        await window.db.sub('users').putBatch([['alice', 'a'], ['bob', 'b']]);
      });
      assert(await open(b, 'share-sub', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'json' }) === false, 'b is a client');
      const viaClient = await b.evaluate(async () => {
        const code = (p) => p.then(() => 'OK', (e) => (e instanceof TypeError ? 'TypeError' : `${e.code}`));
        window.users = window.db.sub('users', { valueEncoding: 'utf8' });
        const counts = window.db.sub('counts');
        await counts.put('n', 1);
        await window.db.transaction(async (tx) => {
          const c = tx.sub('counts');
          await c.put('n', (await c.get('n')) + 1);
          await tx.sub(window.users).put('carol', 'c');
        });
        const it = window.users.keys({ retain: true });
        const keys = [];
        for (let r = await it.next(); !r.done; r = await it.next()) keys.push(r.value);
        await it.seek('bob');
        keys.push((await it.next()).value);
        await it.return();
        // A binary sub-database key of 8+ bytes 0xFF is an ordinary key (its
        // stored key begins 0x00 name 0x00, outside the reserved range).
        const bin = window.db.sub('bin', { keyEncoding: 'binary', valueEncoding: 'binary' });
        await bin.put(new Uint8Array(9).fill(255), new Uint8Array([1]));
        const binKeys = [];
        for await (const k of bin.keys()) binKeys.push(k.length);
        const badName = await code(Promise.resolve().then(() => window.db.sub('')));
        return { keys, n: await counts.get('n'), binKeys, badName, cleared: await window.db.sub('counts').clear() };
      });
      assert(JSON.stringify(viaClient) === JSON.stringify({ keys: ['alice', 'bob', 'carol', 'bob'], n: 2, binKeys: [9], badName: 'INVALID_ARGUMENT', cleared: 1 }),
        `sub-databases through the client: ${JSON.stringify(viaClient)}`);
      const onOwner = await a.evaluate(async () => {
        const rootKeys = [];
        for await (const k of window.db.keys()) rootKeys.push(k);
        return { carol: await window.db.sub('users').get('carol'), rootKeys };
      });
      assert(onOwner.carol === 'c', `the owner reads the client's sub-database writes: ${JSON.stringify(onOwner)}`);
      assert(onOwner.rootKeys.every((k) => k.startsWith('\0')) && onOwner.rootKeys.length === 4,
        `the root scan shows the sub-databases' keys under their prefixes and no bookkeeping record: ${JSON.stringify(onOwner.rootKeys)}`);
      // A sub-database write resent after a hand-off with the rid of a
      // committed one is not applied again (the dedup check above, in a
      // sub-database).
      const r = await a.evaluate(async () => {
        const base = 'lightningdb:opfs:share-sub';
        const { send, close } = await window.protocolClient(base);
        const sub = { id: 1, path: [{ name: 'users' }] };
        const out = [];
        out.push(await send({ id: 1, rid: 1, op: 'call', method: 'put', args: ['dave', 'first'], sub }));
        out.push(await send({ id: 2, rid: 2, op: 'call', method: 'put', args: ['dave', 'second'], sub }));
        out.push(await send({ id: 3, rid: 1, retry: true, op: 'call', method: 'put', args: ['dave', 'first'], sub }));
        out.push(await send({ id: 4, rid: 3, retry: true, op: 'call', method: 'put', args: ['erin', 'late'], sub: { path: [{ name: 'users' }] } }));
        out.push(await send({ id: 5, op: 'subClose', sub }));
        const got = [await window.db.sub('users').get('dave'), await window.db.sub('users').get('erin')];
        close();
        return { out, got };
      });
      assert(r.out.every((x) => x.ok), `replies: ${JSON.stringify(r.out)}`);
      assert(r.got[0] === 'second' && r.got[1] === 'late', `a resent committed sub-database write was applied again, or a new one lost: ${JSON.stringify(r.got)}`);
      // The owner tab goes away: the client's sub-database object goes on
      // in the next owner (this tab's own Worker), opened from its path.
      await a.close();
      pages.splice(pages.indexOf(a), 1);
      const after = await b.evaluate(async () => {
        await window.users.put('frank', 'f');
        const keys = [];
        for await (const k of window.users.keys()) keys.push(k);
        return { keys, owner: window.db.isOwner };
      });
      assert(after.owner === true && JSON.stringify(after.keys) === JSON.stringify(['alice', 'bob', 'carol', 'dave', 'erin', 'frank']),
        `after the owner closed: ${JSON.stringify(after)}`);
      await b.evaluate(() => window.db.close());
    }],

    ["a client's transaction and scan across a hand-off: OWNER_LOST, then a retry succeeds", async () => {
      const [a, b] = pages;
      await a.evaluate(async () => {
        await window.lib.destroy('share-txn', { store: 'opfs' });
        window.db = await window.lib.open('share-txn', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'json' });
        const pairs = [];
        for (let i = 0; i < 100; i++) pairs.push([`s${String(i).padStart(3, '0')}`, i]);
        await window.db.putBatch(pairs);
      });
      await b.evaluate(async () => {
        window.db = await window.lib.open('share-txn', { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'json' });
        window.tx = await window.db.beginTransaction();
        await window.tx.put('t', 'in the transaction');
        window.it = window.db.scan({ prefix: 's' });
        window.first = [];
        for (let i = 0; i < 16; i++) window.first.push((await window.it.next()).value[0]);
      });
      assert(!(await isOwner(b)), 'b is a client');
      // The owner tab goes away (closed like a user closes it).
      await a.close();
      const r = await b.evaluate(async () => {
        const code = (p) => p.then(() => 'OK', (e) => `${e.code}`);
        const t0 = performance.now();
        const commit = await code(window.tx.commit());
        const scan = await code(window.it.next());
        const ms = performance.now() - t0;
        const t = await window.db.get('t');
        // Retry both.
        await window.db.transaction(async (tx) => { await tx.put('t', 'retried'); });
        let n = 0;
        for await (const _ of window.db.scan({ prefix: 's' })) n++;
        return { commit, scan, t, after: await window.db.get('t'), n, owner: window.db.isOwner, ms };
      });
      assert(r.commit === 'OWNER_LOST', `commit of a transaction of the lost owner: ${r.commit}`);
      assert(r.scan === 'OWNER_LOST', `scan of the lost owner: ${r.scan}`);
      assert(r.t === undefined, `nothing of the lost transaction committed: ${r.t}`);
      assert(r.after === 'retried' && r.n === 100, `retries: ${JSON.stringify(r)}`);
      pages.splice(pages.indexOf(a), 1);
      await b.evaluate(() => window.db.close());
    }],

    ['a call to an owner whose Worker hangs fails with TIMEOUT within ownerTimeout (client and owner tab); the late write is never applied; calls succeed once it recovers', async () => {
      const a = await tab();
      const b = await tab();
      const o = { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'json', ownerTimeout: 1000 };
      const FAULT = 'share-hang-fault';
      await a.evaluate(async ([o, fault]) => {
        await window.lib.destroy('share-hang', { store: 'opfs' });
        window.db = await window.lib.open('share-hang', { ...o, workerUrl: `/build/browser-tests/test-worker.js?ch=${fault}` });
      }, [o, FAULT]);
      assert(await isOwner(a), 'the first tab owns it');
      await b.evaluate(async (o) => {
        window.db = await window.lib.open('share-hang', o);
        await window.db.put('before', 1);
      }, o);
      assert(!(await isOwner(b)), 'the second tab is a client');
      // The owner's Worker loops for 4 s (acknowledged just before).
      await b.evaluate((fault) => new Promise((res) => {
        const bc = new BroadcastChannel(fault);
        bc.onmessage = (ev) => ev.data?.ack === 1 && (bc.close(), res());
        bc.postMessage({ busyMs: 4000, seq: 1 });
        window.hungAt = performance.now();
      }), FAULT);
      const during = (p, write) => p.evaluate(async (write) => {
        const t0 = performance.now();
        const r = await (write ? window.db.put('during', 1) : window.db.get('before')).then(
          () => ({ ok: true }), (e) => ({ code: e.code, message: e.message }));
        return { ...r, ms: performance.now() - t0 };
      }, write);
      const [put, get, own] = await within(Promise.all([during(b, true), during(b, false), during(a, false)]), 15000, 'calls to a hung owner');
      for (const [what, r] of [['client put', put], ['client get', get], ["owner tab's get", own]]) {
        assert(r.code === 'TIMEOUT', `${what} on a hung owner: ${JSON.stringify(r)}`);
        assert(r.ms >= 950 && r.ms < 2500, `${what}: TIMEOUT after ${r.ms.toFixed(0)} ms (ownerTimeout 1000, ticks of 250)`);
        assert(/ownerTimeout/.test(r.message), `${what}: the message names the option: ${r.message}`);
      }
      assert(/may have been applied/.test(put.message) && /Nothing was changed/.test(get.message), `messages: ${put.message} | ${get.message}`);
      assert(/this tab's database Worker/.test(own.message), `the owner tab's message: ${own.message}`);
      // Once the loop has ended, calls succeed; the write that timed out
      // was refused by the owner (past its deadline), so it is not there.
      const after = await within(b.evaluate(async () => {
        await new Promise((r) => setTimeout(r, Math.max(0, 4300 - (performance.now() - window.hungAt))));
        await window.db.put('after', 2);
        return window.db.getBatch(['before', 'during', 'after']);
      }), 15000, 'calls after the owner recovered');
      assert(JSON.stringify(after) === JSON.stringify([1, null, 2]), `after recovery: ${JSON.stringify(after)} (want [1, null, 2]: 'during' never applied)`);
      assert(await a.evaluate(async () => (await window.db.get('after')) === 2), 'the owner tab reads it too');
      for (const p of [b, a]) {
        await p.evaluate(() => window.db.close());
        pages.splice(pages.indexOf(p), 1);
        await p.close();
      }
    }],

    ['change events reach every tab, in commit order, each once, also across a hand-off', async () => {
      while (pages.length < 3) await tab();
      const [a, b, c] = pages;
      const o = { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'json' };
      await a.evaluate(async (o) => {
        await window.lib.destroy('share-feed', { store: 'opfs' });
        window.db = await window.lib.open('share-feed', o);
      }, o);
      for (const p of [b, c])
        await p.evaluate(async (o) => {
          window.db = await window.lib.open('share-feed', o);
          window.seen = [];
          window.seqs = [];
          window.unsub = window.db.subscribe({ prefix: 'ev:' }, (ch) => {
            window.seqs.push(ch.seq);
            for (const op of ch.ops) window.seen.push(op.key);
          });
          window.feed = window.db.changes({ prefix: 'ev:' });
          window.fromFeed = [];
          window.reading = (async () => {
            for await (const ch of window.feed) for (const op of ch.ops) window.fromFeed.push(op.key);
          })();
          // Both start at the owner, when it registers them ("from now"):
          // a call made after them returns once they are (a tab's calls run
          // in order there), so the writes below come after.
          await window.db.get('other');
        }, o);
      const write = (p, from, to) => p.evaluate(async ([from, to]) => {
        for (let i = from; i < to; i++) await window.db.put(`ev:${String(i).padStart(4, '0')}`, i);
        await window.db.put('other', 1); // out of range: not delivered
      }, [from, to]);
      await write(a, 0, 20);
      await write(c, 20, 40);
      // The owner goes away; the subscriptions resume in the next owner.
      await a.evaluate(() => window.db.close());
      await write(c, 40, 60);
      await write(b, 60, 80);
      const want = Array.from({ length: 80 }, (_, i) => `ev:${String(i).padStart(4, '0')}`);
      for (const p of [b, c]) {
        const r = await within(p.evaluate(async (n) => {
          for (let t = 0; t < 100 && (window.seen.length < n || window.fromFeed.length < n); t++) await new Promise((res) => setTimeout(res, 50));
          window.unsub();
          window.feed.close();
          await window.reading;
          return { seen: window.seen, fromFeed: window.fromFeed, seqs: window.seqs };
        }, want.length), 15000, 'change events');
        const sorted = [...r.seen].sort();
        assert(JSON.stringify(r.seen) === JSON.stringify(want), `subscribe saw ${r.seen.length} keys (want 80, in order, once): ${r.seen.slice(0, 3)}... ${JSON.stringify(sorted) === JSON.stringify(want) ? '(right set, wrong order)' : ''}`);
        assert(JSON.stringify(r.fromFeed) === JSON.stringify(want), `changes() saw ${r.fromFeed.length} keys: ${r.fromFeed.slice(0, 3)}...`);
        assert(r.seqs.every((x, i) => i === 0 || x > r.seqs[i - 1]), 'seqs increase');
      }
      for (const p of [b, c]) await p.evaluate(() => window.db.close());
      pages.splice(pages.indexOf(a), 1);
      await a.close();
    }],

    ...['after', 'before'].map((when) => [`a subscription whose owner went away ${when} registering it misses nothing: every change once, in order (subscribe and changes())`, async () => {
      // Tabs of their own: the owner's Worker is terminated.
      const a = await tab();
      const b = await tab();
      const FAULT = `share-subgap-${when}`;
      const o = { store: 'opfs', keyEncoding: 'utf8', valueEncoding: 'json' };
      const NAME = `share-subgap-${when}`;
      await a.evaluate(async ([o, fault, name]) => {
        await window.lib.destroy(name, { store: 'opfs' });
        window.db = await window.lib.open(name, { ...o, workerUrl: `/build/browser-tests/test-worker.js?ch=${fault}` });
        await window.db.put('ev:old', 0); // before the subscriptions: not delivered
      }, [o, FAULT, NAME]);
      assert(await isOwner(a), 'the first tab owns it');
      assert(await open(b, NAME, o) === false, 'the second tab is a client');
      const fault = (p, msg, until) => p.evaluate(([fault, msg, until]) => new Promise((res) => {
        const bc = new BroadcastChannel(fault);
        bc.onmessage = (ev) => ev.data?.[until] !== undefined && (bc.close(), res());
        bc.postMessage(msg);
      }), [FAULT, msg, until]);
      const subscribe = (p) => p.evaluate(() => {
        window.seen = [];
        window.fromFeed = [];
        window.unsub = window.db.subscribe({ prefix: 'ev:' }, (ch) => { for (const op of ch.ops) window.seen.push(op.key); });
        window.feed = window.db.changes({ prefix: 'ev:' });
        window.reading = (async () => {
          for await (const ch of window.feed) for (const op of ch.ops) window.fromFeed.push(op.key);
        })();
      });
      const write = (p, from, to) => p.evaluate(async ([from, to]) => {
        for (let i = from; i < to; i++) await window.db.put(`ev:${String(i).padStart(4, '0')}`, i);
      }, [from, to]);
      let n = 0;
      if (when === 'after') {
        // The owner registers both subscriptions, then sends nothing more
        // to other tabs (their answers are lost); it commits for its own
        // tab, then its Worker dies.
        await fault(a, { muteAfterSubscribe: true, seq: 1 }, 'ack');
        const muted = fault(a, { seq: 2 }, 'muted');
        await subscribe(b);
        await within(muted, 10000, 'the owner registering a subscription');
        await write(a, 0, 10);
        n = 10;
      } else {
        // The owner hangs: the subscriptions (and b's writes after them)
        // wait in its queue, unregistered, when its Worker dies.
        await fault(a, { busyMs: 5000, seq: 1 }, 'ack');
        await subscribe(b);
        await b.evaluate(() => { window.early = Promise.all([0, 1, 2, 3, 4].map((i) => window.db.put(`ev:${String(i).padStart(4, '0')}`, i))); });
        n = 5;
      }
      await a.evaluate(() => {
        for (const w of window.__workers) w.terminate();
        window.__workers.length = 0;
      });
      if (when === 'before') await within(b.evaluate(() => window.early), 15000, "b's writes after the hand-off");
      await write(b, n, n + 10);
      await write(a, n + 10, n + 20);
      const want = Array.from({ length: n + 20 }, (_, i) => `ev:${String(i).padStart(4, '0')}`);
      const r = await within(b.evaluate(async (n) => {
        for (let t = 0; t < 100 && (window.seen.length < n || window.fromFeed.length < n); t++) await new Promise((res) => setTimeout(res, 50));
        // Nothing more (a change twice) comes later.
        await new Promise((res) => setTimeout(res, 300));
        window.unsub();
        window.feed.close();
        await window.reading;
        return { seen: window.seen, fromFeed: window.fromFeed };
      }, want.length), 15000, 'change events');
      assert(JSON.stringify(r.seen) === JSON.stringify(want), `subscribe saw ${r.seen.length} keys (want ${want.length}, in order, once): ${JSON.stringify(r.seen)}`);
      assert(JSON.stringify(r.fromFeed) === JSON.stringify(want), `changes() saw ${r.fromFeed.length} keys (want ${want.length}): ${JSON.stringify(r.fromFeed)}`);
      for (const p of [b, a]) {
        await p.evaluate(() => window.db.close());
        pages.splice(pages.indexOf(p), 1);
        await p.close();
      }
    }]),

    ['IndexedDB, syncMode normal: the owner tab closed while other tabs write; no write acknowledged to a tab that stays open is lost', async () => {
      // IndexedDB persists asynchronously: a write the owner holds but has
      // not persisted dies with the owner's tab. The closing tab may lose
      // its own last writes (docs/browser.md), but a client tab stays open
      // and must never have been told that such a write succeeded.
      const o = { store: 'indexeddb', keyEncoding: 'utf8', valueEncoding: 'json' }; // syncMode: the default 'normal'
      const name = 'share-idb-normal';
      while (pages.length < 3) await tab();
      const tagOf = new Map(); // page -> tag of its writer
      const acked = new Map(); // key -> tag
      const errors = [];
      onAck = (kind, key) => {
        if (kind === 'error') errors.push(key);
        else acked.set(key, /^(?:k|inc):([^:]+):/.exec(key)?.[1]);
      };
      await pages[0].evaluate(async ([n]) => window.lib.destroy(n, { store: 'indexeddb' }), [name]);
      let tags = 0;
      const start = async (p) => {
        const tag = `n${++tags}`;
        tagOf.set(p, tag);
        await p.evaluate(([tag, n, o]) => { window.writer = window.startWriter(tag, n, o); }, [tag, name, o]);
      };
      for (const p of pages) await start(p);
      const closedTags = new Set();
      for (let round = 0; round < 6; round++) {
        const n = acked.size;
        await within((async () => {
          while (acked.size < n + 30) await new Promise((r) => setTimeout(r, 5));
        })(), 20000, `round ${round}: writes`);
        const owner = await waitOwner();
        closedTags.add(tagOf.get(owner));
        pages.splice(pages.indexOf(owner), 1);
        await owner.close(); // the tab is gone: no close() of the database
        const p = await tab();
        await start(p);
      }
      const mark = acked.size;
      await within((async () => {
        while (acked.size < mark + 10) await new Promise((r) => setTimeout(r, 5));
      })(), 20000, 'writes after the last hand-off');
      for (const p of pages) {
        await within(p.evaluate(async () => {
          window.__stop = true;
          await window.writer.catch(() => {});
        }), 20000, 'stopping a writer');
      }
      // Only the writes of tabs that stayed open (not the closed owners').
      const keys = [...acked].filter(([, tag]) => !closedTags.has(tag)).map(([k]) => k);
      const missing = await within(pages[0].evaluate(async ([keys]) => {
        await window.db.check();
        const vals = await window.db.getBatch(keys);
        return keys.filter((k, i) => vals[i] === undefined);
      }, [keys]), 60000, 'the final check');
      console.log(`    6 owner tabs closed; ${keys.length} writes acknowledged to tabs that stayed open`);
      assert(errors.length === 0, `writers got errors: ${errors.slice(0, 5).join(' | ')}`);
      assert(missing.length === 0, `${missing.length} acknowledged writes of open tabs lost: ${missing.slice(0, 5)}`);
      for (const p of pages) await p.evaluate(() => window.db?.close()).catch(() => {});
    }],

    ...['opfs', 'indexeddb'].map((store) => [`10 rapid reloads of all 5 tabs while they write (syncMode full, ${store}): it opens every time, nothing acknowledged is lost`, async () => {
      const opts = { store, syncMode: 'full', keyEncoding: 'utf8', valueEncoding: 'json' };
      while (pages.length < 5) await tab();
      const acked = new Set();
      const errors = [];
      onAck = (kind, key) => (kind === 'error' ? errors.push(key) : acked.add(key));
      await pages[0].evaluate(async ([n, store]) => window.lib.destroy(n, { store }), ['share-reload', store]);
      let tags = 0;
      for (let round = 0; round < 10; round++) {
        for (const p of pages) {
          const tag = `r${++tags}`;
          await p.evaluate(([tag, o]) => { window.writer = window.startWriter(tag, 'share-reload', o); }, [tag, opts]);
        }
        const n = acked.size;
        await within((async () => {
          while (acked.size < n + 25) await new Promise((r) => setTimeout(r, 10));
        })(), 20000, `round ${round}: writes`);
        await Promise.all(pages.map(async (p) => {
          await p.reload();
          await p.waitForFunction(() => window.ready === true);
          await p.evaluate(pageInit);
        }));
      }
      const keys = [...acked];
      const r = await within(pages[0].evaluate(async ([keys, store]) => {
        const db = await window.lib.open('share-reload', { store, keyEncoding: 'utf8', valueEncoding: 'json' });
        await db.check();
        const vals = await db.getBatch(keys);
        await db.close();
        return keys.filter((k, i) => vals[i] === undefined);
      }, [keys, store]), 60000, 'the final check');
      console.log(`    ${store}: ${keys.length} acknowledged writes over 10 reloads of 5 tabs`);
      // (A writer stopped by a reload ends with its page: no error then.)
      assert(errors.length === 0, `errors: ${errors.slice(0, 5).join(' | ')}`);
      assert(r.length === 0, `${r.length} acknowledged writes lost: ${r.slice(0, 5)}`);
    }]),

    ['5 tabs write while the owner is closed, reloaded, crashed, its Worker terminated and its page navigated away; every acknowledged write is there once, check() passes', async () => {
      const cycles = Number(process.env.LDB_SHARED_CYCLES ?? 20);
      while (pages.length < 5) await tab();
      for (const p of pages) {
        p.on('crash', () => {});
      }
      const acked = new Map(); // key -> kind
      const errors = [];
      let progress = 0;
      onAck = (kind, key) => {
        if (kind === 'error') errors.push(key);
        else {
          acked.set(key, kind);
          progress++;
        }
      };
      await pages[0].evaluate(async ([n, store]) => window.lib.destroy(n, { store }), [NAME, STORE]);
      let tags = 0;
      const start = async (p) => {
        const tag = `t${++tags}`;
        await p.evaluate(([tag, name, o]) => { window.writer = window.startWriter(tag, name, o); }, [tag, NAME, opts]);
      };
      for (const p of pages) await start(p);
      await waitOwner();
      const actions = ['close', 'reload', 'crash', 'terminate', 'navigate'];
      const log = [];
      for (let c = 0; c < cycles; c++) {
        // Some writing first, at a random moment.
        const before = progress;
        await within((async () => {
          while (progress < before + 20) await new Promise((r) => setTimeout(r, 10));
        })(), 20000, `cycle ${c}: tabs writing`);
        await new Promise((r) => setTimeout(r, Math.random() * 150));
        const owner = await waitOwner();
        const action = (process.env.LDB_SHARED_ACTIONS?.split(',') ?? actions)[c % (process.env.LDB_SHARED_ACTIONS?.split(',') ?? actions).length];
        if (process.env.LDB_TEST_VERBOSE) console.log(`    cycle ${c}: ${action}...`);
        log.push(action);
        const t0 = Date.now();
        if (action === 'close') {
          await within(owner.evaluate(async () => {
            window.__stop = true;
            await window.db.close();
            await window.writer.catch(() => {});
          }), 15000, 'closing the owner');
          await start(owner);
        } else if (action === 'reload' || action === 'navigate') {
          // (navigate: away to another page of the site, then that page
          // loads the library and writes again.)
          if (action === 'reload') await owner.reload();
          else await owner.goto(`${base}/tests/browser/index.html?away=${c}`);
          await owner.waitForFunction(() => window.ready === true);
          await owner.evaluate(pageInit);
          await start(owner);
        } else if (action === 'crash') {
          const s = await context.newCDPSession(owner);
          const crashed = new Promise((r) => owner.once('crash', r));
          // (Page.crash never answers: the page is gone.)
          s.send('Page.crash').catch(() => {});
          await within(crashed, 10000, 'crashing the owner page');
          pages.splice(pages.indexOf(owner), 1);
          await owner.close().catch(() => {});
          const p = await tab();
          await start(p);
        } else {
          // The owner's Worker dies; the tab lives on as a client.
          await owner.evaluate(() => {
            for (const w of window.__workers) w.terminate();
            window.__workers.length = 0;
          });
        }
        // The others go on: new acknowledgements within the bound.
        const mark = progress;
        await within((async () => {
          while (progress < mark + 10) await new Promise((r) => setTimeout(r, 10));
        })(), 20000, `cycle ${c} (${action}): writes after the hand-off`);
        log.push(`${Date.now() - t0}ms`);
        if (process.env.LDB_TEST_VERBOSE) console.log(`    cycle ${c}: ${action}, writes again after ${Date.now() - t0} ms`);
      }
      for (const p of pages) {
        await within(p.evaluate(async () => {
          window.__stop = true;
          await window.writer.catch(() => {});
        }), 20000, 'stopping a writer').catch(async (e) => {
          // With LDB_TRACE=1: what every tab's calls wait for.
          const states = await Promise.all(pages.map((q) => q.evaluate(() => globalThis.LDB_TRACE_STATE?.() ?? []).catch(() => [])));
          throw new Error(`${e.message}${states.flat().map((l) => `\n  ${l}`).join('')}`);
        });
      }
      const keys = [...acked.keys()];
      const r = await within(pages[0].evaluate(async ([keys, name]) => {
        const db = window.db;
        await db.check();
        const vals = await db.getBatch(keys);
        const missing = keys.filter((k, i) => vals[i] === undefined);
        // Transactions applied once: every tab's counter equals its inc keys.
        const counts = {};
        const incs = {};
        for await (const [k, v] of db.scan()) {
          const m = /^(count|inc):(t\d+)/.exec(k);
          if (!m) continue;
          if (m[1] === 'count') counts[m[2]] = v;
          else incs[m[2]] = (incs[m[2]] ?? 0) + 1;
        }
        const twice = Object.keys({ ...counts, ...incs }).filter((t) => (counts[t] ?? 0) !== (incs[t] ?? 0))
          .map((t) => `${t}: count ${counts[t]} vs ${incs[t]} inc keys`);
        return { missing, twice, name };
      }, [keys, NAME]), 60000, 'the final check');
      console.log(`    ${cycles} owner changes (${log.join(' ')}); ${keys.length} acknowledged writes; ${errors.length} errors seen by writers`);
      // Every call is retried across the hand-offs (or, for a transaction,
      // rerun): a writer sees no error at all.
      assert(errors.length === 0, `writers got errors: ${errors.slice(0, 5).join(' | ')}`);
      assert(r.missing.length === 0, `${r.missing.length} acknowledged writes missing: ${r.missing.slice(0, 5)}`);
      assert(r.twice.length === 0, `transactions applied twice: ${r.twice.join('; ')}`);
      for (const p of pages) await p.evaluate(() => window.db?.close()).catch(() => {});
      for (const p of pages) await p.close().catch(() => {});
      pages.length = 0;
    }],
  ];
  return list;
}
