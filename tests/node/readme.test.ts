/* readme.test.ts — every JavaScript example in README.md runs as written
 * (against the built ESM package) and does not throw. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { finished, root, tempDir } from './helpers.js';
import { spawn } from 'node:child_process';

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dist = pathToFileURL(join(root, 'dist', 'esm', 'index.js')).href;
const distLevel = pathToFileURL(join(root, 'dist', 'esm', 'level', 'index.js')).href;
/** The example with its imports of the package pointed at the build. */
const runnable = (code: string): string => code
  .replaceAll("from 'lightningdb/level'", `from ${JSON.stringify(distLevel)}`)
  .replaceAll("from 'lightningdb'", `from ${JSON.stringify(dist)}`);

describe('README examples', function () {
  this.timeout(60_000);
  const tmp = tempDir('readme');
  after(() => tmp.remove());

  it('has examples', () => assert.ok(blocks.length >= 6, `found ${blocks.length}`));

  blocks.forEach((code, i) => {
    const first = code.split('\n').find((l) => l.startsWith('const db') || l.startsWith('function')) ?? '';
    it(`example ${i + 1}: ${first.slice(0, 60)}`, async () => {
      const file = join(tmp.dir, `example-${i}.mjs`);
      writeFileSync(file, runnable(code));
      const r = await finished(spawn(process.execPath, [file], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] }));
      assert.equal(r.code, 0, `example ${i + 1} failed:\n${r.stderr}`);
    });
  });

  it('the transfer example prints the documented balances', async () => {
    const code = blocks.find((b) => b.includes('transferFunds'))!;
    const file = join(tmp.dir, 'transfer.mjs');
    writeFileSync(file, runnable(code));
    const r = await finished(spawn(process.execPath, [file], { cwd: join(tmp.dir), stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.match(r.stdout, /^70 80$/m);
    assert.match(r.stdout, /Insufficient funds/);
  });
});
