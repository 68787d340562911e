/**
 * memory.ts — a page store in JavaScript memory. Files survive closing and
 * reopening the database through the same store object (the engine keeps one
 * per path), and vanish with it: nothing is ever durable. For tests and
 * ephemeral databases; also the base of the IndexedDB store, which keeps
 * its image in memory too.
 */
import { checkName, dropLock, FileTable, MemFile, PageStore, StoreError, takeLock } from './types.js';

let anon = 0;

export class MemoryStore implements PageStore {
  readonly id: string;
  readonly kind: PageStore['kind'] = 'memory';
  protected readonly files = new Map<string, MemFile>();
  protected readonly open_ = new FileTable<{ name: string; file: MemFile }>();
  private locked = false;

  constructor(id?: string) {
    this.id = id ?? `memory:#${++anon}`;
  }

  open(name: string, create: boolean): number {
    checkName(name);
    let file = this.files.get(name);
    if (!file) {
      if (!create) throw new StoreError('NOT_FOUND', `file ${name} does not exist`);
      file = new MemFile();
      this.files.set(name, file);
      this.created(name, file);
    }
    return this.open_.add({ name, file });
  }
  /** Hook for subclasses: a file came into existence. */
  protected created(_name: string, _file: MemFile): void {}

  read(fid: number, off: number, dst: Uint8Array): number {
    return this.open_.get(fid).file.read(off, dst);
  }
  write(fid: number, off: number, src: Uint8Array): void {
    this.open_.get(fid).file.write(off, src);
  }
  sync(fid: number): void {
    this.open_.get(fid);
  }
  size(fid: number): number {
    return this.open_.get(fid).file.size;
  }
  truncate(fid: number, size: number): void {
    this.open_.get(fid).file.truncate(size);
  }
  close(fid: number): void {
    this.open_.delete(fid);
  }
  lock(exclusive: boolean): void {
    takeLock(this.id, exclusive, `database ${this.id}`);
    this.locked = true;
  }
  unlock(): void {
    if (this.locked) dropLock(this.id);
    this.locked = false;
  }
  remove(name: string): void {
    checkName(name);
    this.files.delete(name);
  }
  durable(): Promise<void> {
    return Promise.resolve();
  }
  release(): void {
    this.unlock();
  }
  /** The names of the files in the store (for tests and tools). */
  list(): string[] {
    return [...this.files.keys()];
  }
  /** A copy of a file's bytes, or undefined. */
  fileBytes(name: string): Uint8Array | undefined {
    return this.files.get(name)?.bytes().slice();
  }
}
