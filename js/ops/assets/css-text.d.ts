/** Stylesheets imported as text (esbuild's `text` loader for .css, set in
 * scripts/build-browser.mjs and tests/browser/run.mjs): the browser panel
 * injects them into the page it is mounted in. */
declare module '*.css' {
  const text: string;
  export default text;
}
