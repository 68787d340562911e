/* helpers.ts — shared bits of the Node-only tests: temp directories and
 * child processes running the fixtures (which import 'lightningdb', i.e.
 * the built package through its exports map). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const root = fileURLToPath(new URL('../../', import.meta.url));

/** The code of the error fn throws (its name when it has no code), or
 * 'no error'. */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).name;
  }
  return 'no error';
}

export function tempDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `ldb-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runFixture(name: string, args: string[], nodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, join(fixtures, name), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with the child's exit code and its whole output. */
export function finished(child: ChildProcess): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Resolves with the first stdout line matching re. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re}; stderr: ${err}`)), timeoutMs);
    child.stderr?.on('data', (d) => (err += d));
    child.stdout?.on('data', (d) => {
      buf += d;
      for (const line of buf.split('\n')) {
        if (re.test(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before ${re}; stderr: ${err}`));
    });
  });
}
