#!/usr/bin/env node
/**
 * render.mjs — re-renders the markdown, SVG chart and HTML page of a saved
 * run (bench/out/*.json) without running anything again.
 * Usage: node bench/node/render.mjs bench/out/node-latest.json [--charts DIR]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { svgChart, htmlPage, markdown, targetsMarkdown, TARGETS } from './report.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) { console.error('usage: render.mjs RUN.json [--charts DIR]'); process.exit(2); }
const ci = args.indexOf('--charts');
const charts = ci >= 0 ? path.resolve(args[ci + 1]) : path.join(root, 'bench/charts');
const run = JSON.parse(fs.readFileSync(file, 'utf8'));
const tag = run.host === 'browser' ? 'browser' : 'node';
const title = run.host === 'browser' ? 'LightningDB vs peers in the browser (Chromium, Worker)' : 'LightningDB vs peers in Node.js';
const svg = svgChart(run, title);
fs.mkdirSync(charts, { recursive: true });
const svgPath = path.join(charts, `${tag}.svg`);
const htmlPath = path.join(charts, `${tag}.html`);
fs.writeFileSync(svgPath, svg);
fs.writeFileSync(htmlPath, htmlPage(run, title, svg, TARGETS[tag]));
const rel = (p) => path.relative(path.join(root, 'bench'), p);
process.stdout.write(`${markdown(run, { chart: rel(svgPath), html: rel(htmlPath) })}\n\nTargets:\n\n${targetsMarkdown(run, TARGETS[tag])}\n`);
