// Poste conseiller: everything from the network is shown with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = "";
let currentCall = null; // linkedid of the call shown (ringing, in progress or to qualify)
let transferredTo = null; // the call was transferred (extension): its end is then no news to the advisor
let qualifiedCall = null; // the call shown was qualified already (during the call, or after it)
let callOver = false; // the advisor's part of the call shown is over (ended, or transferred)
const services = new Map(); // extension → {id, name}
const topicLabels = new Map(); // qualification topic key → label (the voice menu's choices use the same keys)
let socket = null;
let retry = 500;

function text(el, value) { el.textContent = value == null ? "" : String(value); }

// The desk's feature modules (each its own script, e.g. directory-desk.js, loaded after this one) read the call
// through these events and add their fields to the qualification; they never reach into this file's state.
//   "ready"      once the lists are loaded: detail {topics, outcomes, services}
//   "new-call"   a pop replaced the call shown (the qualification form was reset): detail = the pop message
//   "message"    every desk message applied to the call shown (pop, answered, transferred, ended…): detail = it
//   "topic"      the advisor picked a theme: detail {topic, subtopic}
//   "qualified"  the qualification was saved: detail {linkedid, body, pending}
const deskEvents = new EventTarget();
const qualificationFields = [];  // functions (body) => void adding a feature's fields to the body sent
function emit(name, detail) { deskEvents.dispatchEvent(new CustomEvent(name, { detail })); }
window.gpsDesk = Object.freeze({
  api: (method, path, body) => api(method, path, body),
  events: deskEvents,
  currentCall: () => currentCall,
  addQualificationFields: (fn) => { qualificationFields.push(fn); },
  text,
});

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
  await refreshState();
}

const TITLE = document.title;

function showPop(message) {
  // the tab's title tells an advisor busy in another window (knowledge base, a service's site) that a call rings
  document.title = "Appel entrant : " + (message.caller_display || "numéro masqué") + " — " + TITLE;
  const pop = $("pop");
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
  text(status, "Appel entrant");
  pop.append(number, name, details);
  if (message.menu_topic) {
    const menu = document.createElement("div"); menu.id = "menu-topic";
    text(menu, "Choix au menu : " + (topicLabels.get(message.menu_topic) || message.menu_topic));
    pop.append(menu);
  }
  pop.append(status);
  const callbacks = $("callbacks"); callbacks.replaceChildren();
  const owed = (message.context && message.context.open_callbacks) || [];
  if (!owed.length) { const li = document.createElement("li"); li.className = "muted"; text(li, "Aucun rappel en attente."); callbacks.append(li); }
  for (const c of owed) {
    const li = document.createElement("li");
    text(li, "Demandé le " + new Date(c.requested_at).toLocaleString("fr-FR") + (c.topic_label ? " — " + c.topic_label : "")
             + (c.slot ? " — créneau souhaité : " + c.slot : ""));
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
  if (message.type === "presence") { refreshState(); return; }  // not acknowledged: never kept pending
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
    showPop(message);
    $("qualification").reset();  // a new call: a blank qualification, its topic the voice menu's choice if any
    if (message.menu_topic && topicLabels.has(message.menu_topic)) {
      $("q-topic").value = message.menu_topic;
      $("q-topic").onchange();
    }
    text($("q-msg"), ""); text($("q-note-count"), "");
    emit("new-call", message);
    emit("message", message);
  }
  else if (message.linkedid === currentCall) { onCallUpdate(message); emit("message", message); }
}

function serviceName(extension) {
  const found = services.get(extension);
  return found ? found.name : "le poste " + (extension || "?");
}

function onCallUpdate(message) {
  const labels = {
    answered: "En communication",
    consulting: "Consultation avec " + serviceName(message.detail) + " — l'usager est en attente",
    consultation_ended: "En communication — retour avec l'usager",
    transferred: "Appel transféré vers " + serviceName(message.detail) + " — à qualifier",
    ended: transferredTo ? "Appel transféré vers " + serviceName(transferredTo) + " — à qualifier"
                         : "Appel terminé — à qualifier",
    ring_ended: message.detail === "missed" ? "Appel manqué" : "L'appelant a raccroché",
  };
  if (!(message.type in labels)) return;
  const qualified = qualifiedCall === message.linkedid;
  if (message.type === "transferred" || message.type === "ended" || message.type === "ring_ended") callOver = true;
  if (qualified && (message.type === "transferred" || message.type === "ended")) {
    labels[message.type] = labels[message.type].replace("à qualifier", "qualifié");
  }
  const titles = { answered: "En communication", consulting: "Consultation", consultation_ended: "En communication",
                   transferred: "À qualifier", ended: "À qualifier" };
  document.title = message.type in titles && !(qualified && callOver)
    ? titles[message.type] + " : " + (message.caller_display || "numéro masqué") + " — " + TITLE : TITLE;
  text($("call-status"), labels[message.type]);
  const talking = message.type === "answered" || message.type === "consultation_ended";
  $("transfer").hidden = !talking;
  $("consultation").hidden = message.type !== "consulting";
  if (message.type !== "consulting") text($("consultation-msg"), "");
  if (message.type === "consultation_ended") {
    text($("transfer-msg"), "Consultation terminée : vous êtes de nouveau avec l'usager."); $("transfer-msg").className = "";
  }
  if (message.type === "transferred") {
    transferredTo = message.detail;
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
  for (const o of lists.outcomes) option(outcome, o.key, o.label);
  const list = await api("GET", "/api/services");
  const qService = $("q-service"), tService = $("transfer-service");
  option(qService, "", "—");
  for (const s of list.services) {
    services.set(s.extension, { id: s.id, name: s.name });
    const label = s.name + " (" + s.extension + ")" + (s.open_now ? "" : " — fermé");
    option(qService, String(s.id), label);
    option(tService, String(s.id), label);
  }
  emit("ready", { topics: lists.topics, outcomes: lists.outcomes, services: list.services });
}

async function saveQualification(event) {
  event.preventDefault();
  const msg = $("q-msg");
  if (!currentCall) { text(msg, "Aucun appel à qualifier."); msg.className = "error"; return; }
  const body = {
    topic: $("q-topic").value, subtopic: $("q-subtopic").value || null, outcome: $("q-outcome").value,
    transfer_service_id: $("q-service").value ? Number($("q-service").value) : null,
    callback_requested: $("q-callback").checked,
    callback_slot: $("q-slot").value || null, note: $("q-note").value || null,
  };
  for (const add of qualificationFields) add(body);
  try {
    const saved = await api("POST", "/api/calls/" + encodeURIComponent(currentCall) + "/qualification", body);
    qualifiedCall = currentCall;
    emit("qualified", { linkedid: currentCall, body, pending: Boolean(saved.pending) });
    // saved while the call is in progress (202): it joins the call's record when the call ends, and the
    // advisor has no wrap-up after it
    text(msg, saved.pending ? "Qualification enregistrée : elle rejoindra la fiche de l'appel dès sa fin."
                            : "Qualification enregistrée.");
    msg.className = "ok";
    if (!saved.pending || callOver) document.title = TITLE;
    await refreshState();
  } catch (e) { text(msg, e.message); msg.className = "error"; }
}

async function doTransfer(kind) {
  const msg = $("transfer-msg");
  $("btn-callback").hidden = true;
  try {
    await api("POST", "/api/calls/" + encodeURIComponent(currentCall) + "/transfer",
              { service_id: Number($("transfer-service").value), kind });
    text(msg, kind === "attended" ? "Consultation demandée : l'usager est mis en attente." : "Transfert demandé.");
    msg.className = "ok";
  } catch (e) {
    text(msg, e.message); msg.className = "error";
    $("btn-callback").hidden = e.code !== "service-closed";  // the service is closed: a callback instead
  }
}

// attended transfer: "complete" hands the caller to the service (the advisor's leg hangs up), "cancel" returns
async function endConsultation(action) {
  const msg = $("consultation-msg");
  try {
    await api("POST", "/api/calls/" + encodeURIComponent(currentCall) + "/transfer/" + action);
    text(msg, action === "complete" ? "Transfert en cours de finalisation…" : "Retour vers l'usager…");
    msg.className = "ok";
  } catch (e) { text(msg, e.message); msg.className = "error"; }
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
    text($("transfer-msg"), "Rappel noté dans la qualification : indiquez le créneau souhaité, puis enregistrez.");
    $("transfer-msg").className = "";
    $("q-slot").focus();
  };
  $("btn-attended").onclick = () => doTransfer("attended");
  $("btn-complete").onclick = () => endConsultation("complete");
  $("btn-cancel").onclick = () => endConsultation("cancel");
  $("qualification").addEventListener("submit", saveQualification);
  $("q-note").addEventListener("input", () => text($("q-note-count"), $("q-note").value.length + " / 2000"));
  for (const button of document.querySelectorAll("button[data-wired]")) button.disabled = false;  // handlers set
  await loadLists();
  await refreshState();  // a page opened again also shows the advisor's call not yet qualified (showState)
  connect();
}

document.addEventListener("DOMContentLoaded", () => { start().catch((e) => text($("presence-msg"), e.message)); });
