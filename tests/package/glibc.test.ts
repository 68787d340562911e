/* glibc.test.ts — the glibc the Linux prebuilds need (issue 13). The
 * linux-x64 prebuild (npm run addon:release) is built against Debian 11's
 * glibc 2.31 (scripts/prebuild.mjs, build/sysroot-bullseye-amd64); here
 *   - the newest GLIBC_ symbol version each Linux prebuild refers to,
 *     read from the file itself, is at most the floor the README documents
 *     and scripts/prebuild.mjs enforces (GLIBC_FLOOR), and its manifest says
 *     the same;
 *   - it imports nothing unversioned but Node-API, and no C++ runtime;
 *   - node itself, started by glibc 2.31's loader with Debian 11's libc,
 *     libstdc++ and libgcc (the sysroot holds them), loads the prebuild and
 *     does a round trip with each compression codec: the floor is not only
 *     a number read from the file. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error scripts/prebuild.mjs has no declarations
import { GLIBC_FLOOR, versionAtMost } from '../../scripts/prebuild.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const floors = GLIBC_FLOOR as Record<string, string>;
const atMost = versionAtMost as (a: string, b: string) => boolean;
const prefix: Record<string, string> = { 'linux-x64': '', 'linux-arm64': 'aarch64-linux-gnu-' };

/** Every GLIBC_x.y[.z] version the file's dynamic symbols refer to. */
function glibcVersions(readelf: string, file: string): string[] {
  const text = execFileSync(readelf, ['--dyn-syms', '-W', file], { encoding: 'utf8' });
  return [...new Set([...text.matchAll(/@GLIBC_(\d+\.\d+(?:\.\d+)?)/g)].map((m) => m[1]!))];
}

describe('the glibc the Linux prebuilds need', function () {
  this.timeout(120_000);

  it('the README documents each floor scripts/prebuild.mjs enforces', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const [target, floor] of Object.entries(floors)) {
      assert.match(readme, new RegExp(`\\*\\*${target}\\*\\* needs glibc ${floor.replace('.', '\\.')} or newer`), target);
    }
  });

  for (const target of Object.keys(prefix)) {
    it(`${target}: no symbol newer than the documented floor, nothing unversioned but Node-API`, function () {
      const file = join(root, 'prebuilds', target, 'lightningdb.node');
      if (target !== 'linux-x64' && !existsSync(file)) this.skip(); // made by npm run test:cross only
      assert.ok(existsSync(file), `${file} missing: npm run addon:release`);
      const readelf = `${prefix[target]}readelf`;
      const versions = glibcVersions(readelf, file);
      assert.ok(versions.length > 0);
      const over = versions.filter((v) => !atMost(v, floors[target]!));
      assert.deepEqual(over, [], `${target} needs glibc ${over.join(', ')}, above the documented ${floors[target]}`);
      const newest = versions.reduce((a, b) => (atMost(a, b) ? b : a));
      const manifest = JSON.parse(readFileSync(join(root, 'prebuilds', target, 'lightningdb.json'), 'utf8'));
      assert.equal(manifest.glibc, newest);
      const undef = execFileSync(readelf, ['--dyn-syms', '-W', file], { encoding: 'utf8' }).split('\n')
        .map((l) => l.trim().split(/\s+/)).filter((f) => f[6] === 'UND' && f[7] && f[4] !== 'WEAK').map((f) => f[7]!);
      assert.deepEqual(undef.filter((s) => !s.includes('@') && !/^napi_|^node_api_/.test(s)), []);
      assert.deepEqual(undef.filter((s) => /^_Z|GLIBCXX|CXXABI|^_Unwind/.test(s)), [], 'a C++ runtime or unwinder import');
    });
  }

  it('linux-x64: node under glibc 2.31 loads the prebuild and round-trips with zstd, lz4 and snappy', function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    const sysroot = join(root, 'build', 'sysroot-bullseye-amd64');
    const loader = join(sysroot, 'lib', 'x86_64-linux-gnu', 'ld-linux-x86-64.so.2');
    assert.ok(existsSync(loader), `${loader} missing: npm run addon:release unpacks it`);
    const libs = [join(sysroot, 'lib', 'x86_64-linux-gnu'), join(sysroot, 'usr', 'lib', 'x86_64-linux-gnu')].join(':');
    const addon = join(root, 'prebuilds', 'linux-x64', 'lightningdb.node');
    const tmp = mkdtempSync(join(tmpdir(), 'ldb-glibc-'));
    try {
      const script = join(tmp, 'smoke.mjs');
      writeFileSync(script, `
        const glibc = process.report.getReport().header.glibcVersionRuntime;
        const { open, loadedAddonPath } = await import(${JSON.stringify(join(root, 'dist', 'esm', 'index.js'))});
        const out = [];
        for (const compression of ['zstd', 'lz4', 'snappy']) {
          const path = ${JSON.stringify(tmp)} + '/' + compression;
          const db = open(path, { valueEncoding: 'utf8', compression });
          for (let i = 0; i < 2000; i++) db.put('k' + String(i).padStart(4, '0'), 'v'.repeat(300) + i);
          db.checkpoint();
          db.close();
          const again = open(path, { valueEncoding: 'utf8' });
          out.push(compression + ':' + again.get('k1999').slice(-4) + ':' + [...again.scan({ prefix: 'k19' })].length);
          again.close();
        }
        console.log(JSON.stringify({ glibc, out, path: loadedAddonPath() }));`);
      const r = spawnSync(loader, ['--library-path', libs, process.execPath, script], {
        encoding: 'utf8', env: { ...process.env, LIGHTNINGDB_ADDON: addon } });
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.deepEqual(got, { glibc: '2.31', out: ['zstd:1999:100', 'lz4:1999:100', 'snappy:1999:100'], path: addon });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
