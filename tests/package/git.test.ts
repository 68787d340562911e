/* git.test.ts — the package as a git dependency: `npm install git+file://…`
 * of this repository's HEAD into a fresh directory. npm clones it, installs
 * its dev dependencies, runs `prepare` (scripts/pack.mjs --prepare: builds
 * the TypeScript, the addon and — with emcc — the browser build), packs the
 * result and installs that. The installed package then works in ESM and
 * CommonJS. Part of `npm test` (its own step; alone: `npm run
 * test:package:git`). What it costs is npm's: a full dev install into the
 * clone (from npm's cache, --prefer-offline, which npm passes on to the
 * clone's install) and the build, whose three parts prepare runs side by
 * side. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const plat = `${process.platform}-${process.arch}`;

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 1_500_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('the package as a git dependency (prepare)', function () {
  this.timeout(1_800_000);
  const tmp = mkdtempSync(join(tmpdir(), 'ldb-git-'));
  const app = join(tmp, 'app');
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('npm install git+file:// builds what is missing and the package works', () => {
    // A clone of HEAD: what a git URL gives (no dist/, no prebuilds/, no build/).
    const repo = join(tmp, 'repo');
    sh('git', ['clone', '--quiet', '--no-local', root, repo], tmp);
    assert.ok(!existsSync(join(repo, 'dist')) && !existsSync(join(repo, 'prebuilds')));
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{ "name": "git-app", "private": true, "version": "1.0.0" }\n');
    sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `git+file://${repo}`], app);
    const pkg = join(app, 'node_modules', 'lightningdb');
    for (const f of ['dist/esm/index.js', 'dist/cjs/index.js', 'dist/esm/index.d.ts', 'scripts/install.mjs']) {
      assert.ok(existsSync(join(pkg, f)), `${f} missing after the git install`);
    }
    // The addon prepare built (build/node is not shipped; build.mjs copies it to prebuilds/).
    assert.ok(existsSync(join(pkg, 'prebuilds', plat, 'lightningdb.node')), 'no addon after the git install');
    writeFileSync(join(app, 't.mjs'), `
      import { open } from 'lightningdb';
      const db = open('./db', { valueEncoding: 'utf8' }); db.put('k', 'git'); console.log(db.get('k')); db.close();`);
    writeFileSync(join(app, 't.cjs'), `
      const { open } = require('lightningdb');
      const db = open('./db', { valueEncoding: 'utf8' }); console.log(db.get('k')); db.close();`);
    assert.equal(sh(process.execPath, ['t.mjs'], app).trim(), 'git');
    assert.equal(sh(process.execPath, ['t.cjs'], app).trim(), 'git');
    if (spawnSync('emcc', ['--version'], { stdio: 'ignore' }).status === 0) {
      for (const f of ['index.js', 'worker.js', 'worker-inline.js', 'lightningdb.wasm']) {
        assert.ok(existsSync(join(pkg, 'dist', 'esm', 'browser', f)), `dist/esm/browser/${f} missing after the git install`);
      }
    }
  });
});
