/**
 * node-fs.ts — a page store over a directory of ordinary files, for the
 * WebAssembly engine running in Node (tests, benchmarks, and tools that
 * cannot load the native addon). The files and their bytes are exactly the
 * native posix store's, so a database moves between the two builds.
 *
 * Durability: sync() is fdatasync; a commit acknowledged after sync
 * survives a crash. Locking: the in-process lock table plus the pid written
 * into `dir/LOCK` (the file the native store uses for its fcntl lock): a
 * LOCK naming another live process makes lock() fail with BUSY. JavaScript
 * cannot take fcntl locks, so a native process holding the database without
 * its pid in LOCK is not detected — do not write one database from the
 * native and the wasm build at the same time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkName, dropLock, FileTable, PageStore, StoreError, takeLock } from './types.js';

function codeOf(e: unknown): 'FULL' | 'NOT_FOUND' | 'IO' {
  const c = (e as NodeJS.ErrnoException)?.code;
  if (c === 'ENOSPC' || c === 'EDQUOT' || c === 'EFBIG') return 'FULL';
  if (c === 'ENOENT') return 'NOT_FOUND';
  return 'IO';
}

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError(codeOf(e), `${what}: ${(e as Error).message}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class NodeFileStore implements PageStore {
  readonly id: string;
  readonly kind = 'node-fs' as const;
  private readonly open_ = new FileTable<{ name: string; fd: number }>();
  private locked = false;

  /** A store over `dir`, created when missing if create is true
   * (NOT_FOUND otherwise). */
  constructor(readonly dir: string, create = true) {
    this.dir = path.resolve(dir);
    this.id = `file:${this.dir}`;
    wrap(`cannot open directory ${this.dir}`, () => {
      if (!fs.existsSync(this.dir)) {
        if (!create) throw new StoreError('NOT_FOUND', `database directory ${this.dir} does not exist`);
        fs.mkdirSync(this.dir, { recursive: true });
      }
    });
  }

  open(name: string, create: boolean): number {
    checkName(name);
    const p = path.join(this.dir, name);
    const flags = fs.constants.O_RDWR | (create ? fs.constants.O_CREAT : 0);
    const fd = wrap(`cannot open ${p}`, () => fs.openSync(p, flags, 0o644));
    return this.open_.add({ name, fd });
  }
  read(fid: number, off: number, dst: Uint8Array): number {
    const { fd, name } = this.open_.get(fid);
    return wrap(`read of ${name}`, () => {
      let done = 0;
      while (done < dst.length) {
        const n = fs.readSync(fd, dst, done, dst.length - done, off + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    });
  }
  write(fid: number, off: number, src: Uint8Array): void {
    const { fd, name } = this.open_.get(fid);
    wrap(`write to ${name}`, () => {
      let done = 0;
      while (done < src.length) done += fs.writeSync(fd, src, done, src.length - done, off + done);
    });
  }
  sync(fid: number): void {
    const { fd, name } = this.open_.get(fid);
    wrap(`sync of ${name}`, () => fs.fdatasyncSync(fd));
  }
  size(fid: number): number {
    const { fd, name } = this.open_.get(fid);
    return wrap(`size of ${name}`, () => fs.fstatSync(fd).size);
  }
  truncate(fid: number, size: number): void {
    const { fd, name } = this.open_.get(fid);
    wrap(`truncate of ${name}`, () => fs.ftruncateSync(fd, size));
  }
  close(fid: number): void {
    const { fd, name } = this.open_.delete(fid);
    wrap(`close of ${name}`, () => fs.closeSync(fd));
  }
  lock(exclusive: boolean): void {
    takeLock(this.id, exclusive, `database ${this.dir}`);
    try {
      if (exclusive) {
        const lockPath = path.join(this.dir, 'LOCK');
        let holder = NaN;
        try {
          holder = parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
        } catch {
          /* no LOCK yet */
        }
        if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder))
          throw new StoreError('BUSY', `pid ${holder}`);
        wrap(`cannot write ${lockPath}`, () => fs.writeFileSync(lockPath, `${process.pid}\n`));
      }
    } catch (e) {
      dropLock(this.id);
      throw e;
    }
    this.locked = true;
  }
  unlock(): void {
    if (!this.locked) return;
    this.locked = false;
    dropLock(this.id);
    try {
      const lockPath = path.join(this.dir, 'LOCK');
      if (parseInt(fs.readFileSync(lockPath, 'utf8'), 10) === process.pid) fs.truncateSync(lockPath, 0);
    } catch {
      /* LOCK gone or unreadable: nothing to release */
    }
  }
  remove(name: string): void {
    checkName(name);
    wrap(`cannot remove ${name}`, () => fs.rmSync(path.join(this.dir, name), { force: true }));
  }
  /** fdatasync of every open file: everything written so far is durable
   * (what the ...Async forms promise, whatever the syncMode). */
  durable(): Promise<void> {
    try {
      for (const f of this.open_.values()) wrap(`sync of ${f.name}`, () => fs.fdatasyncSync(f.fd));
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve();
  }
  release(): void {
    for (const f of [...this.open_.values()]) {
      try {
        fs.closeSync(f.fd);
      } catch {
        /* already closed */
      }
    }
    this.unlock();
  }
}
