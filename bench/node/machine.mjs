/**
 * machine.mjs — a one-line description of the machine a benchmark ran on
 * (CPU, cores, memory, kernel, Node version, file system of the temp dir).
 */
import os from 'node:os';
import { spawnSync } from 'node:child_process';

export function machine() {
  const cpus = os.cpus();
  let fsType = '';
  try {
    const r = spawnSync('df', ['-T', os.tmpdir()], { encoding: 'utf8' });
    const line = (r.stdout || '').trim().split('\n')[1];
    if (line) fsType = line.split(/\s+/)[1];
  } catch { /* no df: leave blank */ }
  const d = {
    cpu: cpus[0]?.model?.trim() || 'unknown CPU',
    cores: cpus.length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    tmpFs: fsType,
  };
  d.summary = `${d.cpu}, ${d.cores} cores, ${d.memGiB} GiB, ${d.os}, Node ${d.node}, temp dir on ${d.tmpFs || '?'}`;
  return d;
}

/** The commit measured (short hash; "+dirty" when the working tree has
 * uncommitted changes to the engine sources). */
export function gitRev(root) {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) return null;
  const d = spawnSync('git', ['status', '--porcelain', '--', 'core', 'node', 'wasm', 'js'], { cwd: root, encoding: 'utf8' });
  return r.stdout.trim() + ((d.stdout || '').trim() ? '+dirty' : '');
}
