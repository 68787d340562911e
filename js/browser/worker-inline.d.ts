/** worker-inline.js, generated next to the browser bundle by
 * scripts/build-browser.mjs: the self-contained database Worker and
 * lightningdb.wasm, for bundlers that do not follow
 * new Worker(new URL('./worker.js', import.meta.url)) (index.ts loads it
 * only when worker.js or the .wasm does not load). */
/** The text of worker.js. */
export const workerSource: string;
/** lightningdb.wasm, base64. */
export const wasmBase64: string;
