/* proc.ts — the processes the replication chaos test kills with SIGKILL
 * and starts again (run with node --import tsx):
 *   primary <db> <urls> <stream> <total> <perSecond>
 *     writes commit lastSeq+1, +2, ... (the workload of commit i is a
 *     function of i, so a restarted primary goes on where it stopped) up
 *     to <total> at about <perSecond>, while a Publisher publishes; prints
 *     "acked <seq>" lines; stays until killed.
 *   follower <replica> <urls> <stream>
 *     a Follower applying to the replica; prints "applied <seq>" lines.
 */
import { open } from '../../js/index.js';
import { publish, follow } from '../../js/replication/index.js';
import { workload } from './workload.js';

const [role, path, urls, stream, totalArg, rateArg] = process.argv.slice(2);
const servers = (urls ?? '').split(',');
const onError = (e: Error) => console.error(`${role}: ${e.message}`);

if (role === 'primary') {
  const total = Number(totalArg);
  const rate = Number(rateArg);
  const db = open(path!, { syncMode: 'normal' });
  const p = await publish(db, { servers, stream: stream!, replicas: 3, onError });
  let lastPrinted = -1;
  setInterval(() => {
    const s = p.stats();
    if (s.seq !== lastPrinted) console.log(`acked ${s.seq}`);
    lastPrinted = s.seq;
  }, 100);
  const tick = 10; // ms
  const per = Math.max(1, Math.round((rate * tick) / 1000));
  const write = () => {
    for (let k = 0; k < per; k++) {
      const i = db.metrics().lastSeq + 1;
      if (i > total) return;
      const ops = workload(i);
      if (ops.length === 1) db.put(ops[0]!.key, (ops[0] as { value: string }).value);
      else db.batch(ops);
    }
    setTimeout(write, tick);
  };
  write();
} else if (role === 'follower') {
  const db = open(path!, { syncMode: 'normal' });
  const f = await follow(db, { servers, stream: stream!, onError });
  let lastPrinted = -1;
  setInterval(() => {
    const s = f.stats();
    if (s.seq !== lastPrinted) console.log(`applied ${s.seq}`);
    lastPrinted = s.seq;
  }, 100);
} else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
