// Tableau de bord (/supervision): the page is rendered by the server; this script keeps it live. The wallboard's
// websocket (/ws/supervision) says "something changed" (a few times a second at most); the page then reads
// /api/supervision again and redraws the three tables with textContent (never HTML). The clocks (waits, time in
// state) tick every second without any request. The polite live region announces only what matters: calls start
// or stop waiting, a caller waits beyond the threshold, a figure passes its target or falls below it.
"use strict";

const $ = (id) => document.getElementById(id);
let socket = null;
let retry = 500;
let fetching = null;
let again = false;
let last = null; // the previous snapshot, to tell what changed
let skew = 0; // server clock − browser clock, in ms
let threshold = null; // seconds: a wait beyond it is flagged (the service level's T)
const overSaid = new Set(); // the waiting calls already announced as beyond the threshold

function text(el, value) { el.textContent = value == null ? "" : String(value); }

function duration(seconds) {
  if (seconds == null) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (h) return h + " h " + two(m) + " min";
  if (m) return m + " min " + two(r) + " s";
  return r + " s";
}

function minutesSeconds(seconds) { // a hold's length, m:ss (« 1:05 »)
  const s = Math.max(0, Math.floor(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

// « — appel en attente depuis 1:05 » after an advisor's state while their caller is on hold (said in words)
function holdNote(since) {
  const span = document.createElement("span");
  span.className = "wb-hold";
  span.dataset.holdSince = since;
  text(span, " — appel en attente depuis ");
  const clock = document.createElement("span");
  clock.className = "wb-hold-clock";
  span.appendChild(clock);
  return span;
}

function cell(row, tag, value, scope) {
  const el = document.createElement(tag);
  if (scope) el.scope = scope;
  text(el, value);
  row.appendChild(el);
  return el;
}

function clock(row, since) {
  const span = document.createElement("span");
  span.className = "wb-clock";
  row.dataset.since = since || "";
  return span;
}

function fill(tbody, rows, empty, columns) {
  tbody.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(tr, "td", empty);
    td.colSpan = columns;
    tbody.appendChild(tr);
  }
  for (const row of rows) tbody.appendChild(row);
}

function draw(s) {
  skew = Date.parse(s.at) - Date.now();
  threshold = s.threshold_seconds;
  const gone = $("wb-unavailable"); // the database away: the calls only
  gone.replaceChildren();
  if (s.unavailable) { const p = document.createElement("p"); p.className = "error"; text(p, s.unavailable); gone.appendChild(p); }
  text($("wb-figures-note"), s.figures_note);
  text($("wb-day"), "— " + s.day);
  text($("wb-waiting-count"), s.waiting.length);
  text($("wb-in-call"), s.in_call);
  text($("wb-on-hold"), s.on_hold ? ", dont " + s.on_hold + " en attente" : "");
  fill($("wb-waiting").tBodies[0], s.waiting.map((w) => {
    const tr = document.createElement("tr");
    tr.dataset.linkedid = w.linkedid;
    cell(tr, "td", w.caller);
    cell(tr, "td", w.topic || "—");
    cell(tr, "td", "").appendChild(clock(tr, w.queued_at));
    cell(tr, "td", w.ringing || "—");
    if (w.over_target) flagOver(tr);
    return tr;
  }), "Aucun appel en attente.", 4);
  fill($("wb-advisors").tBodies[0], s.advisors.map((a) => {
    const tr = document.createElement("tr");
    tr.className = "state-" + a.state;
    cell(tr, "th", a.name, "row");
    const state = cell(tr, "td", a.state_label);
    if (a.on_hold_since) state.appendChild(holdNote(a.on_hold_since));
    cell(tr, "td", "").appendChild(clock(tr, a.since));
    cell(tr, "td", (a.reason || "") + (a.by ? " (par " + a.by + " : " + (a.note || "") + ")" : ""));
    return tr;
  }), s.unavailable ? "Indisponible pour le moment." : "Aucun conseiller actif.", 4);
  const figures = $("wb-figures").tBodies[0];
  for (const f of s.figures) {
    const tr = figures.querySelector('tr[data-name="' + f.name + '"]');
    if (!tr) continue;
    tr.className = "kpi-" + f.status;
    text(tr.cells[1], f.shown);
    text(tr.cells[2], f.target || "—");
    text(tr.cells[3], f.status_label || "—");
  }
  const time = $("wb-updated").querySelector("time");
  time.dateTime = s.at;
  text(time, s.time);
  tick();
  announce(last, s);
  last = s;
}

function flagOver(tr) {
  if (tr.classList.contains("kpi-below")) return;
  tr.classList.add("kpi-below");
  const b = document.createElement("strong");
  text(b, " (au-delà du seuil)");
  tr.cells[2].appendChild(b);
}

// The clocks tick here, between snapshots; a caller passing the threshold meanwhile is flagged and announced once.
function tick() {
  const now = Date.now() + skew;
  const crossed = [];
  for (const tr of document.querySelectorAll(".wallboard tr[data-since]")) {
    const span = tr.querySelector(".wb-clock");
    if (!span || !tr.dataset.since) continue;
    const seconds = (now - Date.parse(tr.dataset.since)) / 1000;
    text(span, duration(seconds));
    const id = tr.dataset.linkedid;
    if (id && threshold != null && seconds > threshold) {
      flagOver(tr);
      if (!overSaid.has(id)) { overSaid.add(id); crossed.push(id); }
    }
  }
  for (const hold of document.querySelectorAll(".wallboard .wb-hold[data-hold-since]")) {
    text(hold.querySelector(".wb-hold-clock"), minutesSeconds((now - Date.parse(hold.dataset.holdSince)) / 1000));
  }
  if (crossed.length && last) say(crossed.length + " appel(s) attendent depuis plus de " + threshold + " s.");
}

function say(message) { text($("wb-announce"), message); }

function announce(before, now) {
  const present = new Set(now.waiting.map((w) => w.linkedid));
  for (const id of overSaid) if (!present.has(id)) overSaid.delete(id); // calls gone: forgotten
  if (!before) return;
  const said = [];
  if (!before.waiting.length && now.waiting.length) said.push(now.waiting.length + " appel(s) en attente.");
  if (before.waiting.length && !now.waiting.length) said.push("Plus aucun appel en attente.");
  const newlyOver = now.waiting.filter((w) => w.over_target && !overSaid.has(w.linkedid));
  for (const w of newlyOver) overSaid.add(w.linkedid);
  if (newlyOver.length) said.push(newlyOver.length + " appel(s) attendent depuis plus de " + now.threshold_seconds + " s.");
  const held = new Set(before.advisors.filter((a) => a.on_hold_since).map((a) => a.advisor_id));
  for (const a of now.advisors) {
    if (a.on_hold_since && !held.has(a.advisor_id)) said.push(a.name + " : appel en attente.");
    else if (!a.on_hold_since && held.has(a.advisor_id) && a.state === "on_call") said.push(a.name + " : appel repris.");
  }
  const status = new Map(before.figures.map((f) => [f.name, f.status]));
  for (const f of now.figures) {
    const was = status.get(f.name);
    if (was && was !== f.status && f.status !== "none") said.push(f.label + " : " + f.shown + ", " + f.status_label + ".");
  }
  if (said.length) say(said.join(" "));
}

async function refresh() {
  if (fetching) { again = true; return fetching; }
  fetching = (async () => {
    try {
      do {
        again = false;
        const response = await fetch("/api/supervision", { headers: { Accept: "application/json" } });
        if (response.status === 401) { location.assign("/login?next=/supervision"); return; }
        if (response.ok) draw(await response.json());
      } while (again);
    } finally { fetching = null; }
  })();
  return fetching;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(scheme + "//" + location.host + "/ws/supervision");
  socket.onopen = () => { retry = 500; text($("wb-live"), "Mis à jour en direct."); refresh(); };
  socket.onmessage = (event) => {
    try { if (JSON.parse(event.data).type === "wallboard") refresh(); } catch (e) { /* ignored */ }
  };
  socket.onclose = () => {
    text($("wb-live"), "Connexion perdue : nouvelle tentative…");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  };
}

document.addEventListener("DOMContentLoaded", () => {
  document.body.dataset.wallboard = "live";
  refresh().then(() => { document.body.dataset.wallboardReady = "1"; });
  connect();
  setInterval(tick, 1000);
});
