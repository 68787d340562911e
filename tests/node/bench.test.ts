/* bench.test.ts — the Node benchmark harness (bench/node/workloads.mjs)
 * must not weigh on the store it measures. Issue 14: at N = 10M the
 * harness made a Float64Array of one latency slot per op for every
 * workload (80 MB each), V8 counted the dead ones as external memory until
 * a full GC, and past its external-memory limit V8 marked the harness's
 * 2 GB heap during the next workload: LightningDB's scans after the random
 * gets ran 4-5x slower, with V8's marking threads on a second core. Nothing
 * here is timed: the harness runs over a fake store that allocates nothing,
 * and the test counts the ArrayBuffer bytes alive when a workload runs. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..', '..');
const workloadsUrl = pathToFileURL(join(root, 'bench', 'node', 'workloads.mjs')).href;

describe('benchmark harness (bench/node/workloads.mjs)', function () {
  this.timeout(60_000);

  it('allocates no ArrayBuffer per workload: a scan starts with the bytes of the baseline', async () => {
    const { runWorkloads } = await import(workloadsUrl);
    const n = 100_000;
    const value = new Uint8Array(100);
    const present = (k: Uint8Array) => (k[15]! & 1) === 0; // present keys have even ids
    let base = -1;
    const atScan: number[] = [];
    const store = {
      open() {},
      close() {},
      putBatch() {},
      put() {},
      get: (_kind: string, k: Uint8Array) => (present(k) ? value : undefined),
      getBatch: (_kind: string, keys: Uint8Array[]) => keys.map(() => value),
      scan() {
        atScan.push(process.memoryUsage().arrayBuffers);
        return n;
      },
      seek: () => 1,
    };
    const out = await runWorkloads(store, n, {
      now: () => performance.now(),
      makeBytes: (len: number) => Buffer.alloc(len),
      only: new Set(['readrandom', 'readmissing', 'readseq', 'readreverse']),
      progress() {},
      baseline() {
        base = process.memoryUsage().arrayBuffers;
      },
    });
    assert.ok(base > 0, 'the harness called baseline()');
    assert.equal(atScan.length, 2, 'readseq and readreverse each scanned once');
    // One latency slot per op would be n * 8 bytes per workload, alive
    // during its run; the samples buffer is made before the baseline.
    for (const bytes of atScan) {
      assert.ok(bytes - base < (n * 8) / 4, `${bytes - base} ArrayBuffer bytes above the baseline at a scan (n = ${n})`);
    }
    // ... and it is large enough: no latency sample was dropped
    const reads = out.results.filter((r: { workload: string }) => r.workload === 'readrandom' || r.workload === 'readmissing');
    assert.equal(reads.length, 2);
    for (const r of reads) assert.equal(r.latencyUs.samples, n / 8, r.workload);
  });
});
