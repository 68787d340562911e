/**
 * test-worker.ts — the database Worker of the main-thread proxy
 * (js/browser/worker.ts) with faults a page test can switch on, loaded
 * through open()'s workerUrl option:
 *   ?refuseOpfs=1   navigator.storage.getDirectory() rejects with
 *                   SecurityError, as in a private window;
 *   ?ch=NAME        a BroadcastChannel NAME on which { quotaCut: boolean,
 *                   seq } cuts or restores the origin's quota (OPFS writes
 *                   and IndexedDB readwrite transactions fail with
 *                   QuotaExceededError, as the existing quota tests inject
 *                   it); answered with { ack: seq }. On the same channel
 *                   { busyMs: N, seq } answers { ack: seq }, then keeps the
 *                   Worker in a synchronous loop for N ms (a hung owner:
 *                   no message is handled meanwhile). { muteAfterSubscribe:
 *                   true, seq } (answered { ack: seq }): once this Worker
 *                   answers a subscribe request (a reply { since }), it
 *                   sends nothing more to other tabs — that reply
 *                   included — and posts { muted: true } on NAME: an
 *                   owner that registered a subscription and went away
 *                   before its answer arrived (its own tab still hears
 *                   from it).
 */
/// <reference lib="webworker" />
// Static: the proxy's message handler must be installed when the module
// has evaluated (a message arriving during a top-level await is lost). The
// patches below run before any message is handled.
import '../../js/browser/worker.js';

declare const self: DedicatedWorkerGlobalScope;

const params = new URLSearchParams(self.location.search);
if (params.get('refuseOpfs')) {
  (navigator.storage as { getDirectory: () => Promise<FileSystemDirectoryHandle> }).getDirectory = () =>
    Promise.reject(new DOMException('The operation is insecure. (injected by the test)', 'SecurityError'));
}

let quotaCut = false;
let muteArmed = false;
let muted = false;
const ch = params.get('ch');
if (ch) {
  const bc = new BroadcastChannel(ch);
  bc.onmessage = (ev: MessageEvent<{ quotaCut?: boolean; busyMs?: number; muteAfterSubscribe?: boolean; seq?: number }>) => {
    if (typeof ev.data?.quotaCut === 'boolean') quotaCut = ev.data.quotaCut;
    if (ev.data?.muteAfterSubscribe === true) muteArmed = true;
    bc.postMessage({ ack: ev.data?.seq });
    if (typeof ev.data?.busyMs === 'number') {
      const end = performance.now() + ev.data.busyMs;
      while (performance.now() < end) {
        /* hung: the event loop does not turn */
      }
    }
  };
}

// Messages to other tabs go over BroadcastChannels and MessagePorts (this
// Worker's own tab: self.postMessage, not muted).
const isSubscribeReply = (m: unknown): boolean => {
  const v = (m as { ok?: unknown; value?: { since?: unknown } } | null)?.value;
  return (m as { ok?: unknown })?.ok === true && typeof v === 'object' && v !== null && typeof v.since === 'number';
};
for (const proto of [BroadcastChannel.prototype, MessagePort.prototype] as Array<{ postMessage(this: unknown, ...a: unknown[]): void }>) {
  const real = proto.postMessage;
  proto.postMessage = function (this: unknown, ...a: unknown[]): void {
    if (this instanceof BroadcastChannel && this.name === ch) return real.apply(this, a);
    if (muteArmed && !muted && isSubscribeReply(a[0])) {
      muted = true;
      new BroadcastChannel(ch!).postMessage({ muted: true });
    }
    if (muted) return;
    return real.apply(this, a);
  };
}

type SyncHandleProto = { write(buf: Uint8Array, opts: { at: number }): number };
const handleProto = (globalThis as unknown as { FileSystemSyncAccessHandle: { prototype: SyncHandleProto } })
  .FileSystemSyncAccessHandle.prototype;
const realWrite = handleProto.write;
handleProto.write = function (this: SyncHandleProto, buf: Uint8Array, opts: { at: number }): number {
  if (quotaCut && buf.length > 0) throw new DOMException('quota exceeded (injected by the test)', 'QuotaExceededError');
  return realWrite.call(this, buf, opts);
};
const realTx = IDBDatabase.prototype.transaction;
IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...a: Parameters<IDBDatabase['transaction']>): IDBTransaction {
  const tx = realTx.apply(this, a);
  if (quotaCut && a[1] === 'readwrite') {
    // Fails once its requests are queued, as a quota error does at commit.
    queueMicrotask(() => {
      Object.defineProperty(tx, 'error', { value: new DOMException('quota exceeded (injected by the test)', 'QuotaExceededError') });
      try {
        tx.abort();
      } catch {
        /* already finished */
      }
    });
  }
  return tx;
} as IDBDatabase['transaction'];
