/**
 * backend-native.ts — the 'native' backend of the shared API suite: the
 * N-API addon over POSIX directories under the OS temp directory. Node only
 * (loaded by backend.ts when LDB_BACKEND is 'native').
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../../js/index.js';
import type { Backend } from './backend.js';

const base = mkdtempSync(join(tmpdir(), 'ldb-api-'));
let counter = 0;
process.on('exit', () => rmSync(base, { recursive: true, force: true }));

export const backend: Backend = {
  open: (name, options) => open(name, options),
  tmpName: () => join(base, `db-${++counter}`),
  destroy: (name) => rmSync(name, { recursive: true, force: true }),
  persistent: true,
};
