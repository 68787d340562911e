/* contract.test.ts — js/contract.ts is generated from the core's tables
 * (core/src/options.def, stats.def, errors.def) by scripts/gen-contract.mjs:
 * the generator in check mode fails on any drift between the two, and the
 * tables compiled into the addon that runs (its contract() export, walked
 * from ldb_option_table / ldb_stat_table / ldb_error_table) must say the
 * same as the generated file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERRORS, OPTIONS, STATS } from '../../js/contract.js';
import { loadAddon } from '../../js/native/addon.js';
import { ERROR_CODES } from '../../js/errors.js';
import { root } from './helpers.js';

const gen = join(root, 'scripts', 'gen-contract.mjs');
const run = (...args: string[]) => spawnSync(process.execPath, [gen, ...args], { encoding: 'utf8' });

describe('the contract between the core and js/', function () {
  this.timeout(60_000);

  it('js/contract.ts is what the .def files generate (gen-contract --check)', () => {
    const r = run('--check');
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  it('--check fails on drift: a changed default, a new row, a malformed row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldb-contract-'));
    try {
      const defs = join(dir, 'defs');
      cpSync(join(root, 'core', 'src'), defs, { recursive: true, filter: (p) => !/\.[ch]$/.test(p) });
      const out = join(dir, 'contract.ts');
      assert.equal(run('--defs', defs, '--out', out).status, 0);
      assert.equal(run('--check', '--defs', defs, '--out', out).status, 0);
      const file = join(defs, 'options.def');
      const original = readFileSync(file, 'utf8');
      writeFileSync(file, original.replace(/^(LDB_OPTION\(sync_interval_ms, syncIntervalMs, UINT, )100,/m, '$1250,'));
      const changed = run('--check', '--defs', defs, '--out', out);
      assert.equal(changed.status, 1, 'a changed default is drift');
      assert.match(changed.stderr, /out of date/);
      writeFileSync(file, `${original}LDB_OPTION(new_one, newOne, BOOL, 0, 0, 1, "", "", "A new option")\n`);
      assert.equal(run('--check', '--defs', defs, '--out', out).status, 1, 'a new row is drift');
      writeFileSync(file, `${original}LDB_OPTION(broken, broken, BOOL, 0)\n`);
      const bad = run('--check', '--defs', defs, '--out', out);
      assert.equal(bad.status, 1, 'a malformed row is an error');
      assert.match(bad.stderr, /does not match/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the addon walks the same tables that js/contract.ts describes', () => {
    const c = loadAddon().addon.contract();
    const optType = ['', 'uint', 'bool', 'enum'];
    assert.deepEqual(
      c.options.map((o) => ({ ...o, type: optType[o.type], values: o.values ? o.values.split('|') : [] })),
      OPTIONS.map((o) => ({ ...o, values: [...o.values] })),
    );
    const statType = ['', 'counter', 'gauge', 'histogram', 'sum'];
    assert.deepEqual(c.stats.map((s) => ({ ...s, type: statType[s.type] })), STATS.map((s) => ({ ...s })));
    assert.deepEqual(c.errors, ERRORS.map((e) => ({ ...e })));
    assert.deepEqual([...ERROR_CODES], ERRORS.filter((e) => e.code !== 0).map((e) => e.name));
  });

  it('the README documents every option (a Configuration row) and every error code', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const missing = [
      ...OPTIONS.filter((o) => !readme.includes(`| \`${o.jsName}\` |`)).map((o) => `option ${o.jsName}`),
      ...ERROR_CODES.filter((c) => !readme.includes(`\`${c}\``)).map((c) => `error code ${c}`),
    ];
    assert.deepEqual(missing, [], 'adding an option or a code means: the header, the .def row, the README row');
  });
});
