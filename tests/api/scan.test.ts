/* scan.test.ts — range scans checked against a sorted model: every bound
 * combination (gt/gte/lt/lte/prefix/limit/reverse), seek, snapshots, laziness
 * and the convenience forms. */
import {
  backendName, cleanup, compareBytes, deepEqual, equal, ok, openDb, rng, text, throwsCode, throwsType,
  type Database, type ScanOptions,
} from './backend.js';

const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function startsWith(k: Uint8Array, p: Uint8Array): boolean {
  if (k.length < p.length) return false;
  for (let i = 0; i < p.length; i++) if (k[i] !== p[i]) return false;
  return true;
}

/** The model's answer for a scan. */
function expected(sorted: Uint8Array[], o: ScanOptions & { gt?: Uint8Array; gte?: Uint8Array; lt?: Uint8Array; lte?: Uint8Array; prefix?: Uint8Array }): string[] {
  let r = sorted.filter((k) =>
    (o.gt === undefined || compareBytes(k, o.gt) > 0) &&
    (o.gte === undefined || compareBytes(k, o.gte) >= 0) &&
    (o.lt === undefined || compareBytes(k, o.lt) < 0) &&
    (o.lte === undefined || compareBytes(k, o.lte) <= 0) &&
    (o.prefix === undefined || startsWith(k, o.prefix)));
  if (o.reverse) r = r.slice().reverse();
  if (o.limit !== undefined) r = r.slice(0, o.limit);
  return r.map(hexOf);
}

describe(`scans [${backendName}]`, () => {
  afterEach(cleanup);

  describe('against a model', () => {
    let db: Database;
    let sorted: Uint8Array[];
    let probes: Uint8Array[];

    beforeEach(() => {
      db = openDb();
      const r = rng(42);
      const set = new Map<string, Uint8Array>();
      // short keys over a small alphabet so prefixes and bounds collide
      while (set.size < 300) {
        const len = 1 + Math.floor(r() * 4);
        const k = new Uint8Array(len);
        for (let i = 0; i < len; i++) k[i] = [0x00, 0x41, 0x42, 0x43, 0xff][Math.floor(r() * 5)]!;
        set.set(hexOf(k), k);
      }
      sorted = [...set.values()].sort(compareBytes);
      db.putBatch(sorted.map((k) => [k, k]));
      // bounds: present keys, absent keys, and the extremes
      probes = [sorted[0]!, sorted[17]!, sorted[150]!, sorted[299]!, new Uint8Array([0x42]),
        new Uint8Array([0x41, 0x43, 0x01]), new Uint8Array([0x00]), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff])];
    });

    it('every bound combination, both directions, with limits', () => {
      const prefixes = [undefined, new Uint8Array([0x41]), new Uint8Array([0x42, 0x42]), new Uint8Array([0x99])];
      let checked = 0;
      for (let li = -1; li < probes.length; li++) {
        for (let ui = -1; ui < probes.length; ui++) {
          for (const lowKind of ['gt', 'gte'] as const) {
            for (const upKind of ['lt', 'lte'] as const) {
              if ((li < 0 && lowKind === 'gt') || (ui < 0 && upKind === 'lt')) continue;
              for (const prefix of prefixes) {
                for (const reverse of [false, true]) {
                  for (const limit of [undefined, 0, 1, 7]) {
                    const o: Record<string, unknown> = { reverse };
                    if (li >= 0) o[lowKind] = probes[li];
                    if (ui >= 0) o[upKind] = probes[ui];
                    if (prefix) o.prefix = prefix;
                    if (limit !== undefined) o.limit = limit;
                    const got = [...db.scan(o as ScanOptions)].map(([k, v]) => {
                      deepEqual(v, k, 'value of each entry');
                      return hexOf(k);
                    });
                    deepEqual(got, expected(sorted, o as never), JSON.stringify({ lowKind, li, upKind, ui, prefix: prefix && hexOf(prefix), reverse, limit }));
                    checked++;
                  }
                }
              }
            }
          }
        }
      }
      ok(checked > 2000, `checked ${checked} combinations`);
    });

    it('seek within bounds, in both directions', () => {
      for (const reverse of [false, true]) {
        for (const target of probes) {
          const it = db.scan({ reverse, gte: sorted[10], lte: sorted[280] });
          it.seek(target);
          const got = [...it].map(([k]) => hexOf(k));
          const inRange = sorted.filter((k) => compareBytes(k, sorted[10]!) >= 0 && compareBytes(k, sorted[280]!) <= 0);
          const want = reverse
            ? inRange.filter((k) => compareBytes(k, target) <= 0).reverse()
            : inRange.filter((k) => compareBytes(k, target) >= 0);
          deepEqual(got, want.map(hexOf), `seek ${hexOf(target)} reverse=${reverse}`);
        }
      }
    });

    it('seek after partial iteration repositions (also backwards), limit keeps counting', () => {
      const it = db.scan({ limit: 5 });
      const first = it.next();
      ok(!first.done);
      deepEqual(first.value[0], sorted[0]);
      it.seek(sorted[100]);
      deepEqual(it.next().value[0], sorted[100]);
      it.seek(sorted[2]);
      deepEqual([...it].map(([k]) => hexOf(k)), [sorted[2], sorted[3], sorted[4]].map(hexOf));
    });

    it('keys(), values(), scanPrefix, scanReverse', () => {
      deepEqual([...db.keys({ limit: 3 })].map(hexOf), sorted.slice(0, 3).map(hexOf));
      deepEqual([...db.values({ reverse: true, limit: 2 })].map(hexOf), [sorted[299], sorted[298]].map(hexOf));
      deepEqual([...db.scanPrefix(new Uint8Array([0x43]))].map(([k]) => hexOf(k)),
        sorted.filter((k) => k[0] === 0x43).map(hexOf));
      deepEqual([...db.scanPrefix(new Uint8Array([0x43]), { reverse: true, limit: 4 })].map(([k]) => hexOf(k)),
        sorted.filter((k) => k[0] === 0x43).reverse().slice(0, 4).map(hexOf));
      deepEqual([...db.scanReverse()].map(([k]) => hexOf(k)), sorted.slice().reverse().map(hexOf));
      deepEqual([...db.scanReverse(sorted[200], sorted[190])].map(([k]) => hexOf(k)),
        sorted.slice(190, 201).reverse().map(hexOf));
      deepEqual([...db.scanReverse(sorted[200], undefined, { limit: 3 })].map(([k]) => hexOf(k)),
        [sorted[200], sorted[199], sorted[198]].map(hexOf));
    });
  });

  it('string bounds and prefixes with the binary encoding', () => {
    const db = openDb();
    for (const k of ['user:1', 'user:2', 'user:3', 'order:1', 'users']) db.put(k, k.toUpperCase());
    deepEqual([...db.scanPrefix('user:')].map(([k, v]) => [text(k), text(v)]),
      [['user:1', 'USER:1'], ['user:2', 'USER:2'], ['user:3', 'USER:3']]);
    deepEqual([...db.keys({ gt: 'user:1', lt: 'users' })].map(text), ['user:2', 'user:3']);
  });

  it('reads one snapshot: writes after scan() are not seen', () => {
    const db = openDb();
    for (let i = 0; i < 50; i++) db.put(`k${String(i).padStart(2, '0')}`, 'old');
    const it = db.scan();
    const first = it.next();
    equal(text(first.value[0]), 'k00');
    db.put('k01', 'new');
    db.delete('k02');
    db.put('k99', 'added');
    const rest = [...it];
    equal(rest.length, 49);
    ok(rest.every(([, v]) => text(v) === 'old'), 'old values only');
    equal(text(rest[0]![0]), 'k01');
    equal(text(rest[1]![0]), 'k02');
    equal(text(db.get('k01')), 'new');
  });

  it('large scans are streamed in chunks and match the data', () => {
    const db = openDb();
    const n = 5000;
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < n; i++) entries.push([`key${String(i).padStart(6, '0')}`, `value-${i}`]);
    db.putBatch(entries);
    let i = 0;
    for (const [k, v] of db.scan()) {
      equal(text(k), entries[i]![0]);
      equal(text(v), entries[i]![1]);
      i++;
    }
    equal(i, n);
    let j = n;
    for (const [k] of db.scan({ reverse: true })) equal(text(k), entries[--j]![0]);
    equal(j, 0);
  });

  it('breaking out of a loop closes the scan (snapshot released)', () => {
    const db = openDb();
    for (let i = 0; i < 100; i++) db.put(`k${i}`, 'v');
    for (const [k] of db.scan()) {
      ok(k);
      break;
    }
    const it = db.scan();
    it.next();
    it.return();
    deepEqual(it.next(), { done: true, value: undefined });
    throwsCode(() => it.seek('k1'), 'CLOSED');
    equal(db.metrics().activeSnapshots, 0, 'no snapshot left open');
  });

  it('an empty database and an empty range yield nothing', () => {
    const db = openDb();
    deepEqual([...db.scan()], []);
    db.put('m', 'x');
    deepEqual([...db.scan({ gt: 'm' })], []);
    deepEqual([...db.scan({ gte: 'n', lte: 'a' })], []);
    deepEqual([...db.scan({ limit: 0 })], []);
  });

  it('bad scan options: TypeError for wrong types, INVALID_ARGUMENT for bad values', () => {
    const db = openDb();
    throwsType(() => db.scan({ gt: 5 } as never));
    throwsType(() => db.scan({ gt: 'a', gte: 'b' }));
    throwsType(() => db.scan({ lt: 'a', lte: 'b' }));
    throwsType(() => db.scan({ reverse: 'yes' } as never));
    throwsType(() => db.scan({ limit: '3' } as never));
    throwsType(() => db.scan('a' as never));
    throwsType(() => db.scanPrefix(3 as never));
    throwsCode(() => db.scan({ limit: -1 }), 'INVALID_ARGUMENT');
    throwsCode(() => db.scan({ limit: 1.5 }), 'INVALID_ARGUMENT');
    throwsType(() => db.scan().seek(undefined));
  });
});
