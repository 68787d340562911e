/* cli.test.ts — the `lightningdb` command as an npm user gets it: the
 * package is packed (`npm pack`, after scripts/build.mjs, so it carries
 * dist/ and prebuilds/), installed into a fresh directory, and every
 * command is run from node_modules/.bin. dump | load round-trips random
 * binary keys and values exactly; bad paths and bad input give a clear
 * message and the documented exit code. */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { open } from '../../js/index.js';
import { fetchText, root, tempDir } from './helpers.js';

const EXIT = { OK: 0, NOT_FOUND: 1, USAGE: 2, DATABASE: 3 };

describe('lightningdb CLI from an npm pack tarball', function () {
  this.timeout(180_000);
  const tmp = tempDir('cli');
  let bin = '';

  /** Runs the installed command; returns status, stdout, stderr. */
  function run(args: string[], opts: { input?: string | Buffer; cwd?: string } = {}) {
    const input = typeof opts.input === 'string' ? Buffer.from(opts.input) : opts.input;
    const r = spawnSync(bin, args, { cwd: opts.cwd ?? tmp.dir, input, timeout: 60_000 });
    return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), raw: r.stdout };
  }

  before(() => {
    for (const f of ['dist/esm/index.js', 'dist/esm/cli/main.js', `prebuilds/${process.platform}-${process.arch}/lightningdb.node`]) {
      assert.ok(existsSync(join(root, f)), `${f} is missing: run node scripts/build.mjs first`);
    }
    const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', tmp.dir], { cwd: root, encoding: 'utf8' });
    const tarball = join(tmp.dir, JSON.parse(packed)[0].filename);
    const app = join(tmp.dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), '{ "name": "cli-test-app", "private": true }\n');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, stdio: 'pipe' });
    bin = join(app, 'node_modules', '.bin', 'lightningdb');
    assert.ok(existsSync(bin), 'npm put lightningdb on the PATH of the app (node_modules/.bin)');
  });
  after(() => tmp.remove());

  it('get, put, del, scan and count, with the documented exit codes', () => {
    assert.equal(run(['put', 'db', 'user:1', 'Alice']).code, EXIT.OK);
    assert.equal(run(['put', 'db', 'user:2', 'Bob']).code, EXIT.OK);
    assert.equal(run(['put', 'db', 'order:1', 'pizza']).code, EXIT.OK);
    const got = run(['get', 'db', 'user:1']);
    assert.equal(got.code, EXIT.OK);
    assert.equal(got.stdout, 'Alice\n');
    assert.deepEqual(JSON.parse(run(['get', '--json', 'db', 'user:2']).stdout), { key: 'user:2', found: true, value: 'Bob' });
    const absent = run(['get', 'db', 'user:9']);
    assert.equal(absent.code, EXIT.NOT_FOUND);
    assert.match(absent.stderr, /not found: user:9/);
    assert.equal(run(['scan', 'db', '--prefix', 'user:']).stdout, 'user:1\tAlice\nuser:2\tBob\n');
    assert.equal(run(['scan', 'db', '--reverse', '--limit', '1']).stdout, 'user:2\tBob\n');
    assert.equal(run(['scan', 'db', '--gt', 'order:1', '--lt', 'user:2']).stdout, 'user:1\tAlice\n');
    const lines = run(['scan', '--json', '-e', 'hex', 'db', '--limit', '1']).stdout.trim().split('\n');
    assert.deepEqual(JSON.parse(lines[0]!), { key: Buffer.from('order:1').toString('hex'), value: Buffer.from('pizza').toString('hex') });
    assert.equal(run(['count', 'db']).stdout, '3\n');
    assert.equal(run(['count', 'db', '--prefix', 'user:']).stdout, '2\n');
    assert.equal(run(['del', 'db', 'user:2']).code, EXIT.OK);
    assert.deepEqual(JSON.parse(run(['count', '--json', 'db']).stdout), { count: 2 });
    assert.equal(run(['get', '-e', 'hex', 'db', Buffer.from('user:1').toString('hex')]).stdout, `${Buffer.from('Alice').toString('hex')}\n`);
  });

  it("docs/operations.md's put, get, del, scan and count examples run as written", () => {
    const doc = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
    const block = doc.split('## The lightningdb command')[1]!.split('```sh\n')[1]!.split('```')[0]!;
    const lines = block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim())
      .filter((l) => /^lightningdb (put|get|del|scan|count) /.test(l));
    assert.ok(lines.length >= 8, `found the examples: ${lines.join(' | ')}`);
    const dir = join(tmp.dir, 'docs-examples');
    mkdirSync(dir);
    // Data for the scans' bounds and prefixes, next to the examples' own.
    for (const [k, v] of [['apple', '1'], ['kiwi', '2'], ['melon', '3'], ['user:2', 'Bob']]) {
      assert.equal(run(['put', './mydb', k!, v!], { cwd: dir }).code, EXIT.OK);
    }
    const out: Record<string, string> = {};
    for (const line of lines) {
      // The words as a shell splits these lines (no quotes in them); a
      // redirection of stdout is dropped (the output is checked here).
      const words = line.replace(/\s*>\s*\S+$/, '').split(/\s+/).slice(1);
      const r = run(words, { cwd: dir });
      assert.equal(r.stderr, '', `${line}: stderr`);
      assert.equal(r.code, EXIT.OK, `${line}: exit code`);
      out[line] = r.stdout;
    }
    const b64 = lines.find((l) => l.includes('-e base64') && l.startsWith('lightningdb scan'));
    assert.ok(b64, 'the base64 scan example');
    const rows = out[b64]!.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: string });
    assert.deepEqual(rows.map((r) => Buffer.from(r.key, 'base64').toString()), ['apple', 'kiwi']);
  });

  it('check: a damaged free page that no version reaches is harmless: ok, counted and named', () => {
    const dir = join(tmp.dir, 'free-damage');
    const db = open(dir);
    db.put('a', '1');
    db.checkpoint();
    // An overflow chain written, then deleted: its pages become free pages
    // that neither meta page reaches two checkpoints later.
    db.put('big', Buffer.alloc(40_000, 7));
    db.checkpoint();
    db.delete('big');
    db.checkpoint();
    db.put('b', '2');
    db.checkpoint();
    const before = db.check();
    db.close();
    assert.equal(before.ok, true);
    assert.equal(before.freeDamaged, 0);
    assert.ok(before.freeChecked > 0, `free pages checked: ${JSON.stringify(before)}`);
    const file = join(dir, 'data.ldb');
    const data = readFileSync(file);
    const ps = data.length / before.pages;
    // Flip a byte of each page in turn: damage a version reaches is
    // CORRUPT; the first free one is reported harmless, naming the page.
    let found = -1;
    for (let p = 2; p < before.pages && found < 0; p++) {
      data[p * ps + 100]! ^= 1;
      writeFileSync(file, data);
      try {
        const d = open(dir, { readOnly: true });
        try {
          const r = d.check();
          if (r.freeDamaged === 1) {
            assert.deepEqual(r.freeDamagedPages, [p]);
            found = p;
          }
        } finally {
          d.close();
        }
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'CORRUPT', String(e));
      }
      if (found < 0) {
        data[p * ps + 100]! ^= 1;
        writeFileSync(file, data);
      }
    }
    assert.ok(found >= 2, 'one page was a free page no version reaches');
    const out = run(['check', 'free-damage']);
    assert.equal(out.code, EXIT.OK, out.stderr);
    assert.match(out.stdout, new RegExp(`^ok: 2 entries; ${before.pages} pages; 1 of ${before.freeChecked} free pages? damaged, harmless .*: page ${found}\ntree: .*\n$`));
    const json = JSON.parse(run(['check', '--json', 'free-damage']).stdout);
    assert.deepEqual([json.ok, json.freeDamaged, json.freeDamagedPages], [true, 1, [found]]);
  });

  it('check prints the tree\'s shape in text as --json gives it: leaf pages, leaf fill, branch and overflow pages', () => {
    const dir = join(tmp.dir, 'shape');
    const db = open(dir, { pageSize: 4096 });
    for (let i = 0; i < 3000; i++) db.put(`key:${String(i).padStart(6, '0')}`, Buffer.alloc(60, i % 251));
    db.put('big', Buffer.alloc(20_000, 1)); // overflow pages
    db.close();
    const out = run(['check', 'shape']);
    assert.equal(out.code, EXIT.OK, out.stderr);
    const j = JSON.parse(run(['check', '--json', 'shape']).stdout);
    assert.ok(j.leafPages > 1 && j.branchPages >= 1 && j.overflowPages >= 5, JSON.stringify(j));
    const fill = ((100 * j.leafBytes) / (j.leafPages * (4096 - 16))).toFixed(1);
    assert.equal(out.stdout, `ok: 3001 entries; ${j.pages} pages\n` +
      `tree: ${j.leafPages} leaf pages ${fill}% full, ${j.branchPages} branch, ${j.overflowPages} overflow\n`);
    // An empty database says so.
    const empty = open(join(tmp.dir, 'shape-empty'));
    empty.close();
    assert.match(run(['check', 'shape-empty']).stdout, /^ok: 0 entries; \d+ pages\ntree: empty \(no leaf pages\)\n$/);
  });

  it('scan shows binary keys and values escaped (as check and dump count them: plurals), --raw gives the bytes', () => {
    const dir = join(tmp.dir, 'binary');
    const db = open(dir);
    db.put(Buffer.from([0x00, 0x01, 0xff]), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    db.put('plain', 'hello world');
    db.put('tab\tkey', 'line1\nline2');
    db.put('json', '{"a":"b\\c"}');
    db.put('quoted', '"q"');
    db.put('empty', '');
    db.close();
    const out = run(['scan', 'binary']);
    assert.equal(out.code, EXIT.OK, out.stderr);
    assert.equal(out.stdout, [
      '"\\x00\\x01\\xff"\t"\\x89PNG\\r\\n\\x1a\\n"',
      'empty\t',
      'json\t{"a":"b\\c"}',
      'plain\thello world',
      'quoted\t"\\"q\\""',
      '"tab\\tkey"\t"line1\\nline2"',
      '',
    ].join('\n'));
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(out.stdout), 'no control bytes reach the terminal');
    // JSON Lines follow the dump format: text when it is UTF-8, else base64.
    const json = run(['scan', '--json', 'binary', '--limit', '2']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(json, [{ key64: 'AAH/', value64: 'iVBORw0KGgo=' }, { key: 'empty', value: '' }]);
    // --raw: the exact bytes; with an encoding asked, that encoding.
    const raw = run(['scan', '--raw', 'binary', '--limit', '1']).raw;
    assert.ok(raw.equals(Buffer.from([0x00, 0x01, 0xff, 0x09, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x0a])), raw.toString('hex'));
    assert.equal(run(['scan', '-e', 'hex', 'binary', '--limit', '1']).stdout, '0001ff\t89504e470d0a1a0a\n');
    assert.equal(run(['scan', '-e', 'utf8', 'binary', '--prefix', 'plain']).stdout, 'plain\thello world\n');
    const both = run(['scan', '--raw', '-e', 'hex', 'binary']);
    assert.equal(both.code, EXIT.USAGE);
    assert.match(both.stderr, /give --raw or --encoding, not both/);
    // Counts in words: one entry, not "1 entries".
    const one = join(tmp.dir, 'one');
    const d1 = open(one);
    d1.put('a', '1');
    d1.close();
    assert.match(run(['check', 'one']).stdout, /^ok: 1 entry; \d+ pages\ntree: 1 leaf page [\d.]+% full, 0 branch, 0 overflow\n$/);
    const dumped = run(['dump', 'one', '-o', 'one.jsonl', '--progress']);
    assert.match(dumped.stderr, /dumped 1 entry to one\.jsonl/);
    assert.match(run(['load', 'one-copy', '-i', 'one.jsonl', '--progress']).stderr, /loaded 1 entry into one-copy/);
  });

  it('stats, check and backup', () => {
    const stats = run(['stats', 'db']);
    assert.equal(stats.code, EXIT.OK, stats.stderr);
    assert.match(stats.stdout, /^database db\n/);
    assert.match(stats.stdout, /^lastSeq\s+\d+  seq of the last commit/m);
    const json = JSON.parse(run(['stats', '--json', 'db']).stdout);
    assert.equal(json.health.healthy, true);
    assert.equal(typeof json.database.dataFileSize, 'number');
    assert.match(run(['stats', '--prometheus', 'db']).stdout, /^# TYPE lightningdb_gets_total counter$/m);
    assert.match(run(['check', 'db']).stdout, /^ok: 2 entries; \d+ pages\ntree: 1 leaf page [\d.]+% full, 0 branch, 0 overflow\n$/);
    const checked = JSON.parse(run(['check', '--json', 'db']).stdout);
    assert.equal(checked.ok, true);
    assert.equal(checked.entries, 2);
    assert.equal(checked.freeDamaged, 0);
    assert.equal(run(['backup', 'db', 'copy']).code, EXIT.OK);
    assert.equal(run(['scan', 'copy']).stdout, 'order:1\tpizza\nuser:1\tAlice\n');
    const again = run(['backup', 'db', 'copy']);
    assert.equal(again.code, EXIT.USAGE, 'a backup never overwrites a database');
    assert.match(again.stderr, /^lightningdb: backup: .*already holds a database.*\(INVALID_ARGUMENT\)\n$/);
  });

  it("stats describes the database (files, pages, commits; entries and space amplification with --scan), not its own open's counters", () => {
    const dir = join(tmp.dir, 'described');
    const db = open(dir, { pageSize: 4096 });
    for (let i = 0; i < 2000; i++) db.put(`k${String(i).padStart(5, '0')}`, Buffer.alloc(100, i % 251));
    db.checkpoint();
    db.delete('k00000');
    db.put('k00001', Buffer.alloc(50, 1)); // two commits after the checkpoint
    const m = db.metrics();
    const lastSeq = m.lastSeq;
    const checkpointSeq = m.checkpointSeq;
    db.close();
    const r = run(['stats', '--json', 'described']);
    assert.equal(r.code, EXIT.OK, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['path', 'database', 'health', 'thisOpen']);
    assert.deepEqual(Object.keys(j.database), ['dataFileSize', 'pageCount', 'freePages', 'pageSize', 'logFileSize', 'logRetainedBytes',
      'logRetainedSegments', 'logRetainedSince', 'lastSeq', 'checkpointSeq', 'uncheckpointedCommits']);
    // The database's figures: the commits of the process that wrote it,
    // the files as they are on disk.
    assert.ok(j.database.lastSeq >= lastSeq && lastSeq >= 2000, `lastSeq ${j.database.lastSeq}, written ${lastSeq}`);
    assert.ok(j.database.checkpointSeq >= checkpointSeq, `checkpointSeq ${j.database.checkpointSeq}`);
    assert.equal(j.database.uncheckpointedCommits, j.database.lastSeq - j.database.checkpointSeq);
    assert.equal(j.database.dataFileSize, statSync(join(dir, 'data.ldb')).size);
    assert.equal(j.database.pageSize, 4096);
    assert.equal(j.database.pageCount * 4096, j.database.dataFileSize);
    // This command's own open: labelled, not the database's history.
    assert.equal(j.thisOpen.puts, 0);
    assert.equal(j.thisOpen.commits, 0);
    assert.ok(!('dataFileSize' in j.thisOpen) && 'cacheCapacity' in j.thisOpen);
    // --scan: the entries and their bytes, from reading them.
    const s = JSON.parse(run(['stats', '--json', '--scan', 'described']).stdout);
    assert.deepEqual(s.scan.entries, 1999);
    assert.equal(s.scan.keyBytes, 1999 * 6);
    assert.equal(s.scan.valueBytes, 1998 * 100 + 50);
    assert.equal(s.scan.spaceAmplification, (s.database.dataFileSize + s.database.logFileSize) / (1999 * 6 + 1998 * 100 + 50));
    // The text: the same figures, each saying what it is; no per-process counters.
    const text = run(['stats', '--scan', 'described']).stdout;
    assert.match(text, new RegExp(`^database described\\ndataFileSize +${s.database.dataFileSize}  bytes: the data file`));
    assert.match(text, new RegExp(`^lastSeq +${s.database.lastSeq}  seq of the last commit`, 'm'));
    assert.match(text, /^pageSize +4096  bytes: stored in the data file/m);
    assert.match(text, /^entries +1999  \(scan\)$/m);
    assert.match(text, /^spaceAmplification +\d+\.\d\d  \(dataFileSize \+ logFileSize\) \/ \(keyBytes \+ valueBytes\) \(scan\)$/m);
    assert.match(text, /^healthy +true$/m);
    assert.doesNotMatch(text, /^(puts|gets|cacheHits|commits) /m);
    assert.match(text, /counters such as puts, gets and cache hits are per process/);
    assert.match(run(['stats', 'described']).stdout, /entries and space amplification: --scan/);
  });

  it('dump | load round-trips random binary keys and values exactly', () => {
    const src = open(join(tmp.dir, 'random'));
    const expected = new Map<string, Buffer>();
    const add = (k: Buffer, v: Buffer) => expected.set(k.toString('hex'), v);
    for (let i = 0; i < 1500; i++) {
      const klen = i % 50 === 0 ? 1024 : 1 + (randomBytes(2).readUInt16LE() % 300);
      const vlen = i % 10 === 0 ? 0 : randomBytes(2).readUInt16LE() % 3000;
      add(randomBytes(klen), randomBytes(vlen));
    }
    // Edge cases: text keys and values, a BOM, NUL and 0xff bytes, a
    // lone UTF-8 continuation byte, invalid surrogate encodings.
    add(Buffer.from('plain text key'), Buffer.from('plain text value ✓'));
    add(Buffer.from([0xef, 0xbb, 0xbf, 0x41]), Buffer.from([0xef, 0xbb, 0xbf]));
    add(Buffer.from([0x00]), Buffer.from([0x00, 0x00]));
    add(Buffer.from([0xff, 0xff, 0xff]), Buffer.alloc(0));
    add(Buffer.from([0x80]), Buffer.from([0xed, 0xa0, 0x80]));
    add(Buffer.alloc(1024, 0xff), Buffer.alloc(5000, 0x61));
    const entries = [...expected].map(([k, v]) => [Buffer.from(k, 'hex'), v] as [Buffer, Buffer]);
    for (let i = 0; i < entries.length; i += 500) src.putBatch(entries.slice(i, i + 500));
    src.close();
    const pipe = spawnSync('sh', ['-c', `"${bin}" dump random | "${bin}" load restored`], { cwd: tmp.dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(pipe.status, EXIT.OK, pipe.stderr);
    const dst = open(join(tmp.dir, 'restored'));
    const got = new Map<string, Buffer>();
    for (const [k, v] of dst.scan()) got.set(Buffer.from(k).toString('hex'), Buffer.from(v));
    dst.close();
    assert.equal(got.size, expected.size);
    for (const [k, v] of expected) assert.ok(got.get(k)?.equals(v), `entry ${k.slice(0, 40)}… differs`);
    // Dumps of both are the same apart from the header.
    assert.equal(run(['dump', 'random', '-o', 'a.jsonl']).code, EXIT.OK);
    assert.equal(run(['dump', 'restored', '-o', 'b.jsonl']).code, EXIT.OK);
    const a = readFileSync(join(tmp.dir, 'a.jsonl'), 'utf8').split('\n');
    const b = readFileSync(join(tmp.dir, 'b.jsonl'), 'utf8').split('\n');
    assert.deepEqual(a.slice(1), b.slice(1));
    assert.deepEqual(JSON.parse(a[a.length - 2]!), { end: true, entries: expected.size });
    assert.ok(a.some((l) => l.startsWith('{"k":"plain text key","v":"plain text value ✓"}')), 'text stays readable');
    assert.ok(a.some((l) => l.includes('"k64":')), 'binary is base64');
  });

  it('load and dump show progress bars and report counts', () => {
    const load = run(['load', 'progress', '-i', 'a.jsonl', '--progress']);
    assert.equal(load.code, EXIT.OK, load.stderr);
    assert.match(load.stderr, /load\s+\|.*\| 100% \| \d+ entries/);
    const dump = run(['dump', 'progress', '-o', 'c.jsonl', '--progress']);
    assert.equal(dump.code, EXIT.OK, dump.stderr);
    assert.match(dump.stderr, /dump\s+\|.*\| 100% \|/);
    const check = run(['check', 'progress', '--progress']);
    assert.match(check.stderr, /check\s+\|.*\| 100% \|/);
    assert.deepEqual(JSON.parse(run(['load', '--json', 'progress2', '-i', 'c.jsonl']).stdout).ok, true);
  });

  it('a bad PATH is a database error (exit 3) for every command that reads one, as --help documents', () => {
    const help = run(['--help']);
    assert.equal(help.code, EXIT.OK);
    assert.match(help.stdout, /Exit codes:\n\s+0\s+success\n\s+1\s+not found: get of an absent key\n[\s\S]*\n\s+3\s+database error: no database at PATH \(missing, not a directory, or a\s+directory without one\)/);
    execFileSync('mkdir', ['-p', join(tmp.dir, 'emptydir')]);
    writeFileSync(join(tmp.dir, 'plainfile'), 'not a database\n');
    const bad = [
      { path: 'missing-dir', msg: /no database at missing-dir\n/ },
      { path: 'plainfile', msg: /plainfile is not a database directory\n/ },
      { path: 'emptydir', msg: /no database at emptydir \(the directory holds none\)\n/ },
      { path: 'plainfile/below', msg: /no database at plainfile\/below\n/ },
    ];
    const commands: string[][] = [
      ['stats', '@'], ['stats', '--prometheus', '@'], ['check', '@'], ['get', '@', 'k'], ['del', '@', 'k'], ['scan', '@'],
      ['count', '@'], ['backup', '@', 'backup-dest'], ['dump', '@'], ['serve', '@', '--port', '0'],
    ];
    for (const c of commands) {
      for (const b of bad) {
        const args = c.map((a) => (a === '@' ? b.path : a));
        const r = run(args);
        assert.equal(r.code, EXIT.DATABASE, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^lightningdb: ${b.msg.source}$`), args.join(' '));
      }
    }
    // Commands that create a database: a file where the directory should be.
    const dump = '{"lightningdb":"dump","version":1}\n{"end":true,"entries":0}\n';
    for (const args of [['put', 'plainfile', 'k', 'v'], ['load', 'plainfile'], ['serve', 'plainfile', '--create', '--port', '0']]) {
      const r = run(args, { input: dump });
      assert.equal(r.code, EXIT.DATABASE, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
      assert.match(r.stderr, /^lightningdb: plainfile is not a database directory\n$/, args.join(' '));
    }
    assert.equal(existsSync(join(tmp.dir, 'emptydir', 'data.ldb')), false, 'reads never create a database');
    assert.equal(existsSync(join(tmp.dir, 'backup-dest')), false);
  });

  it('bad paths and bad input: a clear message and the documented exit code', () => {
    const cases: Array<{ args: string[]; input?: string; code: number; msg: RegExp }> = [
      { args: ['get', 'nowhere', 'k'], code: EXIT.DATABASE, msg: /no database at nowhere/ },
      { args: ['stats', 'nowhere'], code: EXIT.DATABASE, msg: /no database at nowhere/ },
      { args: ['check', 'a.jsonl'], code: EXIT.DATABASE, msg: /a\.jsonl is not a database directory/ },
      { args: ['get', '-e', 'hex', 'db', 'zz'], code: EXIT.USAGE, msg: /KEY 'zz' is not hexadecimal/ },
      { args: ['get', '-e', 'base64', 'db', '%%'], code: EXIT.USAGE, msg: /not padded base64/ },
      { args: ['scan', 'db', '--limit', 'x'], code: EXIT.USAGE, msg: /--limit must be an integer/ },
      { args: ['frobnicate'], code: EXIT.USAGE, msg: /unknown command 'frobnicate'/ },
      { args: ['get', 'db'], code: EXIT.USAGE, msg: /missing required argument 'key'/ },
      { args: [], code: EXIT.USAGE, msg: /Usage: lightningdb/ },
      { args: ['load', 'x1', '-i', 'missing.jsonl'], code: EXIT.USAGE, msg: /no such file: missing\.jsonl/ },
      { args: ['load', 'x2'], input: 'hello\n', code: EXIT.USAGE, msg: /dump line 1: not valid JSON/ },
      { args: ['load', 'x3'], input: '{"a":1}\n', code: EXIT.USAGE, msg: /dump line 1: not a LightningDB dump/ },
      { args: ['load', 'x4'], input: '{"lightningdb":"dump","version":9}\n', code: EXIT.USAGE, msg: /unsupported dump version 9/ },
      { args: ['load', 'x5'], input: '{"lightningdb":"dump","version":1}\n{"k":"a","v":"b"}\n', code: EXIT.USAGE, msg: /truncated \(no end line\)/ },
      { args: ['load', 'x6'], input: '{"lightningdb":"dump","version":1}\n{"k":"a","k64":"YQ==","v":"b"}\n', code: EXIT.USAGE, msg: /dump line 2: an entry needs exactly one of "k" and "k64"/ },
      { args: ['load', 'x7'], input: '{"lightningdb":"dump","version":1}\n{"k":"a","v64":"!!"}\n', code: EXIT.USAGE, msg: /"v64" must be padded base64/ },
      { args: ['load', 'x8'], input: '{"lightningdb":"dump","version":1}\n{"end":true,"entries":3}\n', code: EXIT.USAGE, msg: /the end line says 3 entries, the dump holds 0/ },
      { args: ['load', 'x9'], input: '', code: EXIT.USAGE, msg: /the input is empty/ },
      { args: ['dump', 'db', '-o', 'a.jsonl'], code: EXIT.USAGE, msg: /a\.jsonl already exists/ },
      { args: ['bench', '--duration', '600'], code: EXIT.USAGE, msg: /--duration must be a number in 0\.1\.\.60/ },
      { args: ['serve', 'db', '--port', '70000'], code: EXIT.USAGE, msg: /--port must be an integer in 0\.\.65535/ },
      // A misspelled option is refused, with the closest one.
      { args: ['serve', 'db', '--prot', '9470'], code: EXIT.USAGE, msg: /unknown option '--prot'\s*\(Did you mean --port\?\)/ },
      { args: ['scan', 'db', '--revers'], code: EXIT.USAGE, msg: /unknown option '--revers'\s*\(Did you mean --reverse\?\)/ },
      // ... in a subcommand's subcommand too, and a misspelled command
      { args: ['replicate', 'publish', 'db', '--servers', 'nats://127.0.0.1:1', '--stream', 's', '--intervall', '1'], code: EXIT.USAGE,
        msg: /unknown option '--intervall'\s*\(Did you mean --interval\?\)/ },
      { args: ['replicate', 'folow', 'db'], code: EXIT.USAGE, msg: /unknown command 'folow'\s*\(Did you mean follow\?\)/ },
      { args: ['coutn', 'db'], code: EXIT.USAGE, msg: /unknown command 'coutn'\s*\(Did you mean count\?\)/ },
    ];
    for (const c of cases) {
      const r = run(c.args, { input: c.input ?? '' });
      assert.equal(r.code, c.code, `${c.args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
      assert.match(r.stderr, c.msg, `${c.args.join(' ')}: ${r.stderr}`);
    }
    // Input that is not a dump creates nothing; a dump that fails after
    // its header leaves nothing either: load removes what it created.
    for (const x of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9']) assert.equal(existsSync(join(tmp.dir, x)), false, x);
  });

  it('-O NAME=VALUE passes engine options to the open of PATH, checked against the option table', () => {
    // 40,000 bytes: overflow pages stored raw, a few bytes with zstd
    assert.equal(run(['put', '-O', 'compression=zstd', '-O', 'pageSize=8192', 'opts', 'k', 'x'.repeat(40_000)]).code, EXIT.OK);
    assert.equal(run(['put', '-O', 'pageSize=8192', 'opts-raw', 'k', 'x'.repeat(40_000)]).code, EXIT.OK);
    const stats = (...o: string[]) => {
      const r = run(['stats', '--json', ...o, 'opts']);
      assert.equal(r.code, EXIT.OK, r.stderr);
      const j = JSON.parse(r.stdout);
      return { ...j.thisOpen, ...j.database };
    };
    const m = stats('-O', 'cacheSize=1MiB', '-O', 'mmapSize=0');
    assert.equal(m.cacheCapacity, 1 << 20, 'cacheSize (with a suffix) reached the engine');
    assert.equal(stats('-O', 'cacheSize=2048KiB', '-O', 'mmapSize=0').cacheCapacity, 2 << 20, 'KiB');
    assert.equal(stats('-O', 'cacheSize=3145728', '-O', 'mmapSize=0').cacheCapacity, 3 << 20, 'bytes without a unit');
    assert.equal(m.mmapBytes, 0, 'mmapSize reached the engine');
    assert.equal(m.pageSize, 8192, 'the database was created with -O pageSize');
    const raw = JSON.parse(run(['stats', '--json', 'opts-raw']).stdout).database;
    assert.ok(m.dataFileSize * 2 < raw.dataFileSize, `-O compression=zstd: ${m.dataFileSize} bytes, without: ${raw.dataFileSize}`);
    assert.notEqual(stats().mmapBytes, 0, 'without -O: the defaults');
    assert.equal(run(['get', '-O', 'syncMode=off', '-O', 'salvage=true', 'opts', 'k']).stdout, `${'x'.repeat(40_000)}\n`);
    const cases: Array<{ args: string[]; msg: RegExp }> = [
      { args: ['get', '-O', 'cachSize=1', 'opts', 'k'], msg: /unknown engine option 'cachSize' \(did you mean 'cacheSize'\?\)/ },
      { args: ['get', '-O', 'frobnicate=1', 'opts', 'k'], msg: /unknown engine option 'frobnicate' \(lightningdb --help lists them\)/ },
      // names as the API spells them, case included (open() refuses the others too)
      { args: ['get', '-O', 'cachesize=1MiB', 'opts', 'k'], msg: /unknown engine option 'cachesize' \(did you mean 'cacheSize'\?\)/ },
      { args: ['get', '-O', 'CACHESIZE=1MiB', 'opts', 'k'], msg: /unknown engine option 'CACHESIZE' \(did you mean 'cacheSize'\?\)/ },
      { args: ['get', '-O', 'cache-size=1MiB', 'opts', 'k'], msg: /unknown engine option 'cache-size' \(did you mean 'cacheSize'\?\)/ },
      { args: ['get', '-O', 'cache_size=1MiB', 'opts', 'k'], msg: /unknown engine option 'cache_size' \(did you mean 'cacheSize'\?\)/ },
      { args: ['get', '-O', 'readonly=true', 'opts', 'k'], msg: /unknown engine option 'readonly' \(did you mean 'readOnly'\?\)/ },
      { args: ['get', '-O', 'compression=gzip', 'opts', 'k'], msg: /-O compression takes one of none, lz4, zstd, snappy, auto, got 'gzip'/ },
      { args: ['get', '-O', 'salvage=yes', 'opts', 'k'], msg: /-O salvage takes true or false, got 'yes'/ },
      { args: ['get', '-O', 'cacheSize=12XB', 'opts', 'k'], msg: /-O cacheSize=12XB: unit 'XB' is not taken \(units: KiB, MiB, GiB, TiB\)/ },
      // units are case-exact, as option names are, and powers of 1024 only
      { args: ['get', '-O', 'cacheSize=1gib', 'opts', 'k'], msg: /-O cacheSize=1gib: unit 'gib' is spelled 'GiB' \(units are case-exact, as option names are\)/ },
      { args: ['get', '-O', 'cacheSize=1GIB', 'opts', 'k'], msg: /unit 'GIB' is spelled 'GiB'/ },
      { args: ['get', '-O', 'mmapSize=64mib', 'opts', 'k'], msg: /-O mmapSize=64mib: unit 'mib' is spelled 'MiB'/ },
      { args: ['get', '-O', 'cacheSize=1GB', 'opts', 'k'], msg: /-O cacheSize=1GB: unit 'GB' is not taken: sizes are in powers of 1024, use 'GiB' \(2\^30 bytes\)/ },
      { args: ['get', '-O', 'cacheSize=512k', 'opts', 'k'], msg: /unit 'k' is not taken: sizes are in powers of 1024, use 'KiB' \(2\^10 bytes\)/ },
      { args: ['get', '-O', 'cacheSize=1.5GiB', 'opts', 'k'], msg: /-O cacheSize takes an integer in 0\.\.\d+ \(bytes; KiB, MiB, GiB, TiB after it multiply\), got '1\.5GiB'/ },
      { args: ['get', '-O', 'syncIntervalMs=1MiB', 'opts', 'k'], msg: /-O syncIntervalMs takes an integer in 0\.\.4294967295 \(ms\), got '1MiB'/ },
      { args: ['get', '-O', 'cacheSize', 'opts', 'k'], msg: /-O takes NAME=VALUE/ },
      { args: ['get', '-O', 'readOnly=false', 'opts', 'k'], msg: /-O readOnly: set by each command/ },
      // in range for -O, refused by the engine: its INVALID_ARGUMENT
      { args: ['put', '-O', 'pageSize=1000', 'opts2', 'k', 'v'], msg: /1000 is invalid; allowed: 512\.\.65536 bytes, a power of two \(INVALID_ARGUMENT\)/ },
      { args: ['bench', '-O', 'cacheSize=1'], msg: /unknown option '-O'/ },
    ];
    for (const c of cases) {
      const r = run(c.args);
      assert.equal(r.code, EXIT.USAGE, `${c.args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
      assert.match(r.stderr, c.msg, `${c.args.join(' ')}: ${r.stderr}`);
    }
    const help = run(['--help']).stdout;
    assert.match(help, /Engine options \(-O NAME=VALUE/);
    for (const name of ['cacheSize', 'compression', 'salvage', 'mmapSize']) assert.match(help, new RegExp(`\\n  ${name} +\\S`), name);
    assert.doesNotMatch(help, /\n {2}readOnly /, 'options each command sets are not listed');
    assert.match(help, /Sizes \(options in bytes\): an integer of bytes, or one with a unit after it:\s+KiB, MiB, GiB, TiB \(powers of 1024\), spelled exactly so/);
    assert.match(help, /\n {2}cacheSize +bytes \(or 64MiB, 1GiB\); default 64MiB\n/);
    assert.match(run(['dump', '--help']).stdout, /-O, --option <name=value>/);
  });

  it('a failed load removes the database it created (directory and all), never a database that existed', () => {
    const bad = '{"lightningdb":"dump","version":1}\n{"k":"a","v":"1"}\n{"k":"b"\n';
    const truncated = '{"lightningdb":"dump","version":1}\n{"k":"a","v":"1"}\n';
    writeFileSync(join(tmp.dir, 'bad.jsonl'), bad);
    // A new directory (and its missing parents): removed, all of it.
    let r = run(['load', 'made/deep/db', '-i', 'bad.jsonl']);
    assert.equal(r.code, EXIT.USAGE, r.stderr);
    assert.match(r.stderr, /^lightningdb: dump line 3: not valid JSON \(the new database at made\/deep\/db was removed\)\n$/);
    assert.equal(existsSync(join(tmp.dir, 'made')), false, 'the directories load created are gone');
    r = run(['load', 'made2'], { input: truncated });
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /truncated \(no end line\) \(the new database at made2 was removed\)/);
    assert.equal(existsSync(join(tmp.dir, 'made2')), false);
    // A directory that existed without a database: the database's files
    // go, the directory and what it held stay.
    const kept = join(tmp.dir, 'kept');
    execFileSync('mkdir', ['-p', join(kept, 'sub')]);
    writeFileSync(join(kept, 'notes.txt'), 'mine\n');
    r = run(['load', 'kept', '-i', 'bad.jsonl']);
    assert.equal(r.code, EXIT.USAGE, r.stderr);
    assert.deepEqual(readdirSync(kept).sort(), ['notes.txt', 'sub']);
    assert.equal(readFileSync(join(kept, 'notes.txt'), 'utf8'), 'mine\n');
    // A database that existed: never removed; what it held stays.
    assert.equal(run(['put', 'existing', 'k', 'v']).code, EXIT.OK);
    r = run(['load', 'existing', '-i', 'bad.jsonl']);
    assert.equal(r.code, EXIT.USAGE, r.stderr);
    assert.match(r.stderr, /not valid JSON \(0 entries were loaded before it\)\n$/);
    assert.ok(existsSync(join(tmp.dir, 'existing', 'data.ldb')));
    assert.equal(run(['get', 'existing', 'k']).stdout, 'v\n');
    // A load that succeeds keeps the database it created.
    r = run(['load', 'made3'], { input: `${truncated}{"end":true,"entries":1}\n` });
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.equal(run(['get', 'made3', 'a']).stdout, '1\n');
  });

  for (const [signal, exitCode] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`load stopped by ${signal}: commits the batch in flight, closes cleanly, says what it loaded; --skip loads the rest`, async () => {
      const total = 200_000;
      const key = (i: number) => `key:${String(i).padStart(8, '0')}`;
      const entry = (i: number) => `${JSON.stringify({ k: key(i), v: `value ${i} ${'x'.repeat(40)}` })}\n`;
      const header = '{"lightningdb":"dump","version":1}\n';
      const db = `stopped-${signal}`;
      const json = signal === 'SIGTERM';
      const child = spawn(bin, ['load', db, ...(json ? ['--json'] : [])], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      child.stdin.on('error', () => {}); // EPIPE once the load stopped reading
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // The dump goes in chunks while the load reads it; the signal comes
      // once half of it was taken in, with stdin still open (no end line
      // yet: the load can only end by the signal).
      child.stdin.write(header);
      let signalled = false;
      for (let c = 0; c < 40 && child.exitCode === null; c++) {
        let chunk = '';
        for (let i = c * 5000; i < (c + 1) * 5000; i++) chunk += entry(i);
        if (!child.stdin.write(chunk)) await Promise.race([new Promise((r) => child.stdin.once('drain', r)), exited]);
        if (c === 20) {
          child.kill(signal);
          signalled = true;
        }
      }
      assert.ok(signalled);
      const code = await exited;
      assert.equal(code, exitCode, stderr);
      const m = /^lightningdb: load stopped by (\w+): (\d+) entries loaded into (\S+) \((?:the batch in flight, (\d+) entr(?:y|ies), was committed|no batch was in flight); the database was closed cleanly\); last key loaded: (\S+); a load is not atomic: to load the rest, run the same load again with --skip (\d+)\n$/.exec(stderr);
      assert.ok(m, stderr);
      const [, sig, n, path, , last, skip] = m;
      assert.equal(sig, signal);
      assert.equal(path, db);
      const loaded = Number(n);
      assert.ok(loaded > 0 && loaded < total, `loaded ${loaded}`);
      assert.equal(last, key(loaded - 1), 'the last key loaded is the last of the entries loaded (a dump is in key order)');
      assert.equal(Number(skip), loaded);
      if (json) {
        assert.deepEqual(JSON.parse(stdout), { ok: false, stopped: signal, entries: loaded, skipped: 0, lastKey: last,
          batchInFlight: JSON.parse(stdout).batchInFlight, resume: { skip: loaded } });
      } else {
        assert.equal(stdout, '');
      }
      // The database holds exactly what the message says: check passes,
      // the last key reported is there, the next one is not.
      const checked = run(['check', '--json', db]);
      assert.equal(checked.code, EXIT.OK, checked.stderr);
      assert.equal(JSON.parse(checked.stdout).entries, loaded);
      assert.equal(run(['get', db, last!]).code, EXIT.OK);
      assert.equal(run(['get', db, key(loaded)]).code, EXIT.NOT_FOUND);
      // The same dump, whole, with --skip: the rest is loaded.
      let dump = header;
      for (let i = 0; i < total; i++) dump += entry(i);
      dump += `${JSON.stringify({ end: true, entries: total })}\n`;
      const rest = run(['load', db, '--skip', skip!], { input: dump });
      assert.equal(rest.code, EXIT.OK, rest.stderr);
      const all = JSON.parse(run(['check', '--json', db]).stdout);
      assert.deepEqual([all.ok, all.entries], [true, total]);
      assert.equal(run(['get', db, key(total - 1)]).code, EXIT.OK);
    });
  }

  it('Ctrl-C on `dump | load` (SIGINT to the whole process group): the load reports the stop, the new database stays', async () => {
    const src = open(join(tmp.dir, 'pipe-src'));
    const key = (i: number) => `key:${String(i).padStart(8, '0')}`;
    for (let i = 0; i < 300_000; i += 10_000) {
      src.putBatch(Array.from({ length: 10_000 }, (_, j) => [key(i + j), `value ${i + j} ${'y'.repeat(60)}`] as [string, string]));
    }
    src.close();
    // A shell of its own process group, as a terminal runs a pipeline.
    // The shell prints the load's exit status (its own trap keeps it alive;
    // the children get the signal's default, as from a terminal).
    const child = spawn('sh', ['-c', `trap : INT; "${bin}" dump pipe-src | "${bin}" load pipe-dst; echo "load exit $?"`],
      { cwd: tmp.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => { stdout += d; });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const dst = join(tmp.dir, 'pipe-dst');
    for (let t = 0; t < 600 && !existsSync(join(dst, 'data.ldb')) && child.exitCode === null; t++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    assert.equal(stdout, 'load exit 130\n', stderr);
    const m = /load stopped by SIGINT: (\d+) entries loaded into pipe-dst .*; last key loaded: (\S+); .* --skip (\d+)\n$/.exec(stderr);
    assert.ok(m, stderr);
    const checked = JSON.parse(run(['check', '--json', 'pipe-dst']).stdout);
    assert.deepEqual([checked.ok, checked.entries], [true, Number(m[1])]);
    assert.equal(m[2], key(Number(m[1]) - 1));
  });

  it('load --skip: refused past the dump\'s entries; --help says a load is not atomic and how to go on', () => {
    const r = run(['load', 'skip-past', '--skip', '3'], { input: '{"lightningdb":"dump","version":1}\n{"k":"a","v":"1"}\n{"end":true,"entries":1}\n' });
    assert.equal(r.code, EXIT.USAGE, r.stderr);
    assert.match(r.stderr, /^lightningdb: --skip 3 is more than the dump's 1 entry \(the new database at skip-past was removed\)\n$/);
    const help = run(['load', '--help']).stdout;
    assert.match(help, /--skip <n>/);
    assert.match(help, /A load is not atomic/);
    assert.match(help, /exits 130 \(SIGINT\) or 143 \(SIGTERM\)/);
    assert.match(run(['--help']).stdout, /130, 143 {2}load stopped by SIGINT \(Ctrl-C\) or SIGTERM/);
  });

  it('bench runs a bounded mix on a scratch database', () => {
    const r = run(['bench', '--json', '--duration', '0.3', '--keys', '1000']);
    assert.equal(r.code, EXIT.OK, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(j.opsPerSec > 0 && j.gets > 0 && j.puts > 0, r.stdout);
    assert.equal(existsSync(j.options.dir), false, 'the scratch database is removed');
    const text = run(['bench', '--duration', '0.2', '--keys', '500', '--progress']);
    assert.match(text.stdout, /^mix\s+\d+ ops\/s/m);
    assert.match(text.stderr, /bench\s+\|/);
  });

  it('serve on a port in use: exit 2, naming host:port (BUSY)', async () => {
    const other = createServer();
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as AddressInfo).port;
    try {
      const r = run(['serve', 'db', '--port', String(port)]);
      assert.equal(r.code, EXIT.USAGE, r.stderr);
      assert.match(r.stderr, new RegExp(`^lightningdb: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*\\(EADDRINUSE\\) \\(BUSY\\)$`, 'm'));
    } finally {
      other.close();
    }
  });

  it('serve binds 127.0.0.1 by default, answers 404/405, stops on SIGTERM', async () => {
    const child = spawn(bin, ['serve', 'db', '--port', '0', '--json'], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const first = await Promise.race([
        new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve)),
        new Promise<string>((_, reject) => setTimeout(() => reject(new Error(`serve printed nothing: ${stderr}`)), 20_000)),
      ]);
      const info = JSON.parse(first);
      assert.equal(info.host, '127.0.0.1');
      const base = `http://127.0.0.1:${info.port}`;
      assert.equal((await fetchText(`${base}/health`)).status, 200);
      // The page and its assets ship in the package (uPlot from its dependency).
      const page = await fetchText(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(page.text, /LightningDB diagnostics/);
      for (const a of ['/assets/app.js', '/assets/panel.js', '/assets/app.css', '/assets/uPlot.min.js', '/assets/uPlot.min.css']) {
        assert.equal((await fetchText(base + a)).status, 200, a);
      }
      assert.match((await fetchText(`${base}/metrics`)).text, /^lightningdb_gets_total \d+$/m);
      assert.equal((await fetchText(`${base}/nope`)).status, 404);
      const post = await fetchText(`${base}/health`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
  });
});
