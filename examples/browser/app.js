// The example page: every call goes to the database Worker and back.
import { open } from '../../dist/esm/browser/index.js';

const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();
const dec = new TextDecoder();
let db = null;
let timer = null;

function log(msg, isErr = false) {
  const line = document.createElement('div');
  line.textContent = `${new Date().toLocaleTimeString()} ${msg}`;
  if (isErr) line.className = 'err';
  $('log').prepend(line);
}
function guard(fn) {
  return async () => {
    try {
      await fn();
    } catch (e) {
      log(`${e.code ? `[${e.code}] ` : ''}${e.message}`, true);
    }
  };
}
// The buttons that use the database (data-db) are enabled only while it is
// open: after open() resolved, until close().
function setOpen(on) {
  $('open').disabled = on;
  $('close').disabled = !on;
  for (const b of document.querySelectorAll('button[data-db]')) b.disabled = !on;
  // db.store: the store actually used ('auto' picks OPFS when it works here);
  // db.isOwner: whether this tab's Worker owns the shared database (open the
  // page in several tabs: one owns it, the others are clients; close the
  // owner tab and another takes over).
  $('status').textContent = on ? `open (${db?.store ?? $('store').value}, ${db?.isOwner ? 'owner tab' : 'client tab'})` : 'closed';
}

$('open').onclick = guard(async () => {
  $('status').textContent = $('wait').checked ? 'waiting for the other tab...' : 'opening...';
  try {
    db = await open($('name').value, { store: $('store').value, waitForLock: $('wait').checked });
  } catch (e) {
    $('status').textContent = 'closed';
    throw e;
  }
  setOpen(true);
  log(`opened "${$('name').value}"`);
  timer = setInterval(guard(async () => {
    setOpen(true);
    await showMetrics();
  }), 1000);
});
$('close').onclick = guard(async () => {
  clearInterval(timer);
  const d = db;
  db = null;
  setOpen(false);
  await d.close();
  log('closed');
});
$('put').onclick = guard(async () => {
  await db.putAsync(enc.encode($('key').value), enc.encode($('value').value));
  log(`put ${$('key').value} (durable)`);
});
$('get').onclick = guard(async () => {
  const v = await db.get(enc.encode($('key').value));
  log(`get ${$('key').value} -> ${v === undefined ? 'undefined' : JSON.stringify(dec.decode(v))}`);
});
$('del').onclick = guard(async () => {
  await db.delete(enc.encode($('key').value));
  log(`deleted ${$('key').value}`);
});
$('fill').onclick = guard(async () => {
  const t0 = performance.now();
  const pairs = [];
  for (let i = 0; i < 10000; i++) pairs.push([enc.encode(`item:${String(i).padStart(5, '0')}`), enc.encode(`value ${i} ${'x'.repeat(50)}`)]);
  await db.putBatch(pairs);
  log(`10,000 keys in ${(performance.now() - t0).toFixed(0)} ms`);
});
$('scan').onclick = guard(async () => {
  const opts = { limit: Number($('limit').value) || 20, reverse: $('reverse').checked };
  if ($('prefix').value) opts.prefix = enc.encode($('prefix').value);
  const lines = [];
  for await (const [k, v] of db.scan(opts)) lines.push(`${dec.decode(k)} = ${dec.decode(v).slice(0, 60)}`);
  $('scanout').textContent = lines.join('\n') || '(nothing)';
});
$('accounts').onclick = guard(async () => {
  await db.batch([{ type: 'put', key: enc.encode('acct:a'), value: enc.encode('100') },
                  { type: 'put', key: enc.encode('acct:b'), value: enc.encode('100') }]);
  log('accounts created');
});
$('transfer').onclick = guard(async () => {
  let attempt = 0;
  const lines = [];
  await db.transaction(async (tx) => {
    attempt++;
    const a = Number(dec.decode(await tx.get(enc.encode('acct:a'))));
    const b = Number(dec.decode(await tx.get(enc.encode('acct:b'))));
    lines.push(`attempt ${attempt}: read a=${a} b=${b}`);
    // Another writer changes "a" after we read it: our commit must conflict.
    if (attempt === 1) {
      await db.put(enc.encode('acct:a'), enc.encode(String(a + 1)));
      lines.push('  (a concurrent write added 1 to a)');
    }
    await tx.put(enc.encode('acct:a'), enc.encode(String(a - 10)));
    await tx.put(enc.encode('acct:b'), enc.encode(String(b + 10)));
  }, { retries: 3 });
  const a = dec.decode(await db.get(enc.encode('acct:a')));
  const b = dec.decode(await db.get(enc.encode('acct:b')));
  lines.push(`committed after ${attempt} attempt(s): a=${a} b=${b}`);
  $('txout').textContent = lines.join('\n');
});

async function showMetrics() {
  if (!db) return;
  const m = await db.metrics();
  const rows = [
    ['ops/s (last interval / since open)', `${Math.round(m.opsPerSec.lastInterval)} / ${Math.round(m.opsPerSec.sinceOpen)}`],
    ['gets / puts / deletes', `${m.gets} / ${m.puts} / ${m.deletes}`],
    ['commits / conflicts / aborts', `${m.commits} / ${m.conflicts} / ${m.aborts}`],
    ['cache hit rate', `${((m.cacheHitRate ?? 0) * 100).toFixed(1)} %`],
    ['get latency p50 / p99 (µs)', `${m.latency?.get?.p50?.toFixed?.(1)} / ${m.latency?.get?.p99?.toFixed?.(1)}`],
    ['commit latency p50 / p99 (µs)', `${m.latency?.commit?.p50?.toFixed?.(1)} / ${m.latency?.commit?.p99?.toFixed?.(1)}`],
    ['memtable bytes', m.memtableBytes],
    ['data file / log bytes', `${m.dataFileSize} / ${m.logFileSize}`],
    ['active transactions / snapshots', `${m.activeTransactions} / ${m.activeSnapshots}`],
  ];
  $('metrics').innerHTML = '';
  for (const [k, v] of rows) {
    const tr = document.createElement('tr');
    tr.innerHTML = '<th></th><td></td>';
    tr.children[0].textContent = k;
    tr.children[1].textContent = String(v);
    $('metrics').append(tr);
  }
}
