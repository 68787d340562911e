/**
 * build.mjs — builds what the LightningDB benchmark stores need before a
 * run: the native addon + TypeScript (`npm run build`) and the WebAssembly
 * module (`npm run build:wasm` when package.json has it, else
 * scripts/build-wasm.sh). Both builds are incremental, so a second run costs
 * seconds. Output goes to bench/out/build.log; a failed build is reported,
 * not fatal: the peers still run and the LightningDB stores then fail with
 * their own error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export function buildLightning(root, { native, wasm }) {
  if (!native && !wasm) return true;
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const scripts = pkg.scripts || {};
  const steps = [];
  if (native && scripts.build) steps.push(['npm', ['run', 'build']]);
  if (wasm) {
    if (scripts['build:wasm']) steps.push(['npm', ['run', 'build:wasm']]);
    else if (fs.existsSync(path.join(root, 'scripts/build-wasm.sh'))) steps.push(['bash', ['scripts/build-wasm.sh']]);
  }
  const outDir = path.join(root, 'bench/out');
  fs.mkdirSync(outDir, { recursive: true });
  const logPath = path.join(outDir, 'build.log');
  fs.writeFileSync(logPath, '');
  let ok = true;
  for (const [cmd, argv] of steps) {
    process.stdout.write(`building: ${cmd} ${argv.join(' ')} (log: bench/out/build.log) ... `);
    const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', maxBuffer: 256 << 20 });
    fs.appendFileSync(logPath, `$ ${cmd} ${argv.join(' ')}\n${r.stdout || ''}${r.stderr || ''}\n`);
    if (r.status === 0) console.log('done');
    else { ok = false; console.log(`FAILED (exit ${r.status ?? r.error}); LightningDB stores will report the error`); }
  }
  return ok;
}
