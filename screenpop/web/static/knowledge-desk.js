// The knowledge base on the desk (a feature module of desk.js, through window.gpsDesk only): the search (Alt+K, or
// « / » when not typing), up to three suggestions for the call (asked once the pop is shown, again when the advisor
// picks the theme), the article opened in a panel beside the call (the focus goes to it, Escape closes it and the
// focus returns), and what the qualification records: the articles used, or « pas de réponse trouvée » with the
// question. Text from the network is shown with textContent; the article's HTML, sanitised by the server, is
// rebuilt node by node from an allow-list (no attribute but href, title, scope, start is ever copied).
"use strict";

(() => {
  const desk = window.gpsDesk;
  if (!desk) return;
  const $ = (id) => document.getElementById(id);
  const text = desk.text;
  const used = new Map();  // article id → title: the articles used for the call shown
  let call = null;  // the pop message of the call shown
  let searchAsked = 0;
  let suggestAsked = 0;
  let opener = null;  // what had the focus when the panel opened
  let shown = null;  // the article in the panel
  let typingTimer = null;

  function el(tag, className, value) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (value !== undefined) text(node, value);
    return node;
  }

  // -- the server's sanitised HTML, rebuilt from an allow-list --------------------------------------------------

  const TAGS = new Set(["P", "BR", "HR", "H2", "H3", "H4", "H5", "H6", "STRONG", "EM", "DEL", "S", "CODE", "PRE",
    "BLOCKQUOTE", "UL", "OL", "LI", "A", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD", "ABBR", "SUP", "SUB", "MARK"]);
  const DROPPED = new Set(["SCRIPT", "STYLE", "TEMPLATE", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH"]);
  const SAFE_URL = /^(https?:|mailto:|tel:)/i;

  function rebuild(source, target) {
    for (const child of source.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) { target.append(document.createTextNode(child.data)); continue; }
      if (child.nodeType !== Node.ELEMENT_NODE || DROPPED.has(child.tagName)) continue;
      if (!TAGS.has(child.tagName)) { rebuild(child, target); continue; }  // its text only
      const node = document.createElement(child.tagName.toLowerCase());
      if (child.tagName === "A") {
        const href = (child.getAttribute("href") || "").trim();
        if (SAFE_URL.test(href)) { node.href = href; node.rel = "noopener noreferrer"; node.target = "_blank"; }
      }
      for (const name of ["title", "scope", "start"]) {
        const value = child.getAttribute(name);
        if (value !== null) node.setAttribute(name, value);
      }
      rebuild(child, node);
      target.append(node);
    }
  }

  function safeHtml(target, html) {
    // DOMParser's document is inert: nothing in it runs or loads; only the allowed nodes are copied out of it
    const parsed = new DOMParser().parseFromString("<body>" + (html || "") + "</body>", "text/html");
    target.replaceChildren();
    rebuild(parsed.body, target);
  }

  // -- the articles used, or no answer found -------------------------------------------------------------------

  function showUsed() {
    const list = $("kb-used");
    list.replaceChildren();
    if (!used.size) list.append(el("li", "muted", "Aucun."));
    for (const [id, title] of used) {
      const li = el("li", "", title + " ");
      const remove = el("button", "link", "Retirer");
      remove.type = "button";
      remove.setAttribute("aria-label", "Retirer « " + title + " » des articles utilisés");
      remove.onclick = () => { setUsed(id, title, false); $("kb-q").focus(); };
      li.append(remove);
      list.append(li);
    }
    for (const button of document.querySelectorAll("[data-kb-use]")) {
      button.setAttribute("aria-pressed", String(used.has(Number(button.dataset.kbUse))));
    }
    if (shown) $("kb-use").setAttribute("aria-pressed", String(used.has(shown.id)));
  }

  function setUsed(id, title, on) {
    if (on) used.set(id, title); else used.delete(id);
    showUsed();
    desk.callMessage($("kb-used-msg"), on ? "« " + title + " » noté comme utilisé pour cet appel."
                                          : "« " + title + " » retiré des articles utilisés.", on ? "ok" : "");
  }

  function useButton(article, label) {
    const button = el("button", "", label || "Utilisé");
    button.type = "button";
    button.dataset.kbUse = String(article.id);
    button.setAttribute("aria-pressed", String(used.has(article.id)));
    button.setAttribute("aria-label", "Utilisé pour cet appel : " + article.title);
    button.onclick = () => {
      if (!desk.currentCall()) { desk.callMessage($("kb-used-msg"), "Aucun appel en cours.", "error"); return; }
      setUsed(article.id, article.title, !used.has(article.id));
    };
    return button;
  }

  desk.addQualificationFields((body) => {
    body.articles_used = Array.from(used.keys());
    body.no_answer_question = $("kb-none").checked ? $("kb-question").value : null;
  });

  // « pas de réponse trouvée » without its question: the save waits for it (checked before desk.js sends the form)
  document.addEventListener("submit", (event) => {
    if (event.target !== $("qualification") || !$("kb-none").checked || $("kb-question").value.trim().length >= 3) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    desk.callMessage($("kb-used-msg"), "Pas de réponse trouvée : écrivez la question en quelques mots (3 caractères au moins), puis enregistrez.", "error");
    $("kb-question").setAttribute("aria-invalid", "true");
    $("kb-question").focus();
  }, true);
  $("kb-question").addEventListener("input", () => $("kb-question").removeAttribute("aria-invalid"));

  $("kb-none").addEventListener("change", () => {
    $("kb-question-field").hidden = !$("kb-none").checked;
    if ($("kb-none").checked) $("kb-question").focus();
  });

  // -- the panel ------------------------------------------------------------------------------------------------

  async function openArticle(id, from) {
    opener = from || document.activeElement;
    let article;
    try {
      article = await desk.api("GET", "/api/knowledge/articles/" + encodeURIComponent(id));
    } catch (e) { text($("kb-count"), e.message); $("kb-count").className = "error"; return; }
    shown = article;
    text($("kb-panel-title"), article.title);
    const owner = article.kind === "national" ? "Fiche nationale" + (article.fiche_type ? " — " + article.fiche_type : "")
                                              : (article.service_name || "");
    text($("kb-panel-meta"), owner + (article.status !== "published" ? " — " + article.status_label : ""));
    const review = $("kb-panel-review");
    text(review, article.review_by ? "À revoir avant le " + new Date(article.review_by).toLocaleDateString("fr-FR")
                                     + (article.review_overdue ? " (date dépassée)" : "") : "");
    review.className = article.review_overdue ? "error" : "muted";
    text($("kb-panel-summary"), article.summary || "");
    safeHtml($("kb-panel-body"), article.body_html);
    text($("kb-panel-credit"), article.credit || "");
    $("kb-page").href = "/connaissances/" + article.id;
    $("kb-use").hidden = article.status !== "published";
    $("kb-use").setAttribute("aria-pressed", String(used.has(article.id)));
    $("kb-panel").hidden = false;
    $("kb-panel").scrollTop = 0;
    $("kb-panel-title").focus();
  }

  function closePanel() {
    if ($("kb-panel").hidden) return;
    $("kb-panel").hidden = true;
    shown = null;
    const back = opener && document.contains(opener) && !opener.closest("[hidden]") ? opener : $("kb-q");
    opener = null;
    back.focus();
  }

  $("kb-close").onclick = closePanel;
  $("kb-use").onclick = () => {
    if (!shown) return;
    if (!desk.currentCall()) { desk.callMessage($("kb-used-msg"), "Aucun appel en cours.", "error"); return; }
    setUsed(shown.id, shown.title, !used.has(shown.id));
  };

  function articleItem(article, snippetHtml, titleHtml, extra) {
    const li = el("li", "kb-item");
    const head = el("p", "kb-title");
    const open = el("button", "link");
    open.type = "button";
    if (titleHtml) safeHtml(open, titleHtml); else text(open, article.title);
    open.onclick = () => openArticle(article.id, open);
    head.append(open);
    if (extra) head.append(el("span", "muted", " — " + extra));
    li.append(head);
    if (snippetHtml) { const p = el("p", "snippet"); safeHtml(p, snippetHtml); li.append(p); }
    if (article.status === undefined || article.status === "published") li.append(useButton(article));
    return li;
  }

  // -- the search ---------------------------------------------------------------------------------------------

  async function search(typing) {
    const q = $("kb-q").value.trim();
    const asked = ++searchAsked;
    const list = $("kb-results"), count = $("kb-count");
    if (!q) { list.replaceChildren(); text(count, ""); return; }
    let found;
    try {
      found = await desk.api("GET", "/api/knowledge/search?limit=8&q=" + encodeURIComponent(q) + (typing ? "&typing=1" : ""));
    } catch (e) { if (asked === searchAsked) { text(count, e.message); count.className = "error"; } return; }
    if (asked !== searchAsked) return;  // a newer search was asked meanwhile
    count.className = "muted";
    const corrections = found.corrections.map((c) => "« " + c.term + " » cherché aussi comme « " + c.alternatives.join(" », « ") + " »");
    text(count, (found.total === 0 ? "Aucun article pour « " + q + " »"
                                    : found.total + " article" + (found.total > 1 ? "s" : "") + " pour « " + q + " »"
                                      + (found.total > found.hits.length ? " (les " + found.hits.length + " premiers)" : ""))
                + (corrections.length ? ". " + corrections.join(" ; ") : "") + ".");
    list.replaceChildren();
    for (const hit of found.hits) {
      const extra = hit.local ? hit.service_name : "Fiche nationale";
      list.append(articleItem(hit, hit.snippet_html, hit.title_html, extra));
    }
  }

  $("kb-search").addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(typingTimer); search(false); });
  $("kb-q").addEventListener("input", () => {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => search(true), 250);
  });
  $("kb-go").disabled = false;

  // -- the suggestions for the call ------------------------------------------------------------------------------

  async function suggest(topic, subtopic) {
    const status = $("kb-suggest-status"), list = $("kb-suggestions");
    if (!call) return;
    const linkedid = call.linkedid;
    const asked = ++suggestAsked;
    const params = new URLSearchParams();
    if (call.caller_number) params.set("number", call.caller_number);
    if (topic) params.set("topic", topic);
    if (subtopic) params.set("subtopic", subtopic);
    let found;
    try {
      found = await desk.api("GET", "/api/knowledge/suggestions?" + params.toString());
    } catch (e) {
      if (asked === suggestAsked && linkedid === desk.currentCall()) { text(status, e.message); status.className = "error"; }
      return;
    }
    if (asked !== suggestAsked || linkedid !== desk.currentCall()) return;  // another call, or a newer theme
    status.className = "muted";
    text(status, found.suggestions.length ? found.suggestions.length + " suggestion"
                 + (found.suggestions.length > 1 ? "s" : "") + " pour cet appel."
                                          : "Aucune suggestion : choisissez le thème, ou cherchez.");
    list.replaceChildren();
    for (const s of found.suggestions) list.append(articleItem(s, null, null, s.reason_label));
  }

  desk.events.addEventListener("new-call", (event) => {
    call = event.detail;
    used.clear();
    showUsed();
    $("kb-none").checked = false;
    $("kb-question").value = "";
    $("kb-question-field").hidden = true;
    $("kb-suggestions").replaceChildren();
    text($("kb-suggest-status"), "Suggestions en cours…");
    // after the pop is on screen: the suggestions never delay it
    setTimeout(() => suggest(call.menu_topic || null, null), 0);
  });
  desk.events.addEventListener("topic", (event) => {
    if (call && desk.currentCall() === call.linkedid) suggest(event.detail.topic, event.detail.subtopic);
  });

  // -- the keyboard -----------------------------------------------------------------------------------------------

  function typingIn(target) {
    return target instanceof HTMLElement
      && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("kb-panel").hidden) { event.preventDefault(); closePanel(); return; }
    const altK = event.altKey && !event.ctrlKey && !event.metaKey && (event.key === "k" || event.key === "K" || event.code === "KeyK");
    const slash = event.key === "/" && !event.altKey && !event.ctrlKey && !event.metaKey && !typingIn(event.target);
    if (altK || slash) {
      event.preventDefault();
      if (!$("kb-panel").hidden) { $("kb-panel").hidden = true; shown = null; opener = null; }  // it covers the box
      $("kb-q").focus();
      $("kb-q").select();
    }
  });
})();
