/**
 * native.ts — the Node engine: js/engine.ts implemented over the N-API addon
 * (node/binding.c). Finds the addon, adapts its handle-based functions to
 * EngineDb/EngineTxn/EngineIterator objects and splits the iterator's bulk
 * reads into entries. Node only.
 *
 * Addon lookup, first that loads wins:
 *   1. $LIGHTNINGDB_ADDON (an explicit path),
 *   2. prebuilds/<platform>-<arch>/lightningdb.node (shipped in the package),
 *   3. build/node/lightningdb.node (the local CMake build, `npm run build`).
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  Engine, EngineDb, EngineIterator, EngineIterOptions, EngineOp, EngineOpenOptions, EngineStats, EngineTxn,
} from './engine.js';
import { ChunkDecoder, type ByteView } from './chunk.js';

type Handle = object;

/** The functions exported by node/binding.c. */
export interface Addon {
  open(path: string, options: EngineOpenOptions): Handle;
  close(db: Handle): void;
  get(db: Handle, key: Uint8Array): Buffer | undefined;
  /** The value's length in readBuffer(), -1 when absent, or a Buffer
   * (a value larger than the read buffer). */
  getInto(db: Handle, key: Uint8Array): number | Buffer;
  /** getInto with the key in the read buffer's key area (its last
   * KEY_AREA bytes), named by its length. */
  getShared(db: Handle, keyLength: number): number | Buffer;
  /** The env's shared read buffer that getInto/txnGetInto write into. */
  readBuffer(): Buffer;
  getMany(db: Handle, keys: Uint8Array[]): Array<Buffer | undefined>;
  /** getMany into the read buffer: see js_get_many_shared in binding.c. */
  getManyShared(db: Handle, keys: Uint8Array[]): number | Array<Buffer | undefined>;
  put(db: Handle, key: Uint8Array, value: Uint8Array): void;
  del(db: Handle, key: Uint8Array): void;
  write(db: Handle, keys: Uint8Array[], values: Array<Uint8Array | undefined>): void;
  writeAsync(db: Handle, keys: Uint8Array[], values: Array<Uint8Array | undefined>): Promise<void>;
  begin(db: Handle, readOnly: boolean): Handle;
  txnGet(txn: Handle, key: Uint8Array): Buffer | undefined;
  txnGetInto(txn: Handle, key: Uint8Array): number | Buffer;
  txnGetShared(txn: Handle, keyLength: number): number | Buffer;
  txnPut(txn: Handle, key: Uint8Array, value: Uint8Array): void;
  txnDel(txn: Handle, key: Uint8Array): void;
  txnCommit(txn: Handle): void;
  txnCommitAsync(txn: Handle): Promise<void>;
  txnAbort(txn: Handle): void;
  iterCreate(db: Handle, txn: Handle | null, opts: EngineIterOptions): Handle;
  /** iterCreate with positional options; flags: 1 lowerExclusive,
   * 2 upperExclusive, 4 reverse. */
  iterOpen(
    db: Handle, txn: Handle | null, lower: Uint8Array | undefined, upper: Uint8Array | undefined,
    prefix: Uint8Array | undefined, flags: number,
  ): Handle;
  iterSeek(it: Handle, key?: Uint8Array): void;
  iterNext(it: Handle, max: number): Buffer | null;
  /** iterNext into the read buffer: the chunk's length there, a Buffer
   * (an entry larger than the read buffer), or null at the end. */
  iterNextShared(it: Handle, max: number): number | Buffer | null;
  iterClose(it: Handle): void;
  flush(db: Handle): void;
  flushAsync(db: Handle): Promise<void>;
  checkpoint(db: Handle): void;
  checkpointStep(db: Handle, budget: number): boolean;
  check(db: Handle): void;
  backup(db: Handle, path: string): void;
  stats(db: Handle): EngineStats;
  version(): string;
}


/** Directory of this module, in the ESM build, the CommonJS build (where
 * the bundler replaces import.meta.url) and under tsx. */
function moduleDir(): string {
  return dirname(fileURLToPath(import.meta.url));
}

/** The package root: the nearest ancestor with lightningdb's package.json. */
export function packageRoot(from = moduleDir()): string {
  let dir = from;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'lightningdb') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`lightningdb: package root not found above ${from}`);
    dir = up;
  }
}

/** Candidate addon paths in lookup order (those that exist). */
export function addonCandidates(root = packageRoot()): string[] {
  const list: string[] = [];
  const env = process.env.LIGHTNINGDB_ADDON;
  if (env) list.push(env);
  list.push(join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'lightningdb.node'));
  list.push(join(root, 'build', 'node', 'lightningdb.node'));
  return list.filter((p) => existsSync(p));
}

let loaded: { addon: Addon; path: string } | undefined;

/** Loads the first candidate that loads; the error lists every attempt. */
export function loadAddon(root?: string): { addon: Addon; path: string } {
  if (loaded && root === undefined) return loaded;
  const req = createRequire(import.meta.url);
  const failures: string[] = [];
  const candidates = addonCandidates(root ?? packageRoot());
  for (const path of candidates) {
    try {
      const addon = req(path) as Addon;
      if (typeof addon.open !== 'function' || typeof addon.version !== 'function') {
        failures.push(`${path}: not the LightningDB addon`);
        continue;
      }
      const result = { addon, path };
      if (root === undefined) loaded = result;
      return result;
    } catch (e) {
      failures.push(`${path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const detail = failures.length ? `\n  tried:\n  ${failures.join('\n  ')}` : '';
  throw new Error(
    `lightningdb: no native addon for ${process.platform}-${process.arch} could be loaded. ` +
      `Build it with \`npm run build\` (needs cmake, a C compiler, libzstd-dev and liblz4-dev).${detail}`,
  );
}

/** Size of the read buffer's key area (LDB_MAX_KEY_SIZE): its last bytes. */
const KEY_AREA = 1024;

/** An addon's read buffer: values land at its start; keys of up to
 * KEY_AREA bytes are copied into `key` (its tail) and named by length. */
interface ReadBuffer {
  /** the whole buffer (values are read from offset 0) */
  buf: ArrayBufferLike;
  off: number;
  /** the buffer itself, for iterator chunks read into it */
  bytes: Uint8Array;
  key: Uint8Array;
  /** copies iterator chunks out of `bytes` (one per addon instance) */
  chunks: ChunkDecoder;
}

/** Scan keys and values are Buffers, as every value in Node. */
const bufferView: ByteView = (ab, off, n) => Buffer.from(ab, off, n);

/** The read buffer of each addon instance (fetched once per addon). */
const readBuffers = new WeakMap<Addon, ReadBuffer>();

function readBufferOf(a: Addon): ReadBuffer {
  let rb = readBuffers.get(a);
  if (rb === undefined) {
    const b = a.readBuffer();
    rb = { buf: b.buffer, off: b.byteOffset, bytes: b, key: b.subarray(b.length - KEY_AREA), chunks: new ChunkDecoder(bufferView) };
    readBuffers.set(a, rb);
  }
  return rb;
}

/** A getInto/getShared result as the value: a fresh Buffer (small ones
 * come from Node's Buffer pool, so a get allocates no backing store). The
 * copy is taken before any other call can reuse the read buffer. */
function takeValue(rb: ReadBuffer, r: number | Buffer): Buffer | undefined {
  if (typeof r !== 'number') return r;
  if (r < 0) return undefined;
  const out = Buffer.allocUnsafe(r);
  out.set(new Uint8Array(rb.buf, rb.off, r));
  return out;
}

/** Decodes a getManyShared result (layout in node/binding.c): values that
 * were packed into the read buffer are copied out into pooled Buffers. */
function takeMany(rb: ReadBuffer, n: number, r: number | Array<Buffer | undefined>): Array<Buffer | undefined> {
  const spill = typeof r === 'number' ? undefined : r;
  const view = new DataView(rb.buf, rb.off);
  const bytes = new Uint8Array(rb.buf, rb.off);
  const m = view.getInt32(0, true);
  const out: Array<Buffer | undefined> = new Array(n);
  let pos = 4;
  for (let i = 0; i < m; i++) {
    const len = view.getInt32(pos, true);
    pos += 4;
    if (len >= 0) {
      const v = Buffer.allocUnsafe(len);
      v.set(bytes.subarray(pos, pos + len));
      out[i] = v;
      pos += len;
    } else {
      out[i] = len === -2 ? spill![i] : undefined;
    }
  }
  for (let i = m; i < n; i++) out[i] = spill === undefined ? undefined : spill[i];
  return out;
}

/** iterOpen for EngineIterOptions (positional: no named lookups natively). */
function openIter(a: Addon, db: Handle, txn: Handle | null, o: EngineIterOptions): Handle {
  const flags = (o.lowerExclusive ? 1 : 0) | (o.upperExclusive ? 2 : 0) | (o.reverse ? 4 : 0);
  return a.iterOpen(db, txn, o.lower, o.upper, o.prefix, flags);
}

function splitOps(ops: EngineOp[]): [Uint8Array[], Array<Uint8Array | undefined>] {
  const keys: Uint8Array[] = new Array(ops.length);
  const values: Array<Uint8Array | undefined> = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    keys[i] = op.key;
    values[i] = op.type === 'put' ? op.value : undefined;
  }
  return [keys, values];
}

class NativeIterator implements EngineIterator {
  private readonly rb: ReadBuffer;
  constructor(private readonly a: Addon, private readonly h: Handle) {
    this.rb = readBufferOf(a);
  }
  seek(key?: Uint8Array): void {
    this.a.iterSeek(this.h, key);
  }
  next(max: number): Array<[Uint8Array, Uint8Array]> {
    const r = this.a.iterNextShared(this.h, max);
    if (r === null) return [];
    // each key and value is copied out of the read buffer (or out of the
    // one-entry Buffer of an entry larger than it) by the shared decoder
    const rb = this.rb;
    return typeof r === 'number' ? rb.chunks.decode(rb.bytes, 0, r) : rb.chunks.decode(r, 0, r.length);
  }
  close(): void {
    this.a.iterClose(this.h);
  }
}

class NativeTxn implements EngineTxn {
  private readonly rb: ReadBuffer;
  constructor(private readonly a: Addon, private readonly h: Handle, readonly readOnly: boolean) {
    this.rb = readBufferOf(a);
  }
  get(key: Uint8Array) {
    const rb = this.rb;
    if (key instanceof Uint8Array && key.length <= KEY_AREA) {
      rb.key.set(key);
      return takeValue(rb, this.a.txnGetShared(this.h, key.length));
    }
    return takeValue(rb, this.a.txnGetInto(this.h, key));
  }
  put(key: Uint8Array, value: Uint8Array) {
    this.a.txnPut(this.h, key, value);
  }
  del(key: Uint8Array) {
    this.a.txnDel(this.h, key);
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    return new NativeIterator(this.a, openIter(this.a, this.h, this.h, opts));
  }
  commit() {
    this.a.txnCommit(this.h);
  }
  commitAsync() {
    return this.a.txnCommitAsync(this.h);
  }
  abort() {
    this.a.txnAbort(this.h);
  }
}

class NativeDb implements EngineDb {
  private readonly rb: ReadBuffer;
  constructor(private readonly a: Addon, private readonly h: Handle) {
    this.rb = readBufferOf(a);
  }
  get(key: Uint8Array) {
    // a key is copied into the read buffer (one memcpy in JS) rather than
    // passed as a TypedArray the addon must inspect; longer keys (which the
    // engine refuses) and non-Uint8Arrays take the argument path
    const rb = this.rb;
    if (key instanceof Uint8Array && key.length <= KEY_AREA) {
      rb.key.set(key);
      return takeValue(rb, this.a.getShared(this.h, key.length));
    }
    return takeValue(rb, this.a.getInto(this.h, key));
  }
  getMany(keys: Uint8Array[]) {
    const r = this.a.getManyShared(this.h, keys);
    return takeMany(this.rb, keys.length, r);
  }
  put(key: Uint8Array, value: Uint8Array) {
    this.a.put(this.h, key, value);
  }
  del(key: Uint8Array) {
    this.a.del(this.h, key);
  }
  write(ops: EngineOp[]) {
    const [k, v] = splitOps(ops);
    this.a.write(this.h, k, v);
  }
  writeAsync(ops: EngineOp[]) {
    const [k, v] = splitOps(ops);
    return this.a.writeAsync(this.h, k, v);
  }
  begin(readOnly: boolean): EngineTxn {
    return new NativeTxn(this.a, this.a.begin(this.h, readOnly), readOnly);
  }
  iterate(opts: EngineIterOptions): EngineIterator {
    return new NativeIterator(this.a, openIter(this.a, this.h, null, opts));
  }
  flush() {
    this.a.flush(this.h);
  }
  flushAsync() {
    return this.a.flushAsync(this.h);
  }
  checkpoint() {
    this.a.checkpoint(this.h);
  }
  checkpointStep(budget: number) {
    return this.a.checkpointStep(this.h, budget);
  }
  check() {
    this.a.check(this.h);
  }
  backup(path: string) {
    this.a.backup(this.h, path);
  }
  stats() {
    return this.a.stats(this.h);
  }
  close() {
    this.a.close(this.h);
  }
}

/** Wraps an addon (the default one, loaded lazily) as an Engine. */
export function nativeEngine(addon?: Addon): Engine {
  const get = () => addon ?? loadAddon().addon;
  return {
    kind: 'native',
    open(path: string, options: EngineOpenOptions): EngineDb {
      const a = get();
      return new NativeDb(a, a.open(path, options));
    },
    version: () => get().version(),
  };
}

/** Path of the addon the default engine loaded (undefined before use). */
export function loadedAddonPath(): string | undefined {
  return loaded?.path;
}
