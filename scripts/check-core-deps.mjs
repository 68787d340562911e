#!/usr/bin/env node
// scripts/check-core-deps.mjs OBJDIR — fails when the core's files depend on
// each other in a cycle. Module A depends on module B when A's object file
// refers to a global symbol B's object defines (nm); x.c is module x. The
// layers stack one way (store -> pager -> btree / log / memtable -> txn ->
// engine -> public API), so the graph must have no cycle; a cycle is
// printed with the symbols that make each edge. Run by scripts/test-c.sh on
// the Release build's objects (OBJDIR: build/release/CMakeFiles/
// ldb_objects.dir/core/src). Exit 0: no cycle; 1: a cycle; 2: usage.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: check-core-deps.mjs OBJDIR');
  process.exit(2);
}
const objects = readdirSync(dir).filter((f) => /\.c\.o(bj)?$/.test(f));
if (!objects.length) {
  console.error(`check-core-deps: no object files in ${dir}`);
  process.exit(2);
}
const moduleOf = (f) => basename(f).replace(/\.c\.o(bj)?$/, '');
const defines = new Map(); // symbol -> module
const uses = new Map(); // module -> Set of symbols
for (const f of objects) {
  const m = moduleOf(f);
  const r = spawnSync('nm', [join(dir, f)], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`check-core-deps: nm ${f} failed: ${r.stderr}`);
    process.exit(2);
  }
  const used = new Set();
  for (const line of r.stdout.split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p.length === 2 && p[0] === 'U') used.add(p[1]);
    else if (p.length === 3 && 'TDBRC'.includes(p[1])) defines.set(p[2], m);
  }
  uses.set(m, used);
}
const edges = new Map(); // module -> Map(module -> symbols)
for (const [m, used] of uses) {
  const out = new Map();
  for (const s of used) {
    const d = defines.get(s);
    if (d && d !== m) out.set(d, [...(out.get(d) ?? []), s]);
  }
  edges.set(m, out);
}
// Tarjan's strongly connected components.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function visit(v) {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v).keys()) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) cycles.push(scc.sort());
  }
}
for (const m of [...edges.keys()].sort()) if (!idx.has(m)) visit(m);
const count = [...edges.values()].reduce((n, e) => n + e.size, 0);
if (!cycles.length) {
  console.log(`core dependencies: ${edges.size} modules, ${count} edges, no cycle`);
  process.exit(0);
}
for (const scc of cycles) {
  console.error(`core dependency cycle: ${scc.join(' <-> ')}`);
  for (const a of scc)
    for (const [b, syms] of edges.get(a))
      if (scc.includes(b)) console.error(`  ${a} -> ${b}: ${syms.slice(0, 4).join(', ')}`);
}
process.exit(1);
