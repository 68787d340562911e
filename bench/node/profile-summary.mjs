#!/usr/bin/env node
/**
 * profile-summary.mjs — top functions by self time from a V8 .cpuprofile
 * (written by `npm run bench -- --cpu-prof`). Time spent inside the native
 * addon shows up as the JS function that called into it (N-API frames are
 * not JS frames), so a heavy `get` in js/native.ts means time in C.
 * Usage: node bench/node/profile-summary.mjs FILE.cpuprofile [--top 25]
 */
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const topIdx = args.indexOf('--top');
const top = topIdx >= 0 ? parseInt(args[topIdx + 1], 10) : 25;
if (!file) { console.error('usage: profile-summary.mjs FILE.cpuprofile [--top N]'); process.exit(2); }

const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
// samples[i] was taken in node samples[i]; timeDeltas[i] is the time since
// the previous sample, so attribute each delta to its sample's node.
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] || 0;
  total += dt;
  const n = byId.get(prof.samples[i]);
  const cf = n.callFrame;
  const where = cf.url ? `${path.basename(cf.url.replace(/^file:\/\//, ''))}:${cf.lineNumber + 1}` : '';
  const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
  self.set(key, (self.get(key) || 0) + dt);
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
console.log(`${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled`);
for (const [k, us] of rows) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
