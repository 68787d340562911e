// An example service with LightningDB, for deploy/docker-compose.yml.
// - db.serve() on 0.0.0.0:9470: /metrics, /health and the diagnostics page
//   (0.0.0.0 because Prometheus scrapes it from another container; publish
//   the port only to trusted networks).
// - the service's own prom-client registry on :8080/metrics, where
//   registerDatabase() adds the database's families with db="orders".
// - a small steady workload, so the dashboard has something to show.
import { createServer } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { open, registerDatabase } from 'lightningdb';

const dir = process.env.LIGHTNINGDB_PATH ?? '/data/orders';
const db = open(dir, { cacheSize: 16 * 1024 * 1024 });

const server = await db.serve({ host: '0.0.0.0', port: 9470 });
console.log(`diagnostics on ${server.url}`);

const registry = new Registry();
collectDefaultMetrics({ register: registry });
registerDatabase(registry, db, { labels: { db: 'orders' } });
createServer(async (req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end('not found\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
}).listen(8080, '0.0.0.0');

let n = 0;
setInterval(() => {
  for (let i = 0; i < 200; i++) {
    const id = String(n++ % 50000).padStart(6, '0');
    db.put(`order:${id}`, JSON.stringify({ id, at: Date.now() }));
    db.get(`order:${String(Math.floor(Math.random() * 50000)).padStart(6, '0')}`);
  }
}, 100);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, async () => {
    await server.close();
    db.close();
    process.exit(0);
  });
}
