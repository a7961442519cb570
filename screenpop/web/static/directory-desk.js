// The desk's directory (a feature module of desk.js, through window.gpsDesk only): the caller recognised by the
// directory (a town hall, a partner, an internal service) with its commune's recent calls, the partners serving
// the caller's commune with what to read to the caller, the directory search, the commune of the qualification
// (commune-combobox.js) and the partner given (one click, or Enter, records it in the qualification).
// Everything from the network is shown with textContent.
"use strict";

(() => {
  const desk = window.gpsDesk;
  if (!desk || !window.gpsCommuneCombobox) return;
  const $ = (id) => document.getElementById(id);
  const text = desk.text;
  const given = new Map();  // organisation id → its name, offered in the qualification's partner list
  let partnersOf = null;  // the commune (INSEE) whose partners are shown
  let partnersAsked = 0;
  let searchAsked = 0;

  function el(tag, className, value) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (value !== undefined) text(node, value);
    return node;
  }

  // -- the qualification: the commune (combobox) and the partner given ----------------------------------------

  const commune = window.gpsCommuneCombobox($("q-commune"), {
    list: $("q-communes"),
    status: $("q-commune-status"),
    onPick: (c) => { if (desk.currentCall() && partnersOf !== c.code) loadPartners(c.code, "commune choisie"); },
  });

  desk.addQualificationFields((body) => {
    const code = commune.code();
    const typed = ($("q-commune").value || "").trim();
    body.commune_insee = code;
    body.commune = code ? null : (typed || null);  // typed and not picked: the server resolves it or refuses
    const partner = $("q-partner").value;
    body.partner_id = partner ? Number(partner) : null;
  });

  function partnerOptions(selected) {
    const select = $("q-partner");
    select.replaceChildren();
    const none = el("option", "", "—"); none.value = ""; select.append(none);
    for (const [id, name] of given) {
      const o = el("option", "", name); o.value = String(id); select.append(o);
    }
    select.value = selected ? String(selected) : "";
  }

  function offer(listing) {
    if (!given.has(listing.id)) { given.set(listing.id, listing.name + " — " + shortKind(listing)); }
  }

  function shortKind(listing) { return listing.kind_label.replace(/ \(.*\)$/, ""); }

  function record(listing, statusEl) {
    offer(listing);
    partnerOptions(listing.id);
    const outcome = $("q-outcome");  // what happened, unless the call was transferred or needs a callback
    if (outcome.value !== "transfer" && outcome.value !== "callback_needed") outcome.value = "partner_contact";
    text(statusEl, "« " + listing.name + " » noté dans la qualification comme partenaire donné à l'usager.");
    statusEl.className = "ok";
  }

  // -- an entry of the directory, as a partner or a search result -----------------------------------------------

  function listingItem(listing, extra, statusEl) {
    const li = el("li", "listing");
    const head = el("p", "listing-head");
    const name = el("strong", "", listing.name);
    name.id = "dir-l-" + statusEl.id + "-" + listing.id;
    head.append(name, el("span", "muted", " — " + shortKind(listing) + (extra ? " · " + extra : "")));
    const opening = el("p", listing.opening.open_now === true ? "open" : (listing.opening.known ? "closed" : "muted"),
                       listing.opening.summary);
    li.append(head, opening);
    const phones = listing.phones.filter((p) => p.public).map((p) => p.display + (p.label ? " (" + p.label + ")" : ""));
    if (phones.length) li.append(el("p", "", "Tél. " + phones.join(", ")));
    if (listing.address) li.append(el("p", "muted", listing.address));
    const staff = listing.phones.filter((p) => !p.public).map((p) => p.display + (p.label ? " (" + p.label + ")" : ""));
    if (staff.length || listing.staff_contact) {
      li.append(el("p", "staff", "Réservé aux agents : " + [...staff, listing.staff_contact].filter(Boolean).join(" ; ")));
    }
    const details = el("details");
    details.append(el("summary", "", "À lire à l'usager"), el("p", "read-out", listing.read_out));
    li.append(details);
    if (desk.currentCall()) {
      const button = el("button", "", "Contact donné à l'usager");
      button.type = "button";
      button.setAttribute("aria-describedby", name.id);
      button.addEventListener("click", () => record(listing, statusEl));
      li.append(button);
    }
    return li;
  }

  // -- the partners of the caller's commune -----------------------------------------------------------------------

  async function loadPartners(code, why) {
    const status = $("dir-partners-status"), list = $("dir-partners-list");
    const mine = ++partnersAsked;
    partnersOf = code;
    text(status, "Recherche des partenaires…"); status.className = "muted";
    try {
      const found = await desk.api("GET", "/api/directory/communes/" + encodeURIComponent(code) + "/partners");
      if (mine !== partnersAsked) return;
      list.replaceChildren();
      text($("h-dir-partners"), "Partenaires de " + found.commune_label);
      for (const p of found.partners) {
        offer(p.listing);
        list.append(listingItem(p.listing, p.reach === "commune" ? "" : p.reach_label, status));
      }
      partnerOptions($("q-partner").value);
      text(status, found.partners.length
        ? found.partners.length + " partenaire(s) pour " + found.commune_label + (why ? " (" + why + ")" : "") + "."
        : "Aucun partenaire de l'annuaire ne sert " + found.commune_label + ".");
      status.className = "muted";
    } catch (e) {
      if (mine !== partnersAsked) return;
      text(status, e.message); status.className = "error";
    }
  }

  function noPartners(message) {
    partnersAsked++;
    partnersOf = null;
    text($("h-dir-partners"), "Partenaires de la commune");
    $("dir-partners-list").replaceChildren();
    text($("dir-partners-status"), message);
    $("dir-partners-status").className = "muted";
  }

  // -- a pop: the caller recognised, the partners of its commune -------------------------------------------------

  function showCaller(context) {
    const box = $("dir-caller");
    const caller = context && context.caller;
    box.hidden = !caller;
    $("dir-recent").replaceChildren();
    if (!caller) return;
    text($("dir-caller-kind"), caller.kind_label + " :");
    text($("dir-caller-name"), caller.name);
    text($("h-dir-recent"), caller.kind === "town_hall" && context.commune
      ? "Appels récents de la commune (" + context.commune + ")" : "Appels récents de " + caller.name);
    const recent = context.organisation_history || [];
    if (!recent.length) $("dir-recent").append(el("li", "muted", "Aucun appel récent."));
    for (const item of recent) {
      const what = [item.topic_label, item.outcome_label, item.partner_label].filter(Boolean).join(" — ");
      $("dir-recent").append(el("li", "", new Date(item.date).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "short" })
        + " — " + (item.caller || "?") + (what ? " — " + what : "") + (item.advisor_name ? " (" + item.advisor_name + ")" : "")));
    }
  }

  desk.events.addEventListener("new-call", (event) => {
    const context = event.detail.context || {};
    given.clear();
    partnerOptions(null);
    commune.clear();
    showCaller(context);
    if (context.commune_code) {
      loadPartners(context.commune_code, context.caller && context.caller.kind === "town_hall"
        ? "commune de la mairie qui appelle" : "commune du dernier appel");
    } else {
      noPartners("Commune de l'appelant inconnue : choisissez-la dans la qualification pour voir ses partenaires.");
    }
    rerunSearch();  // its results offer « Contact donné à l'usager » for this call
  });

  // -- the directory search ------------------------------------------------------------------------------------------

  let searchTimer = null;
  let lastQuery = "";

  async function search() {
    const q = $("dir-q").value.trim();
    const status = $("dir-count"), list = $("dir-results");
    const mine = ++searchAsked;
    lastQuery = q;
    if (q.length < 2) { list.replaceChildren(); text(status, ""); return; }
    try {
      const found = await desk.api("GET", "/api/directory/search?q=" + encodeURIComponent(q) + "&limit=10");
      if (mine !== searchAsked) return;
      list.replaceChildren();
      for (const listing of found.results) list.append(listingItem(listing, "", status));
      text(status, found.results.length
        ? found.results.length + (found.results.length > 1 ? " résultats" : " résultat") + " pour « " + q + " »."
        : "Aucun résultat pour « " + q + " ».");
      status.className = "muted";
    } catch (e) {
      if (mine !== searchAsked) return;
      text(status, e.message); status.className = "error";
    }
  }

  function rerunSearch() { if (lastQuery.length >= 2) search(); }

  $("dir-search").addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(searchTimer); search(); });
  $("dir-q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 300); });
})();
