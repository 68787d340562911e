/**
 * ops/index.ts — operating LightningDB from Node: the prom-client
 * collector, db.serve() (metrics, health, diagnostics page) and the load
 * test. Importing it adds Database.prototype.serve; the Node entry
 * (js/index.ts) does, the browser entry does not (node:http).
 */
import { Database } from '../database.js';
import { serve, type OpsServer, type ServeOptions } from './server.js';

declare module '../database.js' {
  interface Database {
    /** Serves /metrics, /health and the diagnostics page for this
     * database on options.host:options.port (default 127.0.0.1:9470);
     * resolves once listening. Node only. See docs/operations.md. */
    serve(options?: ServeOptions): Promise<OpsServer>;
  }
}

Database.prototype.serve = function serveThis(this: Database, options?: ServeOptions): Promise<OpsServer> {
  return serve(this, options);
};

export { serve } from './server.js';
export type { ServeOptions, OpsServer } from './server.js';
export { registerDatabase } from './collector.js';
export type { CollectorOptions, RegistryLike } from './collector.js';
export { runLoadTest, LOAD_TEST_LIMITS } from './loadtest.js';
export type { LoadTestOptions, LoadTestResult, LoadTestPoint, LoadTestProgress } from './loadtest.js';
export { recommend } from './recommend.js';
export type { Recommendation, RecommendOptions, RecommendInput } from './recommend.js';
export type { Sample, TimelineEvent } from './sampler.js';
export { parseExposition } from './exposition.js';
export type { Family, Sample as ExpositionSample, MetricType } from './exposition.js';
