#!/usr/bin/env node
// The `lightningdb` command of the npm package: runs js/cli/main.ts as
// compiled into dist/esm/cli/main.js. Exit codes are documented there and
// in docs/operations.md.
import { main } from '../dist/esm/cli/main.js';

process.exitCode = await main(process.argv);
