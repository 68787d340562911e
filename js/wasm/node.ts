/**
 * node.ts — the WebAssembly engine in Node: `openWasm(path, options)`
 * returns a Database (js/database.ts) over the wasm build instead of the
 * native addon. Used by the shared API tests (LDB_BACKEND=wasm-file /
 * wasm-memory), the benchmarks, and anywhere the addon cannot load.
 *
 * Stores: 'file' (default; a directory of ordinary files, byte-compatible
 * with the native build) or 'memory' (per process, kept across close/open
 * of the same path until destroyMemory()).
 *
 * The module files are looked up in $LDB_WASM_DIR, then build/wasm/ of the
 * source tree, then next to this file (the published dist/ layout).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Database } from '../database.js';
import { checkOptionKeys, DATABASE_OPTION_KEYS, keyList } from '../options.js';
import { WasmEngine } from './engine.js';
import { LdbModule, loadModule, setupError } from './module.js';
import { MemoryStore } from './stores/memory.js';
import { NodeFileStore } from './stores/node-fs.js';
import { typeError } from '../errors.js';

export type WasmNodeStore = 'file' | 'memory';
export type OpenWasmOptions = ConstructorParameters<typeof Database>[2] & { store?: WasmNodeStore };
/** The keys openWasm() takes: open()'s and store; any other is INVALID_ARGUMENT. */
const OPEN_WASM_KEYS = [...DATABASE_OPTION_KEYS, ...keyList<{ store?: WasmNodeStore }>({ store: true })];

const here = path.dirname(fileURLToPath(import.meta.url));

/** The directory holding lightningdb.mjs and lightningdb.wasm. */
export function wasmDir(): string {
  const candidates = [process.env.LDB_WASM_DIR, path.join(here, '../../build/wasm'), here].filter(Boolean) as string[];
  for (const d of candidates)
    if (fs.existsSync(path.join(d, 'lightningdb.wasm')) && fs.existsSync(path.join(d, 'lightningdb.mjs'))) return d;
  throw setupError(`lightningdb.wasm not found (looked in ${candidates.join(', ')}); run npm run build:wasm or set LDB_WASM_DIR`);
}

let modulePromise: Promise<LdbModule> | null = null;

/** A new module instance (its own heap). */
export async function loadNodeModule(): Promise<LdbModule> {
  const dir = wasmDir();
  const mod = (await import(pathToFileURL(path.join(dir, 'lightningdb.mjs')).href)) as {
    default: (o: object) => Promise<LdbModule>;
  };
  return loadModule({ factory: mod.default, wasmBinary: fs.readFileSync(path.join(dir, 'lightningdb.wasm')) });
}

const memoryStores = new Map<string, MemoryStore>();
const engines = new Map<WasmNodeStore, Promise<WasmEngine>>();

function makeEngine(kind: WasmNodeStore): Promise<WasmEngine> {
  let e = engines.get(kind);
  if (!e) {
    modulePromise ??= loadNodeModule();
    // One module per store kind; file and memory engines never share paths.
    e = (kind === 'file' ? modulePromise : loadNodeModule()).then(
      (m) =>
        new WasmEngine(m, (p) => {
          if (kind === 'file') return new NodeFileStore(p, true);
          const key = path.resolve(p);
          let s = memoryStores.get(key);
          if (!s) {
            s = new MemoryStore(`memory:${key}`);
            memoryStores.set(key, s);
          }
          return s;
        }, (ab, off, n) => Buffer.from(ab, off, n)),
    );
    engines.set(kind, e);
  }
  return e;
}

/** The Engine for a store kind (shared by every database of that kind in
 * this process). */
export function wasmEngine(kind: WasmNodeStore = 'file'): Promise<WasmEngine> {
  return makeEngine(kind);
}

/** Opens (creating by default) the database at `path` with the WebAssembly
 * engine. */
export async function openWasm(dbPath: string, options: OpenWasmOptions = {}): Promise<Database> {
  checkOptionKeys(options, OPEN_WASM_KEYS, 'openWasm()');
  const { store = 'file', ...rest } = options;
  if (store !== 'file' && store !== 'memory') throw typeError(`store must be 'file' or 'memory', got ${String(store)}`);
  const engine = await makeEngine(store);
  return new Database(engine, dbPath, rest);
}

/** Forgets the in-memory database at `path` (wasm-memory store). */
export function destroyMemory(dbPath: string): void {
  memoryStores.delete(path.resolve(dbPath));
}
