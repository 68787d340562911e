/**
 * chunk.ts — the one decoder of iterator chunks, shared by both engines
 * (js/native/ over the addon's read buffer, js/wasm/ over the wasm heap).
 *
 * A chunk is what ldb_iter_read (core/include/lightningdb.h) writes: entries
 * back to back, each [u32 key_len][u32 value_len][key][value], little-endian,
 * unaligned. The source bytes belong to the engine (a read buffer reused by
 * the next call, or the wasm heap, which moves when it grows), so every key
 * and value is copied out before decode() returns.
 *
 * What a returned key or value may keep alive (issue 9, item 2): never the
 * chunk, and never a byte of a value larger than POOL_ITEM_MAX other than
 * its own. Keys and values are copied out separately:
 *  - keys into 8 KiB key pools (as Node's Buffer.allocUnsafe pool does), so
 *    keeping the keys of a scan keeps other keys alive, never values;
 *  - small values in runs: consecutive entries whose values are at most
 *    POOL_ITEM_MAX bytes are copied with one copy of at most POOL_SIZE bytes
 *    of the chunk (their bytes and the small entries between them), and each
 *    value is a view of that copy;
 *  - a larger value gets an ArrayBuffer of exactly its size.
 * So a kept item retains at most POOL_SIZE bytes besides itself, and a scan
 * costs two views per entry plus one copy per key and per run (copying each
 * value on its own cost about twice as much per entry).
 */

/** Makes the Uint8Array handed to users over `length` bytes of `buffer`
 * at `byteOffset` (Node engines make Buffers; the default a Uint8Array). */
export type ByteView = (buffer: ArrayBuffer, byteOffset: number, length: number) => Uint8Array;

/** One [key, value] entry of a scan. */
export type Entry = [Uint8Array, Uint8Array];

/** Bytes of one pool (the same as Node's Buffer.poolSize). */
export const POOL_SIZE = 8192;
/** Items up to this many bytes are pooled; larger ones get their own
 * ArrayBuffer. Keys (at most 1,024 bytes) are always pooled. */
export const POOL_ITEM_MAX = 1024;

const plainView: ByteView = (buffer, byteOffset, length) => new Uint8Array(buffer, byteOffset, length);

/** Hands out disjoint byte ranges of POOL_SIZE ArrayBuffers. */
class Pool {
  #buf = new ArrayBuffer(POOL_SIZE);
  #bytes = new Uint8Array(this.#buf);
  #off = 0;

  /** A copy of src[from, from + n) (n <= POOL_ITEM_MAX) as view(). */
  take(view: ByteView, src: Uint8Array, from: number, n: number): Uint8Array {
    if (this.#off + n > POOL_SIZE) {
      this.#buf = new ArrayBuffer(POOL_SIZE);
      this.#bytes = new Uint8Array(this.#buf);
      this.#off = 0;
    }
    const off = this.#off;
    copy(this.#bytes, off, src, from, n);
    this.#off = off + n;
    return view(this.#buf, off, n);
  }
}

/** Copies n bytes; short runs byte by byte (cheaper than making the
 * subarray that TypedArray.set needs). */
function copy(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  if (n <= 32) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  } else {
    dst.set(src.subarray(from, from + n), at);
  }
}

/** The error thrown for a chunk that does not parse (a bug in an engine:
 * the code is INTERNAL, as the C core names an invariant that did not
 * hold). */
function truncated(): Error {
  return Object.assign(new Error('iterator chunk is truncated'), { code: 'INTERNAL' });
}

/** Decodes chunks into entries whose bytes are copies (see the file
 * comment). One decoder per engine instance; not shared across threads. */
export class ChunkDecoder {
  readonly #view: ByteView;
  readonly #keys = new Pool();
  /** value offsets (in src) and lengths of the entries of the open run */
  #runOff: number[] = [];
  #runLen: number[] = [];

  constructor(view: ByteView = plainView) {
    this.#view = view;
  }

  /** The entries of the chunk in src[start, end). Throws INTERNAL when an
   * entry runs past end. */
  decode(src: Uint8Array, start: number, end: number): Entry[] {
    const out: Entry[] = [];
    const view = this.#view;
    const runOff = this.#runOff;
    const runLen = this.#runLen;
    let run = 0; // entries in the open run (the last `run` of out)
    let runStart = 0; // src offset where the open run's copy starts
    let off = start;
    while (off + 8 <= end) {
      // lengths byte by byte: no DataView per chunk, no argument checks
      const kl = (src[off]! | (src[off + 1]! << 8) | (src[off + 2]! << 16) | (src[off + 3]! << 24)) >>> 0;
      const vl = (src[off + 4]! | (src[off + 5]! << 8) | (src[off + 6]! << 16) | (src[off + 7]! << 24)) >>> 0;
      const k0 = off + 8;
      const v0 = k0 + kl;
      off = v0 + vl;
      if (off > end) throw truncated();
      const key = this.#keys.take(view, src, k0, kl);
      if (vl > POOL_ITEM_MAX) {
        if (run > 0) this.#closeRun(out, src, runStart, run);
        run = 0;
        const buf = new ArrayBuffer(vl);
        new Uint8Array(buf).set(src.subarray(v0, off));
        out.push([key, view(buf, 0, vl)]);
        continue;
      }
      if (run > 0 && off - runStart > POOL_SIZE) {
        this.#closeRun(out, src, runStart, run);
        run = 0;
      }
      if (run === 0) runStart = v0;
      runOff[run] = v0;
      runLen[run] = vl;
      run++;
      out.push([key, key]); // the value is set when the run is copied
    }
    if (off !== end) throw truncated();
    if (run > 0) this.#closeRun(out, src, runStart, run);
    return out;
  }

  /** Copies the run ending at the last value of out (its `run` values start
   * at runOff[0] == runStart) and points those entries' values into it. */
  #closeRun(out: Entry[], src: Uint8Array, runStart: number, run: number): void {
    const last = run - 1;
    const n = this.#runOff[last]! + this.#runLen[last]! - runStart;
    const buf = new ArrayBuffer(n);
    copy(new Uint8Array(buf), 0, src, runStart, n);
    const view = this.#view;
    const first = out.length - run;
    for (let i = 0; i < run; i++) out[first + i]![1] = view(buf, this.#runOff[i]! - runStart, this.#runLen[i]!);
  }
}
