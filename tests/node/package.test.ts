/* package.test.ts — how the package loads: the addon lookup (prebuilds
 * first, then the CMake build), the ESM and CommonJS builds through the
 * exports map, that the addon uses Node-API only, and that the committed
 * package-lock.json is what `npm install` writes. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { addonCandidates, loadAddon, loadedAddonPath, open, version } from '../../js/index.js';
import { root, tempDir } from './helpers.js';

const built = join(root, 'build', 'node', 'lightningdb.node');
const plat = `${process.platform}-${process.arch}`;

describe('package loading', function () {
  this.timeout(60_000);
  const tmp = tempDir('pkg');
  after(() => tmp.remove());

  it('the default engine loads an addon and reports the C version', () => {
    assert.match(version(), /^\d+\.\d+\.\d+/);
    const db = open(join(tmp.dir, 'v'));
    db.close();
    const p = loadedAddonPath();
    assert.ok(p && p.endsWith('lightningdb.node'), String(p));
  });

  it('prefers prebuilds/<platform>-<arch>, falls back to build/node', () => {
    assert.ok(existsSync(built), 'run npm run build first');
    const override = process.env.LIGHTNINGDB_ADDON; // an explicit path would win
    delete process.env.LIGHTNINGDB_ADDON;
    try {
      lookupOrder();
    } finally {
      if (override !== undefined) process.env.LIGHTNINGDB_ADDON = override;
    }
  });

  it('LIGHTNINGDB_ADDON names an explicit addon, tried first', () => {
    const saved = process.env.LIGHTNINGDB_ADDON;
    process.env.LIGHTNINGDB_ADDON = built;
    try {
      assert.equal(addonCandidates(root)[0], built);
      assert.equal(loadAddon(root).path, built);
    } finally {
      if (saved === undefined) delete process.env.LIGHTNINGDB_ADDON;
      else process.env.LIGHTNINGDB_ADDON = saved;
    }
  });

  it('LIGHTNINGDB_ADDON naming a missing or broken file is a SETUP error naming it (no silent fallback)', () => {
    const saved = process.env.LIGHTNINGDB_ADDON;
    const missing = join(tmp.dir, 'no-such-dir', 'lightningdb.node');
    const broken = join(tmp.dir, 'broken.node');
    writeFileSync(broken, 'not an ELF file');
    try {
      process.env.LIGHTNINGDB_ADDON = missing;
      assert.throws(() => loadAddon(root), (e: any) => e.code === 'SETUP' &&
        e.message.includes(`LIGHTNINGDB_ADDON is set to ${missing}, which does not exist`), 'missing');
      process.env.LIGHTNINGDB_ADDON = broken;
      assert.throws(() => loadAddon(root), (e: any) => e.code === 'SETUP' &&
        e.message.includes(`LIGHTNINGDB_ADDON names could not be used: ${broken}:`) && !e.message.includes('tried:'), 'broken');
    } finally {
      if (saved === undefined) delete process.env.LIGHTNINGDB_ADDON;
      else process.env.LIGHTNINGDB_ADDON = saved;
    }
    assert.equal(loadAddon(root).path.endsWith('lightningdb.node'), true, 'unset: the package\'s own addon');
  });

  function lookupOrder() {
    const fake = join(tmp.dir, 'pkgroot');
    mkdirSync(join(fake, 'prebuilds', plat), { recursive: true });
    mkdirSync(join(fake, 'build', 'node'), { recursive: true });
    writeFileSync(join(fake, 'package.json'), '{"name":"lightningdb"}');
    // no addon at all: a helpful error
    assert.throws(() => loadAddon(fake), (e: unknown) => (e as { code?: string }).code === 'SETUP' &&
      /no native addon.*prebuilt addons for no platform.*scripts\/install\.mjs/s.test((e as Error).message));
    // only the build directory
    copyFileSync(built, join(fake, 'build', 'node', 'lightningdb.node'));
    assert.equal(loadAddon(fake).path, join(fake, 'build', 'node', 'lightningdb.node'));
    // a prebuild that does not load (not a shared object): skipped
    writeFileSync(join(fake, 'prebuilds', plat, 'lightningdb.node'), 'not an ELF file');
    assert.equal(loadAddon(fake).path, join(fake, 'build', 'node', 'lightningdb.node'));
    // a good prebuild wins
    copyFileSync(built, join(fake, 'prebuilds', plat, 'lightningdb.node'));
    const { addon, path } = loadAddon(fake);
    assert.equal(path, join(fake, 'prebuilds', plat, 'lightningdb.node'));
    assert.equal(typeof addon.version(), 'string');
    assert.deepEqual(addonCandidates(fake), [
      join(fake, 'prebuilds', plat, 'lightningdb.node'),
      join(fake, 'build', 'node', 'lightningdb.node'),
    ]);
  }

  it('ESM build through the exports map', async () => {
    const m = await import('lightningdb');
    const db = m.open(join(tmp.dir, 'esm'), { valueEncoding: 'utf8' });
    db.put('k', 'esm');
    assert.equal(db.get('k'), 'esm');
    db.close();
    assert.equal(typeof m.LightningDbError, 'function');
    assert.equal(typeof m.Database.create, 'function');
  });

  it('CommonJS build through the exports map', () => {
    const require = createRequire(join(root, 'package.json'));
    const m = require('lightningdb');
    const db = m.open(join(tmp.dir, 'cjs'), { valueEncoding: 'utf8' });
    db.put('k', 'cjs');
    assert.equal(db.get('k'), 'cjs');
    let err: unknown;
    try {
      db.put('k'.repeat(2000), 'x'); // a key over 1024 bytes
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof m.LightningDbError);
    db.close();
    assert.ok(require.resolve('lightningdb').includes(join('dist', 'cjs')));
  });

  it('lightningdb/replication from CommonJS: require() loads it, and it knows a sub-database of the CommonJS build', async () => {
    const require = createRequire(join(root, 'package.json'));
    assert.ok(require.resolve('lightningdb/replication').includes(join('dist', 'cjs', 'replication')));
    const rep = require('lightningdb/replication');
    assert.equal(typeof rep.publish, 'function');
    assert.equal(typeof rep.follow, 'function');
    const m = require('lightningdb');
    const db = m.open(join(tmp.dir, 'cjs-replication'));
    try {
      // Refused before connecting (no NATS server is needed): each CommonJS
      // bundle has its own copy of the Database module.
      const opts = { servers: 'nats://127.0.0.1:1', stream: 'cjs' };
      await assert.rejects(rep.publish(db.sub('part'), opts),
        (e: Error & { code?: string }) => e instanceof m.LightningDbError && /sub-database/.test(e.message));
      const text = m.open(join(tmp.dir, 'cjs-replication'), { valueEncoding: 'utf8' });
      await assert.rejects(rep.follow(text, opts), (e: Error) => /binary keys and values/.test(e.message));
      text.close();
    } finally {
      db.close();
    }
  });

  it('Database.create uses the default engine', async () => {
    const { Database } = await import('../../js/index.js');
    const db = Database.create(join(tmp.dir, 'create'));
    db.put('a', 'b');
    assert.equal(db.get('a')?.toString(), 'b');
    db.close();
  });

  it('the addon depends on Node-API only (no V8 or libuv symbols)', function () {
    let out: string;
    try {
      out = execFileSync('nm', ['-D', '--undefined-only', built], { encoding: 'utf8' });
    } catch {
      this.skip();
      return;
    }
    const syms = out.split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter(Boolean);
    assert.ok(syms.some((s) => s.startsWith('napi_')), 'uses napi_*');
    const bad = syms.filter((s) => /^_ZN2v8|^_ZN4node|^uv_|^node_/.test(s));
    assert.deepEqual(bad, []);
  });

  it('package-lock.json has an entry for every dependency its packages declare', () => {
    // npm install adds an entry for each declared dependency or optional
    // dependency (other platforms' too) that none of the node_modules
    // folders npm would look in holds, and so rewrites a lockfile that
    // lacks one in a fresh clone (vite's napi-windows-process-start-time
    // once did).
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { link?: boolean } & Record<'dependencies' | 'optionalDependencies' | 'devDependencies',
        Record<string, string> | undefined>>;
    };
    const pkgs = lock.packages;
    const missing: string[] = [];
    for (const [path, p] of Object.entries(pkgs)) {
      if (p.link) continue;
      const deps = { ...p.dependencies, ...p.optionalDependencies, ...(path === '' ? p.devDependencies : {}) };
      for (const name of Object.keys(deps)) {
        let dir = path;
        let found = false;
        for (;;) {
          if (pkgs[`${dir ? `${dir}/` : ''}node_modules/${name}`]) {
            found = true;
            break;
          }
          if (!dir) break;
          const i = dir.lastIndexOf('/node_modules/');
          dir = i < 0 ? '' : dir.slice(0, i);
        }
        if (!found) missing.push(`${path || '(root)'} needs ${name}`);
      }
    }
    assert.deepEqual(missing, [], 'run npm install --package-lock-only and commit package-lock.json');
  });
});
