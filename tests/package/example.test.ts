/* example.test.ts — the browser example (examples/browser/) as a newcomer
 * uses it: its database buttons stay disabled until open() resolved (they
 * used to be clickable before, and failed with "Cannot read properties of
 * null"), then work, and are disabled again after close. Runs in Chromium
 * against dist/esm/browser (npm run build:wasm). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error tests/browser/server.mjs has no declarations
import { serve } from '../browser/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('the browser example page', function () {
  this.timeout(120_000);
  it('enables its database buttons only while the database is open', async () => {
    const server: Server = await serve(root);
    const profile = mkdtempSync(join(tmpdir(), 'ldb-example-'));
    const { chromium } = await import('playwright-core');
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS });
    try {
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const port = (server.address() as { port: number }).port;
      await page.goto(`http://127.0.0.1:${port}/examples/browser/`);
      const dataButtons = ['put', 'get', 'del', 'fill', 'scan', 'accounts', 'transfer'];
      const disabled = () => page.evaluate((ids) => ids.map((id) => (document.getElementById(id) as HTMLButtonElement).disabled), dataButtons);
      assert.deepEqual(await disabled(), dataButtons.map(() => true), 'enabled before open');
      await page.selectOption('#store', 'memory');
      await page.click('#open');
      await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('open ('));
      assert.deepEqual(await disabled(), dataButtons.map(() => false), 'still disabled after open resolved');
      await page.click('#put');
      await page.click('#get');
      await page.waitForFunction(() => /get hello -> "world"/.test(document.getElementById('log')?.textContent ?? ''));
      await page.click('#close');
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'closed');
      assert.deepEqual(await disabled(), dataButtons.map(() => true), 'enabled after close');
      assert.equal(await page.locator('#log .err').count(), 0, await page.textContent('#log') ?? '');
      assert.deepEqual(errors, []);
    } finally {
      await ctx.close();
      server.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
