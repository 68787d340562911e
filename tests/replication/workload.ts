/* workload.ts — the commits of the replication tests: commit i's ops are a
 * function of i alone, so a primary killed and started again goes on with
 * commit lastSeq + 1, and a test can rebuild what any commit wrote. */
export function workload(i: number): Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }> {
  const ops: Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }> = [];
  ops.push({ type: 'put', key: `k${String(i % 997).padStart(4, '0')}`, value: `v${i}` });
  if (i % 5 === 0) ops.push({ type: 'put', key: `b${i % 31}`, value: `batch ${i}` }, { type: 'put', key: 'last5', value: String(i) });
  if (i % 7 === 0) ops.push({ type: 'del', key: `k${String((i * 13) % 997).padStart(4, '0')}` });
  return ops;
}
