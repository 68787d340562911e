/**
 * native/engine.ts — the Node engine: js/engine.ts implemented over the
 * N-API addon (node/*.c). Adapts the addon's handle-based functions to
 * EngineDb/EngineTxn/EngineIterator objects; point reads go through the
 * addon's shared read buffer and iterator chunks are decoded by
 * js/chunk.ts. Finding and loading the addon is js/native/addon.ts. Node
 * only.
 */
import type {
  Engine, EngineChange, EngineChanges, EngineChangesOptions, EngineCommitListener, EngineDb, EngineIterator,
  EngineIterOptions, EngineOp, EngineOpenOptions, EngineTxn,
} from '../engine.js';
import { decodeChanges } from '../feed.js';
import { ChunkDecoder, type ByteView } from '../chunk.js';
import { loadAddon, type Addon, type Handle, type ReadResult } from './addon.js';

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

/** A get/txnGet result as the value: a fresh Buffer (small ones come from
 * Node's Buffer pool, so a get allocates no backing store). The copy is
 * taken before any other call can reuse the read buffer. */
function takeValue(rb: ReadBuffer, r: ReadResult): Buffer | undefined {
  if (typeof r !== 'number') return r;
  if (r < 0) return undefined;
  const out = Buffer.allocUnsafe(r);
  out.set(new Uint8Array(rb.buf, rb.off, r));
  return out;
}

/** The key argument of get/txnGet: a key that fits the key area is copied
 * there (one memcpy in JS, cheaper than a TypedArray the addon must
 * inspect) and named by its length; a longer one (which the core refuses
 * with INVALID_ARGUMENT) is passed as it is. */
function keyArg(rb: ReadBuffer, key: Uint8Array): Uint8Array | number {
  if (key.length > KEY_AREA) return key;
  rb.key.set(key);
  return key.length;
}

/** Decodes a getMany result (layout at js_get_many in node/reads.c): values
 * packed into the read buffer are copied out into pooled Buffers. */
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

/** iterCreate with EngineIterOptions as positional arguments. */
function openIter(a: Addon, db: Handle, txn: Handle | null, o: EngineIterOptions): Handle {
  const flags = (o.lowerExclusive ? 1 : 0) | (o.upperExclusive ? 2 : 0) | (o.reverse ? 4 : 0);
  return a.iterCreate(db, txn, o.lower, o.upper, o.prefix, flags);
}

function iterFlags(o: EngineIterOptions): number {
  return (o.lowerExclusive ? 1 : 0) | (o.upperExclusive ? 2 : 0) | (o.reverse ? 4 : 0);
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
    const r = this.a.iterNext(this.h, max);
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
    return takeValue(this.rb, this.a.txnGet(this.h, keyArg(this.rb, key)));
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
  count(o: EngineIterOptions): number {
    return this.a.rangeCount(this.h, this.h, o.lower, o.upper, o.prefix, iterFlags(o));
  }
  deleteRange(o: EngineIterOptions, limit: number): number {
    return this.a.rangeDelete(this.h, this.h, o.lower, o.upper, o.prefix, iterFlags(o), limit);
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

class NativeChanges implements EngineChanges {
  constructor(private readonly a: Addon, private readonly h: Handle) {}
  next(max: number): EngineChange[] {
    const b = this.a.changesNext(this.h, max);
    return b === null ? [] : decodeChanges(b, 0, b.length, bufferView);
  }
  close() {
    this.a.changesClose(this.h);
  }
}

class NativeDb implements EngineDb {
  private readonly rb: ReadBuffer;
  constructor(private readonly a: Addon, private readonly h: Handle) {
    this.rb = readBufferOf(a);
  }
  get(key: Uint8Array) {
    return takeValue(this.rb, this.a.get(this.h, keyArg(this.rb, key)));
  }
  getMany(keys: Uint8Array[]) {
    return takeMany(this.rb, keys.length, this.a.getMany(this.h, keys));
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
  count(o: EngineIterOptions): number {
    return this.a.rangeCount(this.h, null, o.lower, o.upper, o.prefix, iterFlags(o));
  }
  deleteRange(o: EngineIterOptions, limit: number): number {
    return this.a.rangeDelete(this.h, null, o.lower, o.upper, o.prefix, iterFlags(o), limit);
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
  check() {
    return this.a.check(this.h);
  }
  backup(path: string) {
    this.a.backup(this.h, path);
  }
  stats() {
    return this.a.stats(this.h);
  }
  prometheus(labels?: string) {
    return this.a.prometheus(this.h, labels);
  }
  events(after: number) {
    return this.a.events(this.h, after);
  }
  changes(since: number, o: EngineChangesOptions): EngineChanges {
    const flags = (o.lowerExclusive ? 1 : 0) | (o.upperExclusive ? 2 : 0);
    return new NativeChanges(this.a, this.a.changesOpen(this.h, since, o.lower, o.upper, o.prefix, flags));
  }
  onCommit(fn: () => void): EngineCommitListener {
    const a = this.a;
    const l = a.onCommit(this.h, fn);
    return { off: () => a.offCommit(l), ref: (on: boolean) => a.refCommit(l, on) };
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
