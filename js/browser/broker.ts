/**
 * broker.ts — a SharedWorker (one per origin) that introduces a client tab
 * to the owner of a shared database with a MessageChannel, so the client's
 * calls reach the owner's Worker over a MessagePort: about half the latency
 * of the BroadcastChannels every tab can always fall back to.
 *
 * It only forwards: an owner tab's page registers `{ register: ownerId }`;
 * a client posts `{ connect: ownerId, client, enc }` with one port, which
 * goes to that owner's page (which hands it to its Worker); an unknown
 * owner is answered `{ refused }` on the client's own connection (the
 * client keeps using BroadcastChannel). It holds no database state.
 */
export {};

/** The part of SharedWorkerGlobalScope used here. */
const scope = globalThis as unknown as { onconnect: ((e: MessageEvent) => void) | null };

const owners = new Map<string, MessagePort>();

scope.onconnect = (e: MessageEvent) => {
  const port = e.ports[0]!;
  port.onmessage = (m: MessageEvent<{ register?: string; unregister?: string; connect?: string; client?: string; enc?: string }>) => {
    const d = m.data;
    if (typeof d?.register === 'string') owners.set(d.register, port);
    else if (typeof d?.unregister === 'string') {
      if (owners.get(d.unregister) === port) owners.delete(d.unregister);
    } else if (typeof d?.connect === 'string' && m.ports[0]) {
      const o = owners.get(d.connect);
      if (o) o.postMessage({ client: d.client, enc: d.enc }, [m.ports[0]]);
      else port.postMessage({ refused: d.connect, client: d.client });
    }
  };
};
