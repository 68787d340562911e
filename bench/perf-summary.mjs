#!/usr/bin/env node
/**
 * perf-summary.mjs — top frames of a `perf record -g` profile, restricted to
 * the samples of one workload. Reads `perf script` output on stdin:
 *
 *   perf record -g -o p.data ./build-prof/db_bench --engines=lightningdb ...
 *   perf script -i p.data | node bench/perf-summary.mjs --within e_ldb_get [--top 25]
 *
 * --within SYM keeps the samples whose call stack contains a frame whose
 * symbol starts with SYM (e.g. the adapter's e_ldb_get for readrandom and
 * readmissing, e_ldb_seek for seekrandom, e_ldb_scan for readseq,
 * bench_fill for the fills), so the untimed parts of a run drop out; with
 * --within given several times a sample needs all of them. Prints, for the
 * kept samples, the share of each symbol as the leaf ("self") and anywhere
 * on the stack ("inclusive", counted once per sample). Stacks are only as
 * deep as the frame pointers allow: build db_bench with
 * -fno-omit-frame-pointer (RESULTS.md says how).
 */
import readline from 'node:readline';

const within = [];
let top = 25;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--within') within.push(process.argv[++i]);
  else if (process.argv[i] === '--top') top = parseInt(process.argv[++i], 10);
  else { console.error(`unknown option ${process.argv[i]}`); process.exit(2); }
}

const self = new Map();
const incl = new Map();
let kept = 0;
let total = 0;
let stack = [];

function flush() {
  if (stack.length === 0) return;
  total++;
  if (within.every((w) => stack.some((s) => s.startsWith(w)))) {
    kept++;
    self.set(stack[0], (self.get(stack[0]) || 0) + 1);
    for (const s of new Set(stack)) incl.set(s, (incl.get(s) || 0) + 1);
  }
  stack = [];
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (line.trim() === '') { flush(); return; }
  if (!/^\s/.test(line)) { flush(); return; } // a sample's header line
  // "\t    55d0c2a1 find_leaf+0x4a (/path/db_bench)"
  const m = /^\s+[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$/.exec(line);
  if (!m) return;
  let sym = m[1].replace(/\+0x[0-9a-f]+$/, '');
  if (sym === '[unknown]') sym = `[unknown] ${m[2].split('/').pop()}`;
  stack.push(sym);
});
rl.on('close', () => {
  flush();
  const pct = (n) => `${((100 * n) / kept).toFixed(1)}%`;
  console.log(`${kept} of ${total} samples${within.length ? ` with ${within.join(' and ')} on the stack` : ''}`);
  const show = (title, map) => {
    console.log(`\n${title}`);
    for (const [s, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n).padStart(7)}  ${s}`);
  };
  if (kept) {
    show('self (leaf frame):', self);
    show('inclusive (anywhere on the stack):', incl);
  }
});
