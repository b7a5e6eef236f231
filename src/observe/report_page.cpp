// The report's style and script, inlined into every page (no network: the page opens from disk).
// The script reads the JSON in <script id="fronta-data"> and draws the task stream and the
// utilisation chart on canvases; after drawing, it writes what it drew into data-* attributes
// and a caption (the browser test reads those).
#include "observe/report_page.hpp"

namespace fronta::report {

const char* const page_style = R"CSS(
:root { --ink:#1d2330; --muted:#5b6475; --line:#d9dde5; --bg:#f6f7f9; --card:#fff; --bad:#d62728; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#1d2330; color:#fff; padding:14px 24px; }
header h1 { margin:0; font-size:20px; font-weight:600; }
header .sub { color:#c3c8d4; font-size:13px; margin-top:2px; word-break:break-all; }
main { padding:12px 24px 40px; max-width:1700px; }
section { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px 16px; margin:12px 0; }
h2 { font-size:16px; margin:0 0 8px; }
.banner { background:#fff4e5; border:1px solid #f0b35a; color:#7a4b00; border-radius:6px; padding:10px 14px; margin:12px 0; }
.cards { display:flex; flex-wrap:wrap; gap:10px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:8px 14px; min-width:130px; }
.card .v { font-size:20px; font-weight:600; }
.card .k { color:var(--muted); font-size:12px; }
.card.bad .v { color:var(--bad); }
.legend { display:flex; flex-wrap:wrap; gap:4px 16px; margin:4px 0 8px; font-size:13px; color:var(--muted); }
.legend span.item { display:inline-flex; align-items:center; gap:5px; color:var(--ink); }
.sw { display:inline-block; width:12px; height:12px; border-radius:2px; vertical-align:-1px; }
.hint { color:var(--muted); font-size:12px; }
.chart { position:relative; width:100%; }
canvas { display:block; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { padding:4px 8px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:#eef0f4; font-weight:600; position:sticky; top:0; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.bad { color:var(--bad); font-weight:600; }
td.msg { font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:12px; white-space:pre-wrap; word-break:break-word; }
.scroll { max-height:420px; overflow:auto; }
.scroll td, .scroll th { white-space:nowrap; }
.scroll td.msg { white-space:pre-wrap; min-width:280px; }
#tip { position:fixed; pointer-events:none; background:rgba(29,35,48,.95); color:#fff; font-size:12px;
       padding:6px 9px; border-radius:4px; display:none; z-index:10; max-width:420px; white-space:pre-wrap; }
button { font:inherit; font-size:12px; padding:2px 10px; border:1px solid var(--line); border-radius:4px; background:#fff; cursor:pointer; }
.caption { color:var(--muted); font-size:12px; margin-top:4px; }
details summary { cursor:pointer; color:var(--muted); }
)CSS";

const char* const page_script = R"JS(
(function () {
'use strict';
const D = JSON.parse(document.getElementById('fronta-data').textContent);
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#9c755f', '#ff9da7',
                 '#17becf', '#bcbd22', '#8c564b', '#7f7f7f'];
const BAD = '#d62728';
function colour(i) { return i < PALETTE.length ? PALETTE[i] : 'hsl(' + ((i * 137.508) % 360).toFixed(0) + ',55%,50%)'; }
function fmtTime(us) {
  const a = Math.abs(us);
  if (a === 0) return '0';
  if (a >= 3600e6) return (us / 3600e6).toFixed(2) + ' h';
  if (a >= 60e6) return (us / 60e6).toFixed(2) + ' min';
  if (a >= 1e6) return +(us / 1e6).toPrecision(4) + ' s';
  if (a >= 1e3) return +(us / 1e3).toPrecision(4) + ' ms';
  return +us.toPrecision(4) + ' µs';
}
function niceStep(span, n) {
  const raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
function canvasFor(el, w, h) {
  const dpr = window.devicePixelRatio || 1;
  el.width = Math.round(w * dpr); el.height = Math.round(h * dpr);
  el.style.width = w + 'px'; el.style.height = h + 'px';
  const ctx = el.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}
const LABEL_W = 210, AXIS_H = 26, RIGHT = 50;
const view = { t0: D.t0, t1: D.t1 };
const tip = document.getElementById('tip');
function showTip(ev, text) {
  if (!text) { tip.style.display = 'none'; return; }
  tip.textContent = text; tip.style.display = 'block';
  const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
  const y = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
  tip.style.left = x + 'px'; tip.style.top = y + 'px';
}
function axis(ctx, X, y, plotLeft, plotRight, h, labels) {
  const step = niceStep(view.t1 - view.t0, Math.max(2, Math.floor((plotRight - plotLeft) / 110)));
  ctx.font = '11px system-ui,sans-serif'; ctx.textAlign = 'center'; ctx.textBaseline = 'bottom';
  for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
    const x = Math.round(X(t)) + 0.5;
    ctx.strokeStyle = '#e3e6ec'; ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y + h); ctx.stroke();
    if (labels) { ctx.fillStyle = '#5b6475'; ctx.fillText(fmtTime(t), x, y - 4); }
  }
}

// --- the task stream -------------------------------------------------------------------------
const streamBox = document.getElementById('stream');
const streamCanvas = document.getElementById('stream-canvas');
const rowsN = D.rows.length;
const rowH = Math.max(2, Math.min(22, Math.floor(640 / Math.max(1, rowsN))));
const byRow = [];
if (D.marks) {
  for (let r = 0; r < rowsN; ++r) byRow.push([]);
  const m = D.marks;
  for (let i = 0; i < m.row.length; ++i) byRow[m.row[i]].push(i);
  for (const list of byRow) list.sort((a, b) => m.start[a] - m.start[b]);
}
let streamX = null;
function drawStream() {
  const w = Math.max(500, streamBox.clientWidth), h = AXIS_H + rowsN * rowH + 8;
  const ctx = canvasFor(streamCanvas, w, h);
  const plotW = w - LABEL_W - RIGHT;
  const X = t => LABEL_W + (t - view.t0) / (view.t1 - view.t0) * plotW;
  streamX = X;
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
  for (let r = 0; r < rowsN; ++r) {
    if (r % 2) { ctx.fillStyle = '#f7f8fa'; ctx.fillRect(LABEL_W, AXIS_H + r * rowH, plotW, rowH); }
    if (r > 0 && D.rows[r].pool !== D.rows[r - 1].pool) {
      ctx.fillStyle = '#9aa3b2'; ctx.fillRect(0, AXIS_H + r * rowH - 1, w, 1);
    }
  }
  axis(ctx, X, AXIS_H, LABEL_W, LABEL_W + plotW, rowsN * rowH, true);
  ctx.save(); ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, plotW, rowsN * rowH); ctx.clip();
  let marks = 0, tasks = 0;
  const y0 = r => AXIS_H + r * rowH + (rowH > 4 ? 1 : 0);
  const hh = rowH > 4 ? rowH - 2 : rowH;
  if (D.marks) {
    const m = D.marks;
    for (let i = 0; i < m.row.length; ++i) {
      const s = m.start[i], e = s + m.run[i];
      if (e + m.rp[i] < view.t0 || s - m.tr[i] > view.t1) continue;
      const y = y0(m.row[i]), c = colour(m.fn[i]);
      const xs = X(s), xe = Math.max(X(e), xs + 1);
      if (m.tr[i] > 0 || m.rp[i] > 0) {
        ctx.globalAlpha = 0.35; ctx.fillStyle = c;
        if (m.tr[i] > 0) { const a = X(s - m.tr[i]); ctx.fillRect(a, y, Math.max(xs - a, 1), hh); }
        if (m.rp[i] > 0) ctx.fillRect(xe, y, Math.max(X(e + m.rp[i]) - xe, 1), hh);
        ctx.globalAlpha = 1;
      }
      ctx.fillStyle = c; ctx.fillRect(xs, y, xe - xs, hh);
      if (m.out[i] !== 0) {  // failed, timeout, worker died: a red band on top
        ctx.fillStyle = BAD; ctx.fillRect(xs, y, Math.max(xe - xs, 2), Math.max(2, hh / 3));
      }
      ++marks; ++tasks;
    }
  } else {
    const c = D.cells, bw = (D.t1 - D.t0) / c.bins;
    for (let i = 0; i < c.row.length; ++i) {
      const a = D.t0 + c.bin[i] * bw, b = a + bw;
      if (b < view.t0 || a > view.t1) continue;
      const y = y0(c.row[i]), xa = X(a), xb = Math.max(X(b), xa + 1);
      ctx.globalAlpha = 0.15 + 0.85 * c.busy[i];
      ctx.fillStyle = colour(c.fn[i]); ctx.fillRect(xa, y, xb - xa, hh);
      ctx.globalAlpha = 1;
      if (c.fail[i]) { ctx.fillStyle = BAD; ctx.fillRect(xa, y, xb - xa, Math.max(1, hh / 4)); }
      ++marks; tasks += c.tasks[i];
    }
  }
  for (const ev of D.events) {  // [time, row, kind]: 0 started, 1 died, 2 replaced, 3 retired
    if (ev[1] < 0 || ev[0] < view.t0 || ev[0] > view.t1) continue;
    const x = X(ev[0]), y = AXIS_H + ev[1] * rowH;
    ctx.fillStyle = ev[2] === 1 ? BAD : ev[2] === 3 ? '#7f7f7f' : '#2ca02c';
    ctx.beginPath(); ctx.moveTo(x - 5, y); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + Math.min(rowH, 9)); ctx.fill();
  }
  ctx.restore();
  ctx.fillStyle = '#1d2330'; ctx.font = '12px system-ui,sans-serif'; ctx.textAlign = 'left'; ctx.textBaseline = 'middle';
  if (rowH >= 10) {
    for (let r = 0; r < rowsN; ++r) {
      let label = D.rows[r].label;
      while (label.length > 4 && ctx.measureText(label).width > LABEL_W - 12) label = label.slice(0, -2);
      ctx.fillText(label, 6, AXIS_H + r * rowH + rowH / 2);
    }
  } else {
    ctx.fillStyle = '#5b6475';
    ctx.fillText(rowsN + ' workers (hover for names)', 6, AXIS_H + 10);
  }
  ctx.strokeStyle = '#c9ced8'; ctx.strokeRect(LABEL_W + 0.5, AXIS_H + 0.5, plotW, rowsN * rowH);
  streamBox.dataset.rows = rowsN;
  streamBox.dataset.marks = marks;
  streamBox.dataset.tasks = tasks;
  streamBox.dataset.mode = D.marks ? 'tasks' : 'bins';
  document.getElementById('stream-caption').textContent = rowsN === 0 ? 'No worker ran a task.' : D.marks
    ? rowsN + ' worker rows, ' + marks.toLocaleString('en') + ' task marks drawn'
    : rowsN + ' worker rows, ' + marks.toLocaleString('en') + ' time bins drawn for ' + tasks.toLocaleString('en') +
      ' tasks (too many to draw one by one: each bin is coloured by the function that ran longest in it, ' +
      'its strength is how busy the worker was)';
}
function streamTip(ev) {
  const rect = streamCanvas.getBoundingClientRect();
  const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
  const r = Math.floor((y - AXIS_H) / rowH);
  if (r < 0 || r >= rowsN || !streamX) return showTip(ev, null);
  const row = D.rows[r];
  const who = row.label + (row.pool ? ' — ' + row.pool : '') + (row.where ? '\n' + row.where : '');
  if (x < LABEL_W) return showTip(ev, who);
  const plotW = streamCanvas.clientWidth - LABEL_W - RIGHT;
  const t = view.t0 + (x - LABEL_W) / plotW * (view.t1 - view.t0), tol = 3 / plotW * (view.t1 - view.t0);
  if (D.marks) {
    const m = D.marks, list = byRow[r];
    let lo = 0, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (m.start[list[mid]] <= t + tol) lo = mid + 1; else hi = mid; }
    for (let k = lo - 1; k >= 0 && k >= lo - 50; --k) {
      const i = list[k], s = m.start[i];
      if (s - m.tr[i] - tol <= t && t <= s + m.run[i] + m.rp[i] + tol) {
        let text = D.fns[m.fn[i]] + '  (task ' + m.id[i] + ', ' + D.outcomes[m.out[i]] + ')\n' + who +
          '\nstart ' + fmtTime(s) + ', ran ' + fmtTime(m.run[i]);
        if (m.tr[i] > 0 || m.rp[i] > 0) text += '\ntransfer ' + fmtTime(m.tr[i]) + ', reply ' + fmtTime(m.rp[i]);
        if (D.errors[m.id[i]]) text += '\nerror: ' + D.errors[m.id[i]];
        return showTip(ev, text);
      }
    }
  } else {
    const c = D.cells, bw = (D.t1 - D.t0) / c.bins, bin = Math.floor((t - D.t0) / bw);
    for (let i = 0; i < c.row.length; ++i) {
      if (c.row[i] !== r || c.bin[i] !== bin) continue;
      return showTip(ev, who + '\n' + fmtTime(D.t0 + bin * bw) + ' – ' + fmtTime(D.t0 + (bin + 1) * bw) +
        '\nbusy ' + Math.round(c.busy[i] * 100) + '%, mostly ' + D.fns[c.fn[i]] + '\n' +
        c.tasks[i].toLocaleString('en') + ' tasks started' + (c.fail[i] ? ', ' + c.fail[i] + ' failed' : ''));
    }
  }
  showTip(ev, who + '\nat ' + fmtTime(t) + ': idle');
}

// --- utilisation and queue depth --------------------------------------------------------------
const loadBox = document.getElementById('load');
const loadCanvas = document.getElementById('load-canvas');
const LOAD_H = 190;
let loadX = null;
// Busy share of the workers available in bin i (0 where no pool was in use).
function util(i) { return D.capacity[i] > 1e-9 ? D.running[i] / D.capacity[i] : 0; }
function drawLoad() {
  const w = Math.max(500, loadBox.clientWidth), h = LOAD_H;
  const ctx = canvasFor(loadCanvas, w, h);
  const plotW = w - LABEL_W - RIGHT, top = AXIS_H, ph = h - top - 10;
  const X = t => LABEL_W + (t - view.t0) / (view.t1 - view.t0) * plotW;
  loadX = X;
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
  axis(ctx, X, top, LABEL_W, LABEL_W + plotW, ph, true);
  const n = D.running.length, bw = (D.t1 - D.t0) / n;
  let maxU = 1, maxQ = 1;
  for (let i = 0; i < n; ++i) { maxU = Math.max(maxU, util(i)); maxQ = Math.max(maxQ, D.queued[i]); }
  const qTop = niceStep(maxQ, 1) * Math.ceil(maxQ / niceStep(maxQ, 1));
  const yU = u => top + ph - u / maxU * ph, yQ = q => top + ph - q / qTop * ph;
  ctx.save(); ctx.beginPath(); ctx.rect(LABEL_W, top, plotW, ph); ctx.clip();
  ctx.fillStyle = 'rgba(78,121,167,.35)'; ctx.strokeStyle = '#4e79a7'; ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(X(D.t0), yU(0));
  for (let i = 0; i < n; ++i) { const u = util(i); ctx.lineTo(X(D.t0 + i * bw), yU(u)); ctx.lineTo(X(D.t0 + (i + 1) * bw), yU(u)); }
  ctx.lineTo(X(D.t1), yU(0)); ctx.closePath(); ctx.fill();
  ctx.beginPath();
  for (let i = 0; i < n; ++i) { const u = util(i); ctx.lineTo(X(D.t0 + i * bw), yU(u)); ctx.lineTo(X(D.t0 + (i + 1) * bw), yU(u)); }
  ctx.stroke();
  ctx.strokeStyle = '#f28e2b'; ctx.lineWidth = 1.5; ctx.beginPath();
  for (let i = 0; i < n; ++i) { ctx.lineTo(X(D.t0 + i * bw), yQ(D.queued[i])); ctx.lineTo(X(D.t0 + (i + 1) * bw), yQ(D.queued[i])); }
  ctx.stroke();
  ctx.restore();
  ctx.font = '11px system-ui,sans-serif'; ctx.textBaseline = 'middle';
  ctx.textAlign = 'right'; ctx.fillStyle = '#4e79a7';
  for (let k = 0; k <= 4; ++k) { const u = maxU * k / 4; ctx.fillText(Math.round(u * 100) + '%', LABEL_W - 6, yU(u)); }
  ctx.textAlign = 'left'; ctx.fillStyle = '#c46a12';
  for (let k = 0; k <= 4; ++k) { const q = qTop * k / 4; ctx.fillText(+q.toPrecision(3), LABEL_W + plotW + 6, yQ(q)); }
  ctx.fillStyle = '#4e79a7'; ctx.textAlign = 'left';
  ctx.fillText('utilisation (running / workers)', 6, top + 8);
  ctx.fillStyle = '#c46a12'; ctx.fillText('queue depth (right axis)', 6, top + 24);
  ctx.strokeStyle = '#c9ced8'; ctx.lineWidth = 1; ctx.strokeRect(LABEL_W + 0.5, top + 0.5, plotW, ph);
  loadBox.dataset.bins = n;
}
function loadTip(ev) {
  const rect = loadCanvas.getBoundingClientRect(), x = ev.clientX - rect.left;
  const plotW = loadCanvas.clientWidth - LABEL_W - RIGHT;
  if (x < LABEL_W || x > LABEL_W + plotW) return showTip(ev, null);
  const t = view.t0 + (x - LABEL_W) / plotW * (view.t1 - view.t0);
  const n = D.running.length, i = Math.min(n - 1, Math.max(0, Math.floor((t - D.t0) / (D.t1 - D.t0) * n)));
  showTip(ev, 'at ' + fmtTime(t) + '\nrunning ' + D.running[i].toFixed(2) + ' of ' + D.capacity[i].toFixed(2) +
    ' workers (' + Math.round(util(i) * 100) + '%)\nqueued ' + D.queued[i].toFixed(2) +
    '\n(means over ' + fmtTime((D.t1 - D.t0) / n) + ')');
}

// --- zoom: drag across either chart; double-click or the button resets ---------------------------
function zoomable(canvas, redrawTip) {
  let from = null;
  const timeAt = x => view.t0 + (x - LABEL_W) / (canvas.clientWidth - LABEL_W - RIGHT) * (view.t1 - view.t0);
  canvas.addEventListener('mousedown', ev => { from = ev.clientX - canvas.getBoundingClientRect().left; });
  canvas.addEventListener('mouseup', ev => {
    const to = ev.clientX - canvas.getBoundingClientRect().left;
    if (from !== null && Math.abs(to - from) > 8) {
      const a = timeAt(Math.min(from, to)), b = timeAt(Math.max(from, to));
      view.t0 = Math.max(D.t0, a); view.t1 = Math.min(D.t1, b);
      if (view.t1 - view.t0 < 1e-3) view.t1 = view.t0 + 1e-3;
      redraw();
    }
    from = null;
  });
  canvas.addEventListener('dblclick', () => { view.t0 = D.t0; view.t1 = D.t1; redraw(); });
  canvas.addEventListener('mousemove', redrawTip);
  canvas.addEventListener('mouseleave', () => showTip(null, null));
}
function redraw() {
  drawStream(); drawLoad();
  document.getElementById('zoom-reset').style.visibility = view.t0 > D.t0 || view.t1 < D.t1 ? 'visible' : 'hidden';
}
document.getElementById('zoom-reset').addEventListener('click', () => { view.t0 = D.t0; view.t1 = D.t1; redraw(); });
zoomable(streamCanvas, streamTip);
zoomable(loadCanvas, loadTip);
let resizeTimer = null;
window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(redraw, 100); });
for (const s of document.querySelectorAll('.sw[data-colour]')) s.style.background = colour(+s.dataset.colour);
redraw();
document.body.dataset.drawn = '1';
})();
)JS";

}  // namespace fronta::report
