/* contract.test.ts — js/contract.ts is generated from the core's tables
 * (core/src/options.def, stats.def, errors.def) by scripts/gen-contract.mjs:
 * the generator in check mode fails on any drift between the two, and the
 * tables compiled into the addon that runs (its contract() export, walked
 * from ldb_option_table / ldb_stat_table / ldb_error_table) must say the
 * same as the generated file; the loader passes over an addon whose tables
 * differ (contractDrift). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERRORS, OPTIONS, STATS } from '../../js/contract.js';
import { type AddonContract, contractDrift, loadAddon } from '../../js/native/addon.js';
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

  it('the loader passes over an addon built from other tables, naming the first difference', () => {
    const c = loadAddon().addon.contract();
    assert.equal(contractDrift(c), undefined, 'the addon that runs agrees');
    const copy = (): AddonContract => JSON.parse(JSON.stringify(c)) as AddonContract;
    const changed = copy();
    changed.options[1]!.default += 1;
    assert.match(contractDrift(changed) ?? '', /^option 1: the addon has cacheSize \(uint, default \d+/);
    const fewer = copy();
    fewer.stats.pop();
    assert.match(contractDrift(fewer) ?? '', /^statistic \d+: the addon has none, this JavaScript expects \w+/);
    const renamed = copy();
    renamed.errors[1]!.name = 'MISSING';
    assert.match(contractDrift(renamed) ?? '', /^error code 1: the addon has 1 MISSING, this JavaScript expects 1 NOT_FOUND/);
    // The loader itself: an "addon" (here a CommonJS module) with such
    // tables is not used, and the error says why.
    const dir = mkdtempSync(join(tmpdir(), 'ldb-drift-'));
    const fake = join(dir, 'fake-addon.cjs');
    writeFileSync(fake, `module.exports = { open() {}, version() { return '0'; }, contract() { return ${JSON.stringify(changed)}; } };`);
    const saved = process.env.LIGHTNINGDB_ADDON;
    process.env.LIGHTNINGDB_ADDON = fake;
    try {
      assert.throws(() => loadAddon(dir), /fake-addon\.cjs: built from other sources than this JavaScript \(option 1: .*\); rebuild it/);
    } finally {
      if (saved === undefined) delete process.env.LIGHTNINGDB_ADDON;
      else process.env.LIGHTNINGDB_ADDON = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the README documents every option (a Configuration row) and every error code (an Errors row)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const errors = readme.slice(readme.indexOf('\n## Errors\n'), readme.indexOf('\n## ', readme.indexOf('\n## Errors\n') + 1));
    const missing = [
      ...OPTIONS.filter((o) => !readme.includes(`| \`${o.jsName}\` |`)).map((o) => `option ${o.jsName}`),
      ...ERROR_CODES.filter((c) => !errors.includes(`\n| \`${c}\` |`)).map((c) => `error code ${c}`),
    ];
    assert.deepEqual(missing, [], 'adding an option or a code means: the header, the .def row, the README row');
  });
});
