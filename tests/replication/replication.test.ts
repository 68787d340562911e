/* replication.test.ts — read replicas over NATS JetStream
 * (lightningdb/replication) against real nats-server processes on
 * 127.0.0.1 that the tests start and stop:
 *  - one server: a follower catches up and stays equal; metrics and the
 *    Prometheus text show the lag; a follower restarted resumes; a new
 *    follower bootstraps from a backup tagged with its seq; a replica
 *    behind the stream's start is refused with COMPACTED; commits gather
 *    into batch messages while publishes are in flight, a commit larger
 *    than a message goes in parts, a commit cut between parts by a dead
 *    publisher is re-sent and applied once, a follower starting inside a
 *    batch message finds its place;
 *  - a 3-node cluster, stream replicas = 3: while the primary commits, one
 *    NATS node and the primary (writer + publisher) and follower processes
 *    are killed with SIGKILL at random moments and restarted; at the end
 *    the replica's full scan equals the primary's, both have the same last
 *    seq and the same feed commit by commit (nothing applied twice or out
 *    of order), and check() passes on both. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { strict as assert } from 'node:assert';
import { LightningDbError, open, type Database } from '../../js/index.js';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { encodeOps, follow, publish, type Follower, type Publisher } from '../../js/replication/index.js';
import { natsServerAvailable, startCluster, type Cluster } from './nats.js';
import { workload } from './workload.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function scanOf(db: Database): string[] {
  return [...db.scan()].map(([k, v]) => `${hex(k)}=${hex(v)}`);
}

async function until(what: string, ms: number, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Both feeds hold the same commits with the same ops, seq by seq. */
async function sameFeeds(a: Database, b: Database, upTo: number): Promise<void> {
  const since = Math.max(a.metrics().logRetainedSince, b.metrics().logRetainedSince);
  const fa = a.changes({ since });
  const fb = b.changes({ since });
  for (let s = since + 1; s <= upTo; s++) {
    const x = (await fa.next()).value;
    const y = (await fb.next()).value;
    assert.equal(x.seq, s);
    assert.equal(y.seq, s);
    assert.deepEqual(y.ops.map((o: any) => [o.type, hex(o.key), o.value && hex(o.value)]),
      x.ops.map((o: any) => [o.type, hex(o.key), o.value && hex(o.value)]), `commit ${s}`);
  }
  fa.close();
  fb.close();
}

describe('replication: the handles publish() and follow() take (no server needed)', () => {
  it('a handle with other encodings or a sub-database is INVALID_ARGUMENT before connecting, saying what to pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldb-repl-handle-'));
    const target = { servers: ['nats://127.0.0.1:1'], stream: 'handles' };
    const json = open(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'json' });
    const binary = open(join(dir, 'db'));
    try {
      for (const [who, start] of [['publish()', publish], ['follow()', follow]] as const) {
        const refused = async (db: unknown, msg: RegExp) => {
          await assert.rejects(start(db as Database, target), (e: unknown) => {
            assert.ok(e instanceof LightningDbError, String(e));
            assert.equal(e.code, 'INVALID_ARGUMENT');
            assert.match(e.message, msg);
            assert.ok(e.message.startsWith(`${who}: `), e.message);
            return true;
          });
        };
        await refused(json, /must use binary keys and values \(the default\), but it has keyEncoding 'utf8' and valueEncoding 'json': open the same path again without keyEncoding\/valueEncoding/);
        await refused(binary.sub('orders'), /the handle is a sub-database \(db\.sub\(\)\); replication copies the whole database/);
        await refused(undefined, /the first argument must be a Database from open\(\), got undefined/);
      }
      assert.equal(json.metrics().replication, undefined, 'nothing was started on the refused handles');
    } finally {
      json.close();
      binary.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const maybe = natsServerAvailable() ? describe : describe.skip;

maybe('replication over NATS JetStream', function () {
  this.timeout(360_000);
  let dir: string;
  let cluster: Cluster | null = null;
  const handles: Array<Database | Publisher | Follower> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ldb-repl-'));
  });
  afterEach(async () => {
    for (const h of handles.splice(0).reverse()) {
      if ('close' in h) await (h as { close(): unknown }).close();
    }
    await cluster?.stop();
    cluster = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('a follower catches up, resumes after a restart, and a new one bootstraps from a backup', async () => {
    cluster = await startCluster(1);
    await cluster.ready();
    const servers = cluster.urls;
    const primary = open(join(dir, 'primary'));
    handles.push(primary);
    for (let i = 1; i <= 200; i++) primary.batch(workload(i));
    const pub = await publish(primary, { servers, stream: 'one' });
    handles.push(pub);
    const replica = open(join(dir, 'replica'));
    handles.push(replica);
    const fol = await follow(replica, { servers, stream: 'one' });
    handles.push(fol);
    for (let i = 201; i <= 1000; i++) primary.batch(workload(i));
    await until('the follower to apply 1000', 30_000, () => fol.stats().seq === 1000);
    // The follower can apply a commit before the publisher has read the
    // stream's acknowledgement of it: wait for the publisher's count too.
    await until('the publisher to see 1000 acknowledged', 30_000, () => pub.stats().seq === 1000);
    assert.deepEqual(scanOf(replica), scanOf(primary));
    assert.equal(replica.metrics().lastSeq, 1000);
    const m = replica.metrics().replication!;
    assert.equal(m.role, 'follower');
    assert.equal(m.seq, 1000);
    assert.equal(m.lagCommits, 0);
    assert.match(replica.metricsText(), /lightningdb_replication_lag_commits\{role="follower"\} 0/);
    assert.match(primary.metricsText('db="p"'), /lightningdb_replication_seq\{role="publisher",db="p"\} 1000/);

    // A follower stopped and started again resumes where the replica is.
    await fol.close();
    for (let i = 1001; i <= 1500; i++) primary.batch(workload(i));
    const fol2 = await follow(replica, { servers, stream: 'one' });
    handles.push(fol2);
    await until('the restarted follower to apply 1500', 30_000, () => fol2.stats().seq === 1500);
    assert.deepEqual(scanOf(replica), scanOf(primary));

    // A new follower from a backup of the primary (tagged with its seq).
    const bdir = join(dir, 'backup');
    primary.backup(bdir);
    const tag = primary.metrics().lastSeq;
    for (let i = 1501; i <= 1800; i++) primary.batch(workload(i));
    const fromBackup = open(bdir);
    handles.push(fromBackup);
    assert.equal(fromBackup.metrics().lastSeq, tag, 'a backup holds the seq it was taken at');
    const fol3 = await follow(fromBackup, { servers, stream: 'one' });
    handles.push(fol3);
    await until('the bootstrapped follower to apply 1800', 30_000, () => fol3.stats().seq === 1800);
    assert.deepEqual(scanOf(fromBackup), scanOf(primary));
    await sameFeeds(primary, fromBackup, 1800);

    // A readOnly handle on the replica reads what the follower applied
    // (the same engine); writes through it are refused.
    await until('the first replica to apply 1800', 30_000, () => fol2.stats().seq === 1800);
    const reader = open(join(dir, 'replica'), { readOnly: true });
    assert.equal(reader.metrics().lastSeq, 1800);
    assert.deepEqual(scanOf(reader), scanOf(primary));
    assert.throws(() => reader.put('x', 'y'), /read-only/i);
    reader.close();
  });

  it('a replica older than the stream is refused with COMPACTED; a primary behind its stream is refused', async () => {
    cluster = await startCluster(1);
    await cluster.ready();
    const servers = cluster.urls;
    const primary = open(join(dir, 'primary'));
    handles.push(primary);
    for (let i = 1; i <= 50; i++) primary.batch(workload(i));
    // The stream starts after commit 50 (as when it was created later).
    const pub = await publish(primary, { servers, stream: 'late', since: 50 });
    handles.push(pub);
    for (let i = 51; i <= 60; i++) primary.batch(workload(i));
    await until('the publisher to publish 60', 10_000, () => pub.stats().seq === 60);
    const empty = open(join(dir, 'empty'));
    handles.push(empty);
    await assert.rejects(follow(empty, { servers, stream: 'late' }), (e: any) => e.code === 'COMPACTED' && /backup/.test(e.message));
    // A primary behind its stream (it lost published commits in a crash)
    // refuses to publish: its next commits would reuse their seqs.
    const behind = open(join(dir, 'behind'));
    handles.push(behind);
    for (let i = 1; i <= 20; i++) behind.batch(workload(i));
    await assert.rejects(publish(behind, { servers, stream: 'late' }), (e: any) => e.code === 'INVALID_ARGUMENT' && /lost commits/.test(e.message));
  });

  it('batches commits when publishes are in flight, sends a commit larger than a message in parts, and resumes a commit cut between parts', async () => {
    cluster = await startCluster(1);
    await cluster.ready();
    const servers = cluster.urls;
    const primary = open(join(dir, 'primary'));
    handles.push(primary);
    // 2,000 small commits at once: with 2 publishes in flight they gather
    // into batch messages (far fewer messages than commits).
    for (let i = 1; i <= 2000; i++) primary.batch(workload(i));
    // Commits larger than a message (maxMessageBytes 64 KiB): 300 KiB of
    // binary values, sent in parts; then more small ones.
    const big = (i: number) => Array.from({ length: 30 }, (_, j) => ({
      type: 'put' as const, key: `big${i}-${j}`, value: new Uint8Array(10_240).map((_, x) => (x * 31 + i * 7 + j) & 255),
    }));
    primary.batch(big(1));
    for (let i = 2001; i <= 2100; i++) primary.batch(workload(i));
    primary.batch(big(2));
    const last = primary.metrics().lastSeq;
    const opts = { servers, stream: 'parts', maxPending: 2, maxMessageBytes: 64 * 1024 };
    const pub = await publish(primary, opts);
    handles.push(pub);
    await until(`the publisher to publish ${last}`, 60_000, () => pub.stats().seq === last);
    const nc = await connect({ servers });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info('parts');
      assert.ok(info.state.messages < last / 4, `${info.state.messages} messages for ${last} commits`);
      const kinds = new Set<string>();
      for (let s = info.state.first_seq; s <= info.state.last_seq; s++) {
        const m = await jsm.streams.getMessage('parts', { seq: s });
        kinds.add(m!.header.get('Ldb-Part') ? 'part' : m!.header.get('Ldb-Format') === '2' ? 'batch' : 'one');
        assert.ok(m!.data.length <= 64 * 1024, `message ${s} holds ${m!.data.length} bytes`);
      }
      assert.ok(kinds.has('part') && kinds.has('batch'), [...kinds].join());
      await pub.close();

      // A publisher that died between the parts of a commit: the stream
      // ends with parts 1 and 2 of 5 of the next commit, split unlike the
      // publisher below will split it (as with another maxMessageBytes).
      primary.batch(big(3));
      const cut = primary.metrics().lastSeq;
      const feed = primary.changes({ since: cut - 1 });
      const c = (await feed.next()).value;
      feed.close();
      const body = encodeOps(c.ops);
      const js = jetstream(nc);
      const size = Math.ceil(body.length / 5);
      let prev = String(last);
      for (let i = 1; i <= 2; i++) {
        const h = natsHeaders();
        h.set('Ldb-Seq', String(cut));
        h.set('Ldb-Time', String(c.time));
        h.set('Ldb-Format', '2');
        h.set('Ldb-Part', `${i}/5`);
        h.set('Ldb-Offset', String((i - 1) * size));
        const id = `${cut}.${(i - 1) * size}-${i * size}`;
        await js.publish('lightningdb.parts', body.subarray((i - 1) * size, i * size), { msgID: id, headers: h, expect: { lastMsgID: prev } });
        prev = id;
      }
      for (let i = 1; i <= 50; i++) primary.batch(workload(3000 + i));
      const end = primary.metrics().lastSeq;
      const pub2 = await publish(primary, opts);
      handles.push(pub2);
      await until(`the restarted publisher to publish ${end}`, 60_000, () => pub2.stats().seq === end);
    } finally {
      await nc.close();
    }
    const end = primary.metrics().lastSeq;
    const replica = open(join(dir, 'replica'));
    handles.push(replica);
    const fol = await follow(replica, { servers, stream: 'parts', onError: (e) => console.error('FOLLOWER', e) });
    handles.push(fol);
    await until(`the follower to apply ${end}`, 60_000, () => fol.stats().seq === end);
    assert.deepEqual(scanOf(replica), scanOf(primary));
    await sameFeeds(primary, replica, end);
    // A follower started again from a backup taken between two commits of
    // one batch message finds its place inside the message.
    const bdir = join(dir, 'mid');
    const mid = open(join(dir, 'mid-src'));
    handles.push(mid);
    for (let i = 1; i <= 1000; i++) mid.batch(workload(i));
    mid.backup(bdir);
    mid.close();
    const fromMid = open(bdir);
    handles.push(fromMid);
    assert.equal(fromMid.metrics().lastSeq, 1000);
    const fol2 = await follow(fromMid, { servers, stream: 'parts' });
    handles.push(fol2);
    await until(`the follower from seq 1000 to apply ${end}`, 60_000, () => fol2.stats().seq === end);
    assert.deepEqual(scanOf(fromMid), scanOf(primary));
  });

  it('the lightningdb replicate publish|follow commands replicate and stop on SIGTERM', async () => {
    cluster = await startCluster(1);
    await cluster.ready();
    const pdir = join(dir, 'cli-primary');
    const rdir = join(dir, 'cli-replica');
    const primary = open(pdir);
    for (let i = 1; i <= 50; i++) primary.batch(workload(i));
    primary.close();
    const bin = join(here, '..', '..', 'bin', 'lightningdb.js');
    const run = (args: string[]) => {
      const p = spawn(process.execPath, [bin, 'replicate', ...args, '--servers', cluster!.urls.join(','), '--stream', 'cli',
        '--interval', '0.2', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out = { lines: [] as any[], err: '' };
      p.stdout!.setEncoding('utf8').on('data', (d: string) => {
        for (const l of d.split('\n')) if (l.startsWith('{')) out.lines.push(JSON.parse(l));
      });
      p.stderr!.setEncoding('utf8').on('data', (d: string) => { out.err += d; });
      const exit = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
      return { p, out, exit };
    };
    const pub = run(['publish', pdir]);
    await until('the publisher to publish 50', 60_000, () => pub.out.lines.some((l) => l.role === 'publisher' && l.seq === 50));
    const fol = run(['follow', rdir, '--create']);
    await until(`the follower to apply 50 (${fol.out.err})`, 60_000, () => fol.out.lines.some((l) => l.role === 'follower' && l.seq === 50 && l.lagCommits === 0));
    fol.p.kill('SIGTERM');
    pub.p.kill('SIGTERM');
    assert.equal(await fol.exit, 0, fol.out.err);
    assert.equal(await pub.exit, 0, pub.out.err);
    const a = open(pdir, { readOnly: true });
    const b = open(rdir, { readOnly: true });
    try {
      assert.equal(b.metrics().lastSeq, 50);
      assert.deepEqual(scanOf(b), scanOf(a));
    } finally {
      a.close();
      b.close();
    }
  });

  it('survives SIGKILL of a NATS node, the primary and the follower at random moments (3 nodes, replicas 3)', async () => {
    cluster = await startCluster(3);
    await cluster.ready(0);
    const c = cluster;
    const servers = c.urls.join(',');
    const total = 12_000;
    const pdb = join(dir, 'primary');
    const rdb = join(dir, 'replica');
    let acked = 0;
    let applied = 0;
    const procs: { primary: ChildProcess | null; follower: ChildProcess | null } = { primary: null, follower: null };
    const logs: string[] = [];
    const run = (role: 'primary' | 'follower') => {
      const args = role === 'primary'
        ? ['primary', pdb, servers, 'chaos', String(total), '500']
        : ['follower', rdb, servers, 'chaos'];
      const p = spawn(process.execPath, ['--import', 'tsx', join(here, 'proc.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout!.setEncoding('utf8').on('data', (d: string) => {
        for (const line of d.split('\n')) {
          const m = /^(acked|applied) (\d+)$/.exec(line);
          if (m?.[1] === 'acked') acked = Math.max(acked, Number(m[2]));
          if (m?.[1] === 'applied') applied = Math.max(applied, Number(m[2]));
        }
      });
      p.stderr!.setEncoding('utf8').on('data', (d: string) => logs.push(`${role}: ${d.trim()}`));
      procs[role] = p;
    };
    const kill = (role: 'primary' | 'follower') =>
      new Promise<void>((r) => {
        const p = procs[role];
        procs[role] = null;
        if (!p || p.exitCode !== null) return r();
        p.once('exit', () => r());
        p.kill('SIGKILL');
      });
    run('primary');
    // the follower needs the stream, which the publisher creates
    await until(`the stream to have commits\n${logs.join('\n')}`, 120_000, () => acked > 0);
    run('follower');
    let seed = 0x2545f491;
    const rnd = () => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const events: string[] = [];
    const started = Date.now();
    let natsDown = -1;
    // ~30 s of chaos while the primary writes at about 500 commits/s (its
    // 12,000 commits span the chaos)
    while (Date.now() - started < 30_000) {
      await new Promise((r) => setTimeout(r, 500 + rnd() * 2000));
      const what = rnd();
      if (what < 0.3) {
        events.push(`kill -9 primary at acked ${acked}`);
        await kill('primary');
        await new Promise((r) => setTimeout(r, rnd() * 800));
        run('primary');
      } else if (what < 0.6) {
        events.push(`kill -9 follower at applied ${applied}`);
        await kill('follower');
        await new Promise((r) => setTimeout(r, rnd() * 800));
        run('follower');
      } else if (natsDown < 0) {
        natsDown = Math.floor(rnd() * 3);
        events.push(`kill -9 nats node ${natsDown + 1}`);
        c.kill(natsDown);
      } else {
        events.push(`restart nats node ${natsDown + 1}`);
        await c.start(natsDown);
        natsDown = -1;
      }
    }
    if (natsDown >= 0) await c.start(natsDown);
    console.log(`      chaos: ${events.join('; ')}`);
    // everything up again: the primary finishes, the follower catches up
    await until(`the follower to apply all ${total} (applied ${applied}, acked ${acked}; ${events.join('; ')})\n${logs.slice(-20).join('\n')}`,
      150_000, () => applied >= total);
    await kill('primary');
    await kill('follower');
    const primary = open(pdb);
    const replica = open(rdb);
    try {
      assert.equal(primary.metrics().lastSeq, total);
      assert.equal(replica.metrics().lastSeq, total, 'one replica commit per primary commit: nothing applied twice');
      assert.deepEqual(scanOf(replica), scanOf(primary));
      await sameFeeds(primary, replica, total);
      primary.check();
      replica.check();
    } finally {
      primary.close();
      replica.close();
    }
    assert.ok(events.some((e) => e.startsWith('kill -9 primary')) && events.some((e) => e.startsWith('kill -9 follower')),
      `the chaos killed both processes: ${events.join('; ')}`);
  });
});
