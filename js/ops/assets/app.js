// app.js — the page of db.serve(): mounts the diagnostics panel (panel.js)
// over the server's /api/* JSON, drawn with the uPlot script the page
// loads before it (/assets/uPlot.min.js).
import { createPanel, httpSource } from './panel.js';

createPanel(document.getElementById('app'), httpSource(''), { uPlot: window.uPlot });
