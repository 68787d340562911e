/**
 * here.ts — the URL of a module of its own, for open() (index.ts) to tell
 * whether it runs from the package's files as they are (this module and
 * index.js are two files, so their import.meta.url differ) or from a
 * bundle that holds both (the same URL). scripts/build-browser.mjs keeps it
 * a file of its own (dist/esm/browser/here.js).
 */
export const here: string = import.meta.url;
