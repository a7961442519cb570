// The commune field: a WAI-ARIA 1.2 combobox (a text input with a list popup) over the official list of communes
// (GET /api/communes: a name or a postal code, the département's communes first). Used by the desk's
// qualification (directory-desk.js) and the directory's entry form, where `input[data-commune-combobox]` is set
// up on its own. Everything from the network is shown with textContent.
//   ArrowDown / ArrowUp  open the list, move the active option (aria-activedescendant, aria-selected)
//   Enter                picks the active option (the form is not sent while the list is open)
//   Escape, Tab, a click elsewhere  close the list; the focus stays on the field after a pick
// A name typed in full and matching one suggestion only is taken when the field is left; otherwise the server
// resolves it or refuses the save with a French message (never dropped silently).
"use strict";

(() => {
  const fold = (s) => String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/œ/gi, "oe")
    .replace(/æ/gi, "ae").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim().replace(/^st /, "saint ").replace(/^ste /, "sainte ");

  function label(c) {
    const codes = (c.postal_codes || []);
    const shown = codes.slice(0, 3).join(", ") + (codes.length > 3 ? "…" : "");
    return c.name + " (" + (shown || c.code) + ")";
  }

  function combobox(input, options) {
    const list = options.list;
    const status = options.status;
    const hidden = options.hidden || null;  // an <input type=hidden> that receives the INSEE code picked
    const say = (message) => { if (status) status.textContent = message; };
    let items = [];
    let active = -1;
    let picked = null;  // the commune picked: {code, name, postal_codes}
    let timer = null;
    let asked = 0;

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    list.setAttribute("role", "listbox");
    if (!list.hasAttribute("aria-label") && !list.hasAttribute("aria-labelledby")) {
      list.setAttribute("aria-label", "Communes proposées");
    }

    function isOpen() { return !list.hidden; }
    function open() { if (items.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); } }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      setActive(-1);
    }
    function setActive(index) {
      active = index;
      Array.from(list.children).forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
      if (index >= 0 && list.children[index]) {
        const li = list.children[index];
        input.setAttribute("aria-activedescendant", li.id);
        li.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function setCode(code) { if (hidden) hidden.value = code || ""; }

    function pick(commune, quiet) {
      picked = commune;
      input.value = commune.name;
      setCode(commune.code);
      close();
      input.focus();
      if (!quiet) say("Commune choisie : " + label(commune) + ".");
      if (options.onPick) options.onPick(commune);
    }

    function render(found, q) {
      items = found;
      list.replaceChildren();
      found.forEach((c, i) => {
        const li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = label(c);
        li.addEventListener("mousedown", (e) => e.preventDefault());  // the focus stays in the field
        li.addEventListener("click", () => pick(c));
        list.appendChild(li);
      });
      active = -1;
      if (found.length) {
        open();
        say(found.length + (found.length > 1 ? " communes proposées" : " commune proposée")
            + " : flèches haut et bas pour parcourir, Entrée pour choisir.");
      } else {
        close();
        say("Aucune commune ne correspond à « " + q + " ».");
      }
    }

    async function suggest() {
      const q = input.value.trim();
      const mine = ++asked;
      if (q.length < 2) { items = []; list.replaceChildren(); close(); say(""); return; }
      try {
        const response = await fetch("/api/communes?q=" + encodeURIComponent(q), {
          headers: { "Accept": "application/json" }, credentials: "same-origin" });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const data = await response.json();
        if (mine === asked && document.activeElement === input) render(data.communes || [], q);
      } catch (e) { if (mine === asked) say("Liste des communes indisponible : réessayez."); }
    }

    input.addEventListener("input", () => {
      if (picked) { picked = null; setCode(null); if (options.onClear) options.onClear(); }
      clearTimeout(timer);
      timer = setTimeout(suggest, 150);
    });

    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") {
        e.preventDefault();
        if (!isOpen()) { open(); if (isOpen()) setActive(0); else suggest(); return; }
        setActive(active + 1 >= items.length ? 0 : active + 1);
      } else if (e.key === "ArrowUp") {
        e.preventDefault();
        if (!isOpen()) { open(); if (isOpen()) setActive(items.length - 1); return; }
        setActive(active <= 0 ? items.length - 1 : active - 1);
      } else if (e.key === "Enter") {
        if (!isOpen()) return;  // the form's own Enter
        e.preventDefault();
        if (active >= 0) pick(items[active]);
        else { const exact = exactMatch(); if (exact) pick(exact); else close(); }
      } else if (e.key === "Escape") {
        if (isOpen()) { e.preventDefault(); close(); say("Liste fermée."); }
      } else if (e.key === "Tab") {
        close();
      }
    });

    function exactMatch() {
      const typed = fold(input.value);
      const same = items.filter((c) => fold(c.name) === typed || (c.postal_codes || []).includes(typed));
      return same.length === 1 ? same[0] : null;
    }

    input.addEventListener("blur", () => {
      if (isOpen()) close();
      if (!picked && input.value.trim()) {  // typed in full, not picked: taken when it designates one commune
        const exact = exactMatch();
        if (exact) { picked = exact; setCode(exact.code); say("Commune retenue : " + label(exact) + ".");
                     if (options.onPick) options.onPick(exact); }
      }
    });

    return {
      code: () => (picked ? picked.code : null),
      picked: () => picked,
      clear: () => { picked = null; items = []; input.value = ""; setCode(null); list.replaceChildren(); close(); say(""); },
      set: (commune) => { picked = commune; input.value = commune ? commune.name : ""; setCode(commune ? commune.code : null); },
    };
  }

  window.gpsCommuneCombobox = combobox;

  // pages whose field sets itself up: <input data-commune-combobox="LIST-ID" data-commune-code="HIDDEN-ID">
  document.addEventListener("DOMContentLoaded", () => {
    for (const input of document.querySelectorAll("input[data-commune-combobox]")) {
      const list = document.getElementById(input.dataset.communeCombobox);
      const hidden = document.getElementById(input.dataset.communeCode || "");
      if (!list) continue;
      const status = document.createElement("p");
      status.className = "sr-only"; status.setAttribute("role", "status");
      list.after(status);
      const box = combobox(input, { list, status, hidden });
      if (hidden && hidden.value && input.value) box.set({ code: hidden.value, name: input.value, postal_codes: [] });
    }
  });
})();
