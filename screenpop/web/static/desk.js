// Poste conseiller: everything from the network is shown with textContent, never as HTML.
//
// Every message on the page belongs to one call (the confirmation of a save, a transfer refused, a consultation…):
// shown with `callMessage`, it goes when the next call pops. A control that hides itself (« Transfert avec
// présentation », « Terminer le transfert »…) hands the focus on (`handOnFocus`): it is never lost to the page.
// No keyboard shortcut is taken here (the page is used with Tab, Enter, Space and arrows): a feature module that
// adds one says it on the page, and leaves Alt+K and « / » alone (the knowledge base's search, knowledge-desk.js).
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = "";
let currentCall = null; // linkedid of the call shown (ringing, in progress or to qualify)
let transferredTo = null; // the call was transferred (extension): its end is then no news to the advisor
let qualifiedCall = null; // the call shown was qualified already (during the call, or after it)
let callOver = false; // the advisor's part of the call shown is over (ended, or transferred)
let lastUpdate = null; // the latest message about the call shown after its pop (answered, transferred, ended…)
const services = new Map(); // extension → {id, name}
const topicLabels = new Map(); // qualification topic key → label (the voice menu's choices use the same keys)
let socket = null;
let retry = 500;

function text(el, value) { el.textContent = value == null ? "" : String(value); }

// The desk's feature modules (each its own script, e.g. directory-desk.js, loaded after this one) read the call
// through these events and add their fields to the qualification; they never reach into this file's state.
//   "ready"      once the lists are loaded: detail {topics, outcomes, services}
//   "new-call"   a pop replaced the call shown (the qualification form was reset, the call's messages cleared):
//                detail = the pop message
//   "message"    every desk message applied to the call shown (pop, answered, transferred, ended…): detail = it
//   "topic"      the advisor picked a theme: detail {topic, subtopic}
//   "qualified"  the qualification of a call was saved: detail {linkedid, body, pending}; `linkedid` is the call
//                the form was sent for, which may no longer be the call shown (a new call popped meanwhile)
// and, through window.gpsDesk:
//   api(method, path, body)      the JSON API with the session's CSRF token; throws Error(message French, code)
//   currentCall()                the linkedid of the call shown, or null
//   addQualificationFields(fn)   fn(body) adds the feature's fields to the qualification sent
//   text(el, value)              shows a value as text (never HTML)
//   callMessage(el, value, kind) shows a message about the call shown in `el` (kind "ok", "error" or ""), cleared
//                                when the next call pops: every message belongs to one call
const deskEvents = new EventTarget();
const qualificationFields = [];  // functions (body) => void adding a feature's fields to the body sent
function emit(name, detail) { deskEvents.dispatchEvent(new CustomEvent(name, { detail })); }
window.gpsDesk = Object.freeze({
  api: (method, path, body) => api(method, path, body),
  events: deskEvents,
  currentCall: () => currentCall,
  addQualificationFields: (fn) => { qualificationFields.push(fn); },
  text,
  callMessage: (el, value, kind) => callMessage(el, value, kind),
});

// The messages shown about the call on screen: each goes with its call (cleared at the next pop).
const callMessages = new Set();
function callMessage(el, value, kind) {
  text(el, value);
  el.className = kind || "";
  callMessages.add(el);
}
function clearCallMessages() {
  for (const el of callMessages) { text(el, ""); el.className = ""; }
  callMessages.clear();
  for (const field of document.querySelectorAll("#qualification [aria-invalid]")) field.removeAttribute("aria-invalid");
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, { method, headers, credentials: "same-origin",
                                       body: body === undefined ? undefined : JSON.stringify(body) });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) {
    const error = new Error(data.message || "Erreur " + response.status);
    error.code = data.error;  // the API's stable error id
    throw error;
  }
  return data;
}

function option(select, value, label) {
  const o = document.createElement("option");
  o.value = value; text(o, label);
  select.appendChild(o);
}

// The desk's state, asked again after every desk message and presence change. One request at a time: messages that
// arrive meanwhile ask for one more request after it (a burst of messages costs two requests, not one each), and
// answers are applied in the order they were asked, so an older answer never overwrites a newer one.
let refreshing = null;
let refreshAgain = false;

function refreshState() {
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    try {
      do { refreshAgain = false; await showState(); } while (refreshAgain);
    } finally { refreshing = null; }
  })();
  return refreshing;
}

async function showState() {
  const desk = await api("GET", "/api/desk");
  // no call shown yet (a page opened again, a reload): the advisor's call not yet qualified, as it stands
  if (!currentCall) for (const message of desk.current_call || []) showMessage(message);
  const reasons_ = Object.assign({ missed_call: "appel manqué" }, desk.pause_reasons);
  const reason = desk.presence.state === "paused" && desk.presence.reason ? reasons_[desk.presence.reason] : "";
  text($("state"), desk.presence.label + (reason ? " (" + reason + ")" : ""));
  // a supervisor paused this advisor or logged them out from the wallboard: who, and why
  const by = desk.presence.by;
  text($("presence-by"), by ? "Par le superviseur " + by + " : " + (desk.presence.note || "") : "");
  const reasons = $("pause-reason");
  if (!reasons.options.length) {
    for (const [key, label] of Object.entries(desk.pause_reasons)) option(reasons, key, label);
  }
}

async function presence(state, reason) {
  try {
    await api("POST", "/api/presence", { state, reason });
    text($("presence-msg"), "");
  } catch (e) { text($("presence-msg"), e.message); $("presence-msg").className = "error"; }
  refreshDay();
  await refreshState();
}

// A duration in French: « 45 s », « 2 min 05 s », « 1 h 02 min ».
function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return h + " h " + String(m).padStart(2, "0") + " min";
  if (m) return m + " min " + String(r).padStart(2, "0") + " s";
  return r + " s";
}

// The call's duration, from its answer (Asterisk's time) to the end of the advisor's part. A screen reader does not
// read it every second (role="timer", aria-live off): the call's status says the changes (answered, transferred…).
let timerStart = null;
let timerTick = null;
function showTimer(until) {
  text($("call-timer"), duration(((until || Date.now()) - timerStart) / 1000));
}
function startTimer(at) {
  if (timerTick) return;  // already running (a message replayed)
  timerStart = at;
  $("call-duration").hidden = false;
  showTimer();
  timerTick = setInterval(() => showTimer(), 1000);
}
function stopTimer(at) {
  clearInterval(timerTick); timerTick = null;
  if (timerStart != null) showTimer(Math.max(at, timerStart));  // the call's length stays until the next call
}
function resetTimer() {
  clearInterval(timerTick); timerTick = null; timerStart = null;
  $("call-duration").hidden = true;
}

// « Ma journée »: asked at start, after each presence change, at each call's end and qualification, and every minute
// (time in pause grows). One request at a time; asked meanwhile, one more after it.
let dayLoading = null;
let dayAgain = false;
function refreshDay() {
  if (dayLoading) { dayAgain = true; return dayLoading; }
  dayLoading = (async () => {
    try {
      do {
        dayAgain = false;
        const day = await api("GET", "/api/desk/day");
        text($("day-calls"), String(day.calls_taken));
        text($("day-aht"), day.aht_seconds == null ? "—" : duration(day.aht_seconds));
        text($("day-hold"), duration(day.hold_seconds));
        text($("day-pause"), duration(day.pause_seconds));
      } while (dayAgain);
    } catch (e) { /* the figures stay as they were; the next change asks again */ }
    finally { dayLoading = null; }
  })();
  return dayLoading;
}

const TITLE = document.title;

function showPop(message) {
  // the tab's title tells an advisor busy in another window (knowledge base, a service's site) that a call rings
  document.title = "Appel entrant : " + (message.caller_display || "numéro masqué") + " — " + TITLE;
  const pop = $("pop");
  const focused = pop.contains(document.activeElement);  // on the previous call's status: it moves to the new one
  pop.replaceChildren();
  const number = document.createElement("div"); number.className = "number";
  text(number, message.caller_display || "Numéro masqué");
  const name = document.createElement("div"); name.className = "name"; name.id = "caller-name";
  text(name, message.caller_name || "Nom inconnu");
  const details = document.createElement("div"); details.className = "muted";
  const commune = message.context && message.context.commune ? "Commune : " + message.context.commune + " — " : "";
  const wait = message.wait_seconds != null ? "attente " + Math.round(message.wait_seconds) + " s" : "";
  text(details, commune + wait);
  const status = document.createElement("div"); status.id = "call-status"; status.className = "state";
  status.tabIndex = -1;  // focus comes here when the control in use hides itself (a transfer done, the call over)
  text(status, "Appel entrant");
  pop.append(number, name, details);
  if (message.menu_topic) {
    const menu = document.createElement("div"); menu.id = "menu-topic";
    text(menu, "Choix au menu : " + (topicLabels.get(message.menu_topic) || message.menu_topic));
    pop.append(menu);
  }
  pop.append(status);
  if (focused) status.focus();
  const callbacks = $("callbacks"); callbacks.replaceChildren();
  const owed = (message.context && message.context.open_callbacks) || [];
  if (!owed.length) { const li = document.createElement("li"); li.className = "muted"; text(li, "Aucun rappel en attente."); callbacks.append(li); }
  for (const c of owed) {
    const li = document.createElement("li");
    const asked = "Demandé le " + new Date(c.requested_at).toLocaleString("fr-FR");
    text(li, asked + (c.topic_label ? " — " + c.topic_label : "") + (c.slot ? " — créneau souhaité : " + c.slot : "") + " — ");
    const link = document.createElement("a");  // to the callback on /rappels (its attempts, closing it)
    link.href = "/rappels#rappel-" + encodeURIComponent(String(c.id));
    text(link, "Voir le rappel");
    link.setAttribute("aria-label", "Voir le rappel du " + asked.slice("Demandé le ".length) + " dans la liste des rappels");
    li.append(link);
    callbacks.append(li);
  }
  const body = $("history"); body.replaceChildren();
  const items = (message.context && message.context.history) || [];
  if (!items.length) {
    const row = body.insertRow(); const cell = row.insertCell(); cell.colSpan = 5; text(cell, "Premier appel de ce numéro.");
  }
  for (const item of items) {
    const row = body.insertRow();
    const topic = [item.topic_label, item.subtopic_label].filter(Boolean).join(" — ");
    for (const value of [new Date(item.date).toLocaleString("fr-FR"), topic, item.outcome_label, item.advisor_name,
                         item.note]) {
      text(row.insertCell(), value || "—");
    }
  }
}

function onMessage(message) {
  if (message.type === "error") return;
  if (message.type === "presence") { refreshState(); refreshDay(); return; }  // not acknowledged: never kept pending
  showMessage(message);
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ack", id: message.id }));
  refreshState();
}

function showMessage(message) {
  if (message.type === "pop") {
    currentCall = message.linkedid;
    transferredTo = null;
    $("btn-callback").hidden = true;
    qualifiedCall = null;
    callOver = false;
    lastUpdate = null;
    clearCallMessages();  // the previous call's confirmation, refusals and transfer messages go with it
    resetTimer();
    showPop(message);
    $("qualification").reset();  // a new call: a blank qualification (no outcome chosen), its topic the voice
    if (message.menu_topic && topicLabels.has(message.menu_topic)) {  // menu's choice if any
      $("q-topic").value = message.menu_topic;
      $("q-topic").onchange();
    }
    text($("q-note-count"), "");
    emit("new-call", message);
    emit("message", message);
  }
  else if (message.linkedid === currentCall) { onCallUpdate(message); emit("message", message); }
}

function serviceName(extension) {
  const found = services.get(extension);
  return found ? found.name : "le poste " + (extension || "?");
}

// The call's status as the page says it, from the latest message about the call (and whether it is qualified).
function statusOf(message) {
  const qualification = qualifiedCall === message.linkedid ? "qualifié" : "à qualifier";
  switch (message.type) {
    case "answered": return "En communication";
    case "consulting": return "Consultation avec " + serviceName(message.detail) + " — l'usager est en attente";
    case "consultation_ended": return "En communication — retour avec l'usager";
    case "transferred": return "Appel transféré vers " + serviceName(message.detail) + " — " + qualification;
    case "ended":
      return (transferredTo ? "Appel transféré vers " + serviceName(transferredTo) : "Appel terminé")
        + " — " + qualification;
    case "ring_ended": return message.detail === "missed" ? "Appel manqué" : "L'appelant a raccroché";
    default: return null;
  }
}

function titleOf(message) {
  const titles = { answered: "En communication", consulting: "Consultation", consultation_ended: "En communication",
                   transferred: "À qualifier", ended: "À qualifier" };
  const done = qualifiedCall === message.linkedid && callOver;
  return message.type in titles && !done
    ? titles[message.type] + " : " + (message.caller_display || "numéro masqué") + " — " + TITLE : TITLE;
}

function showStatus() {
  if (!lastUpdate) return;
  text($("call-status"), statusOf(lastUpdate));
  document.title = titleOf(lastUpdate);
}

// A region about to hide holds the focus (the advisor pressed one of its buttons): the focus goes on to what the
// advisor does next, never to the page's body.
function handOnFocus(regions, update) {
  const holder = regions.find((region) => !region.hidden && region.contains(document.activeElement));
  update();
  if (!holder || !holder.hidden) return;
  if (!$("consultation").hidden) $("btn-complete").focus();  // consulting: complete or cancel
  else if (!$("transfer").hidden) $("transfer-service").focus();  // back with the caller
  else $("call-status").focus();  // transferred, or the call is over: its status, then the qualification
}

function onCallUpdate(message) {
  if (statusOf(message) === null) return;
  if (message.type === "transferred" || message.type === "ended" || message.type === "ring_ended") callOver = true;
  if (message.type === "transferred") transferredTo = message.detail;
  const parsed = Date.parse(message.event_at);
  const at = Number.isNaN(parsed) ? Date.now() : parsed;
  if (message.type === "answered") startTimer(Math.min(at, Date.now()));
  else if (message.type === "transferred" || message.type === "ended") { stopTimer(at); refreshDay(); }
  else if (message.type === "ring_ended") resetTimer();
  lastUpdate = message;
  showStatus();
  const talking = message.type === "answered" || message.type === "consultation_ended";
  handOnFocus([$("transfer"), $("consultation")], () => {
    $("transfer").hidden = !talking;
    $("consultation").hidden = message.type !== "consulting";
  });
  if (message.type !== "consulting") callMessage($("consultation-msg"), "");
  if (message.type === "consultation_ended") {
    callMessage($("transfer-msg"), "Consultation terminée : vous êtes de nouveau avec l'usager.");
  }
  if (message.type === "transferred") {
    const found = services.get(message.detail);
    if (found) { $("q-outcome").value = "transfer"; $("q-service").value = String(found.id); }  // what happened
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(scheme + "//" + location.host + "/ws");
  socket.onopen = () => { retry = 500; text($("link"), "connecté"); };
  socket.onmessage = (event) => { try { onMessage(JSON.parse(event.data)); } catch (e) { /* ignored */ } };
  socket.onclose = () => {
    text($("link"), "reconnexion…");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  };
}

async function loadLists() {
  const lists = await api("GET", "/api/topics");
  const topic = $("q-topic"), sub = $("q-subtopic"), outcome = $("q-outcome");
  option(topic, "", "— choisir —");
  for (const t of lists.topics) { option(topic, t.key, t.label); topicLabels.set(t.key, t.label); }
  topic.onchange = () => {
    sub.replaceChildren(); option(sub, "", "—");
    const chosen = lists.topics.find((t) => t.key === topic.value);
    for (const s of (chosen ? chosen.subtopics : [])) option(sub, s.key, s.label);
    emit("topic", { topic: topic.value || null, subtopic: null });
  };
  sub.onchange = () => emit("topic", { topic: topic.value || null, subtopic: sub.value || null });
  option(outcome, "", "— choisir —");  // no preset outcome: the advisor chooses what happened
  for (const o of lists.outcomes) option(outcome, o.key, o.label);
  const list = await api("GET", "/api/services");
  const qService = $("q-service"), tService = $("transfer-service");
  option(qService, "", "—");
  for (const s of list.services) {
    services.set(s.extension, { id: s.id, name: s.name });
    // the qualification records which service the call went to: its name is enough (and fits the field)
    option(qService, String(s.id), s.name);
    option(tService, String(s.id), s.name + " (" + s.extension + ")" + (s.open_now ? "" : " — fermé"));
  }
  emit("ready", { topics: lists.topics, outcomes: lists.outcomes, services: list.services });
}

// A required choice not made: the save is refused on the page, the field says so and takes the focus.
function refuseField(field, message) {
  callMessage($("q-msg"), message, "error");
  field.setAttribute("aria-invalid", "true");
  field.focus();
}

async function saveQualification(event) {
  event.preventDefault();
  const msg = $("q-msg");
  const linkedid = currentCall;  // the call this form is for: a new call may pop while the save is on its way
  if (!linkedid) { callMessage(msg, "Aucun appel à qualifier.", "error"); return; }
  if (!$("q-topic").value) { refuseField($("q-topic"), "Choisissez le thème de l'appel, puis enregistrez."); return; }
  if (!$("q-outcome").value) {
    refuseField($("q-outcome"), "Choisissez l'issue de l'appel, puis enregistrez.");
    return;
  }
  const body = {
    topic: $("q-topic").value, subtopic: $("q-subtopic").value || null, outcome: $("q-outcome").value,
    transfer_service_id: $("q-service").value ? Number($("q-service").value) : null,
    callback_requested: $("q-callback").checked,
    callback_slot: $("q-slot").value || null, note: $("q-note").value || null,
  };
  for (const add of qualificationFields) add(body);
  let saved;
  try {
    saved = await api("POST", "/api/calls/" + encodeURIComponent(linkedid) + "/qualification", body);
  } catch (e) {
    // the answer of a call no longer shown is said as such, never as the new call's
    callMessage(msg, linkedid === currentCall ? e.message : "Appel précédent non qualifié : " + e.message, "error");
    return;
  }
  emit("qualified", { linkedid, body, pending: Boolean(saved.pending) });
  refreshDay();
  if (linkedid === currentCall) {  // the call is still the one shown (else its confirmation went with it)
    qualifiedCall = linkedid;
    // saved while the call is in progress (202): it joins the call's record when the call ends
    callMessage(msg, saved.pending ? "Qualification enregistrée : elle rejoindra la fiche de l'appel dès sa fin."
                                   : "Qualification enregistrée.", "ok");
    showStatus();  // « … — qualifié »
    if (!saved.pending || callOver) document.title = TITLE;
  }
  await refreshState();
}

async function doTransfer(kind) {
  const msg = $("transfer-msg");
  const linkedid = currentCall;
  $("btn-callback").hidden = true;
  try {
    await api("POST", "/api/calls/" + encodeURIComponent(linkedid) + "/transfer",
              { service_id: Number($("transfer-service").value), kind });
    if (linkedid !== currentCall) return;
    callMessage(msg, kind === "attended" ? "Consultation demandée : l'usager est mis en attente."
                                         : "Transfert demandé.", "ok");
  } catch (e) {
    if (linkedid !== currentCall) return;
    callMessage(msg, e.message, "error");
    $("btn-callback").hidden = e.code !== "service-closed";  // the service is closed: a callback instead
  }
}

// attended transfer: "complete" hands the caller to the service (the advisor's leg hangs up), "cancel" returns
async function endConsultation(action) {
  const msg = $("consultation-msg");
  const linkedid = currentCall;
  try {
    await api("POST", "/api/calls/" + encodeURIComponent(linkedid) + "/transfer/" + action);
    if (linkedid === currentCall && !$("consultation").hidden) {
      callMessage(msg, action === "complete" ? "Transfert en cours de finalisation…" : "Retour vers l'usager…", "ok");
    }
  } catch (e) { if (linkedid === currentCall) callMessage(msg, e.message, "error"); }
}

// « Fermer la session »: the server takes the advisor out of the queue first, and refuses while a call is up; the
// page then stays, saying why (without this script, the form gets the same refusal as a page).
async function endSession(form) {
  const msg = $("presence-msg");
  let response;
  try {
    response = await fetch(form.action, {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
      body: new URLSearchParams(new FormData(form)),
    });
  } catch (e) { text(msg, "Le service ne répond pas : la session reste ouverte. Réessayez."); msg.className = "error"; return; }
  if (response.type === "opaqueredirect" || response.ok) { location.assign("/login"); return; }
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  text(msg, data.message || "Erreur " + response.status); msg.className = "error";
}

async function start() {
  const me = await api("GET", "/api/me");
  csrf = me.csrf;
  $("btn-available").onclick = () => presence("available");
  $("btn-pause").onclick = () => presence("pause", $("pause-reason").value);
  $("btn-logout").onclick = () => presence("logout");
  $("btn-blind").onclick = () => doTransfer("blind");
  $("btn-callback").onclick = () => {  // the qualification says a callback is needed; the advisor adds the slot
    $("q-outcome").value = "callback_needed";
    $("q-callback").checked = true;
    $("btn-callback").hidden = true;
    callMessage($("transfer-msg"), "Rappel noté dans la qualification : indiquez le créneau souhaité, puis enregistrez.");
    $("q-slot").focus();
  };
  $("btn-attended").onclick = () => doTransfer("attended");
  $("btn-complete").onclick = () => endConsultation("complete");
  $("btn-cancel").onclick = () => endConsultation("cancel");
  $("qualification").addEventListener("submit", saveQualification);
  for (const field of [$("q-topic"), $("q-outcome")]) {
    field.addEventListener("change", () => { if (field.value) field.removeAttribute("aria-invalid"); });
  }
  const sessionEnd = document.querySelector("form.session-end");
  if (sessionEnd) sessionEnd.addEventListener("submit", (event) => { event.preventDefault(); endSession(sessionEnd); });
  $("q-note").addEventListener("input", () => text($("q-note-count"), $("q-note").value.length + " / 2000"));
  for (const button of document.querySelectorAll("button[data-wired]")) button.disabled = false;  // handlers set
  await loadLists();
  await refreshState();  // a page opened again also shows the advisor's call not yet qualified (showState)
  refreshDay();
  setInterval(refreshDay, 60000);
  connect();
}

document.addEventListener("DOMContentLoaded", () => { start().catch((e) => text($("presence-msg"), e.message)); });
