/** The Emscripten output (build/wasm/lightningdb.mjs), imported by the
 * browser entry and resolved by the bundler. */
declare module '*/lightningdb.mjs' {
  const factory: (opts: object) => Promise<import('./module.js').LdbModule>;
  export default factory;
}
