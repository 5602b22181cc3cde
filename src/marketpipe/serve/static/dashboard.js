// marketpipe dashboard. Every value from the API is provider data: it reaches the page only through
// textContent / DOM nodes, never innerHTML, and the page runs under a strict Content-Security-Policy.
"use strict";

const last = { sp500: {} };
let selected = null;
const fmt = (n, d) => (n == null || isNaN(n)) ? "–" : Number(n).toLocaleString(undefined, {minimumFractionDigits: d, maximumFractionDigits: d});
const big = n => {
  if (n == null || isNaN(n)) return "–";
  const a = Math.abs(n);
  for (const [v, s] of [[1e12, "T"], [1e9, "B"], [1e6, "M"]]) if (a >= v) return (n / v).toFixed(2) + s;
  return fmt(n, 0);
};
const $ = id => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells, cls) {
  const tr = el("tr", null, cls || "");
  for (const c of cells) {
    if (c instanceof Node) { const td = el("td"); td.appendChild(c); tr.appendChild(td); }
    else if (Array.isArray(c)) tr.appendChild(el("td", c[0], c[1]));
    else tr.appendChild(el("td", c));
  }
  return tr;
}

function fill(id, rows) { $(id).replaceChildren(...rows); }

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) return null;
  return res.json();
}

function connect(feed, onData) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}${document.body.dataset.ws || "/api/v1/ws/"}${feed}`);
  const dot = $(`dot-${feed}`);
  ws.onopen = () => { dot.classList.add("on"); };
  // Messages (see serve/push.py): mode "snapshot" carries the whole feed and replaces what we hold;
  // mode "delta" carries only changed rows, and `removed` the symbols gone from the feed.
  ws.onmessage = ev => {
    const m = JSON.parse(ev.data);
    if (m.type !== feed || !Array.isArray(m.data)) return;
    onData(m.data, m.mode === "snapshot", Array.isArray(m.removed) ? m.removed : []);
  };
  ws.onclose = () => { dot.classList.remove("on"); setTimeout(() => connect(feed, onData), 2000); };
  setInterval(() => { if (ws.readyState === 1) ws.send(JSON.stringify({action: "heartbeat"})); }, 25000);
}

// One table state: a snapshot replaces it, a delta merges changed rows and drops removed symbols.
function apply(state, rows, snapshot, removed, keyOf) {
  if (snapshot) state.clear();
  for (const k of removed) state.delete(String(k));
  for (const r of rows) { const k = r && keyOf(r); if (typeof k === "string") state.set(k, r); }
}

const board = new Map();
function renderSp500(rows, snapshot = false, removed = []) {
  apply(board, rows, snapshot, removed, r => r.symbol);
  for (const k of removed) delete last.sp500[k];
  const q = $("filter").value.trim().toUpperCase();
  const now = Date.now();
  const all = [...board.values()].sort((a, b) => a.symbol < b.symbol ? -1 : 1);
  $("count-sp500").textContent = `(${all.length})`;
  const out = [];
  for (const r of all) {
    if (q && !r.symbol.includes(q)) continue;
    const prev = last.sp500[r.symbol];
    const flash = prev == null || prev === r.price ? "" : (r.price > prev ? "flash-up" : "flash-down");
    const age = r.timestamp ? Math.max(0, (now - r.timestamp) / 1000).toFixed(0) + "s" : "–";
    const tr = row([r.symbol, fmt(r.price, 2), fmt(r.volume, 0), [age, "muted"]], `${flash} ${r.symbol === selected ? "sel" : ""}`);
    tr.dataset.s = r.symbol;
    out.push(tr);
    last.sp500[r.symbol] = r.price;
  }
  fill("sp500", out);
  if (!selected && all.length) select(all[0].symbol);
  $("stamp").textContent = "updated " + new Date().toLocaleTimeString();
}

const coins = new Map();
function renderCrypto(rows, snapshot = false, removed = []) {
  apply(coins, rows, snapshot, removed, r => r.symbol || r.market);
  const all = [...coins.values()].sort((a, b) => (Number(b.acc_trade_price_24h) || 0) - (Number(a.acc_trade_price_24h) || 0));
  $("count-crypto").textContent = `(${all.length})`;
  fill("crypto", all.slice(0, 60).map(r => {
    const rate = Number(r.change_rate || r.signed_change_rate || 0) * (r.change === "FALL" ? -1 : 1);
    return row([r.symbol || r.market, fmt(r.price ?? r.trade_price, 0), [fmt(rate * 100, 2) + "%", rate >= 0 ? "up" : "down"]]);
  }));
}

function select(symbol) {
  selected = symbol;
  document.querySelectorAll("#sp500 tr").forEach(tr => tr.classList.toggle("sel", tr.dataset.s === symbol));
  drawChart();
  loadSymbol(symbol);
}

async function drawChart() {
  if (!selected) return;
  const interval = $("interval").value;
  $("chart-title").textContent = `${selected} · ${interval} candles`;
  const body = await getJson(`/api/v1/stocks/${encodeURIComponent(selected)}/candles?interval=${interval}&limit=120`);
  const canvas = $("chart"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  canvas.dataset.candles = body ? String(body.candles.length) : "0";
  if (!body || !body.candles.length) { ctx.fillStyle = "#7d8b99"; ctx.font = "14px system-ui"; ctx.fillText("no trades yet", 20, 30); return; }
  const candles = body.candles;
  const W = canvas.width, H = canvas.height, pad = 50, volH = 60;
  const hi = Math.max(...candles.map(c => c.h)), lo = Math.min(...candles.map(c => c.l));
  const vmax = Math.max(...candles.map(c => c.v)) || 1;
  const y = p => pad / 2 + (hi - p) / ((hi - lo) || 1) * (H - pad - volH);
  const step = (W - pad) / Math.max(candles.length, 1), bw = Math.max(2, step * 0.6);
  ctx.font = "12px system-ui"; ctx.fillStyle = "#7d8b99"; ctx.strokeStyle = "#26303b";
  for (let i = 0; i <= 4; i++) {
    const p = lo + (hi - lo) * i / 4, yy = y(p);
    ctx.beginPath(); ctx.moveTo(0, yy); ctx.lineTo(W - pad, yy); ctx.stroke();
    ctx.fillText(p.toFixed(2), W - pad + 4, yy + 4);
  }
  candles.forEach((c, i) => {
    const x = i * step + step / 2, up = c.c >= c.o;
    ctx.strokeStyle = ctx.fillStyle = up ? "#26a69a" : "#ef5350";
    ctx.beginPath(); ctx.moveTo(x, y(c.h)); ctx.lineTo(x, y(c.l)); ctx.stroke();
    const top = y(Math.max(c.o, c.c)), h = Math.max(1, Math.abs(y(c.o) - y(c.c)));
    ctx.fillRect(x - bw / 2, top, bw, h);
    ctx.globalAlpha = 0.35; const vh = c.v / vmax * (volH - 8);
    ctx.fillRect(x - bw / 2, H - vh, bw, vh); ctx.globalAlpha = 1;
  });
}

function tone(label, score) {
  const s = Number(score);
  return s >= 0.05 ? "up" : (s <= -0.05 ? "down" : "");
}

async function loadSymbol(symbol) {
  const enc = encodeURIComponent(symbol);
  $("fund-symbol").textContent = symbol;
  $("news-symbol").textContent = symbol;
  const [overview, earnings, news] = await Promise.all([
    getJson(`/api/v1/stocks/${enc}/overview`),
    getJson(`/api/v1/stocks/${enc}/earnings?limit=6`),
    getJson(`/api/v1/stocks/${enc}/news?limit=15`),
  ]);
  if (symbol !== selected) return;
  const facts = [];
  const o = overview && overview.latest, p = overview && overview.profile;
  const pairs = [
    ["name", (o && o.name) || (p && p.name)], ["sector", (o && o.sector) || (p && p.sector)],
    ["industry", o && o.industry], ["market cap", o && big(o.market_capitalization)],
    ["P/E", o && fmt(o.pe_ratio, 2)], ["EPS", o && fmt(o.eps, 2)], ["beta", o && fmt(o.beta, 2)],
    ["dividend yield", o && o.dividend_yield != null ? fmt(o.dividend_yield * 100, 2) + "%" : null],
    ["52w range", o ? `${fmt(o.week_52_low, 2)} – ${fmt(o.week_52_high, 2)}` : null],
    ["target", o && fmt(o.analyst_target_price, 2)],
  ];
  for (const [k, v] of pairs) { if (v == null) continue; facts.push(el("dt", k)); facts.push(el("dd", v)); }
  if (!facts.length) facts.push(el("dt", "no overview collected yet"));
  $("fundamentals").replaceChildren(...facts);
  const reports = earnings ? earnings.history : [];
  const next = earnings && earnings.calendar.length ? [row([earnings.calendar[0].report_date, fmt(earnings.calendar[0].estimate, 2), "next", ""], "muted")] : [];
  fill("earnings", next.concat(reports.map(e => row([e.report_date, fmt(e.eps_estimate, 2), fmt(e.eps_actual, 2),
    [e.surprise_pct == null ? "–" : fmt(e.surprise_pct, 1) + "%", e.surprise_pct >= 0 ? "up" : "down"]]))));
  const items = news ? news.items : [];
  $("news").replaceChildren(...(items.length ? items.map(n => {
    const li = el("li");
    const a = el("a", n.title);
    if (/^https?:\/\//i.test(n.url)) { a.href = n.url; a.target = "_blank"; a.rel = "noopener noreferrer"; }
    li.appendChild(a);
    const meta = el("div", `${new Date(n.published_at).toLocaleString()} · ${n.source || n.providers.join(", ")}`, "meta");
    const mine = n.sentiment.find(s => s.ticker === symbol) || n.sentiment[0];
    if (mine) meta.appendChild(el("span", `${mine.label} ${fmt(mine.score, 2)} (${mine.model})`, `badge ${tone(mine.label, mine.score)}`));
    li.appendChild(meta);
    return li;
  }) : [el("li", "no news collected yet", "muted")]));
}

const MACRO = ["cpi", "federal_funds_rate", "treasury_yield_10year", "inflation"];
async function loadMacro() {
  const panels = [];
  for (const name of MACRO) {
    const s = await getJson(`/api/v1/macro/${name}?limit=36`);
    const panel = el("div", null, "panel");
    panel.dataset.series = name;
    panel.appendChild(el("div", s ? s.name : name, "muted"));
    if (!s || !s.points.length) { panel.appendChild(el("div", "not collected yet", "muted")); panels.push(panel); continue; }
    const latest = s.points[s.points.length - 1];
    panel.appendChild(el("div", `${fmt(latest.value, 2)} ${s.unit === "percent" ? "%" : ""}`, "value"));
    panel.appendChild(el("div", `${s.unit} · ${s.interval} · as of ${latest.date}`, "muted"));
    const canvas = el("canvas"); canvas.width = 300; canvas.height = 60;
    const vals = s.points.map(p => p.value).filter(v => v != null);
    const ctx = canvas.getContext("2d"), hi = Math.max(...vals), lo = Math.min(...vals);
    ctx.strokeStyle = "#4fa3ff"; ctx.beginPath();
    vals.forEach((v, i) => { const x = i / Math.max(vals.length - 1, 1) * 300, yy = 55 - (v - lo) / ((hi - lo) || 1) * 50; i ? ctx.lineTo(x, yy) : ctx.moveTo(x, yy); });
    ctx.stroke();
    panel.appendChild(canvas);
    panels.push(panel);
  }
  $("macro").replaceChildren(...panels);
}

function ago(seconds) {
  if (seconds == null || isNaN(seconds)) return "never";
  const s = Math.max(0, Number(seconds));
  for (const [v, u] of [[86400, "d"], [3600, "h"], [60, "m"]]) if (s >= v) return (s / v).toFixed(1) + u;
  return s.toFixed(0) + "s";
}

// GET /api/v1/freshness: {"checked_at", "datasets": [{dataset, group, state, age_s, ...}]}; state is
// one of fresh / late / stale / never (see ops/freshness.py). Worst first, so a problem shows at the top.
const SEVERITY = { stale: 0, never: 1, late: 2, fresh: 3 };
async function loadFreshness() {
  const body = await getJson("/api/v1/freshness");
  const list = body && Array.isArray(body.datasets) ? body.datasets : null;
  if (!list) { fill("freshness", [row([["freshness not available", "muted"], "", ""])]); return; }
  const sorted = [...list].sort((a, b) => (SEVERITY[a.state] ?? 9) - (SEVERITY[b.state] ?? 9)
    || String(a.dataset).localeCompare(String(b.dataset)));
  fill("freshness", sorted.slice(0, 80).map(d => {
    const tr = row([d.dataset, [d.state, d.state === "fresh" ? "up" : (d.state === "late" ? "" : "down")], ago(d.age_s)]);
    tr.dataset.state = String(d.state);
    return tr;
  }));
}

async function loadRuns() {
  const body = await getJson("/api/v1/runs?limit=30");
  if (!body) return;
  fill("runs", body.runs.map(r => row([r.dataset, [r.status, r.status === "ok" ? "up" : (r.status === "failed" ? "down" : "")],
    r.calls, (r.rows_inserted || 0) + (r.rows_updated || 0)])));
}

document.addEventListener("DOMContentLoaded", () => {
  $("sp500").addEventListener("click", e => { const tr = e.target.closest("tr"); if (tr) select(tr.dataset.s); });
  $("interval").addEventListener("change", drawChart);
  $("filter").addEventListener("input", () => renderSp500([]));
  connect("sp500", renderSp500);
  connect("crypto", renderCrypto);
  loadRuns(); loadMacro(); loadFreshness();
  setInterval(loadRuns, 15000); setInterval(drawChart, 5000); setInterval(loadFreshness, 30000);
});
