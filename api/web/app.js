// odoo-agi phone page. Plain script, no build step; the softphone is a
// module of its own (softphone.js).
"use strict";

const csrf = () => document.querySelector('meta[name="csrf"]')?.content || "";
const $ = (id) => document.getElementById(id);

const labels = {
  ringing: "Ringing", answered: "Answered by you", answered_elsewhere: "Answered by someone else",
  missed: "Missed", ended: "Ended", no_answer: "No answer", busy: "Busy", failed: "Failed",
};

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function odooLink(id) {
  const base = (document.body.dataset.odoo || "").replace(/\/$/, "");
  return `${base}/web#id=${id}&model=res.partner&view_type=form`;
}

// handOver asks the phone page's softphone, in this tab or another one, to
// place the call, when the user chose "Ring here". It resolves false when
// no registered softphone answers.
function handOver(number, progress) {
  if (window.odooSoftphone?.ringHere()) {
    return window.odooSoftphone.call(number).then(() => true, (e) => {
      progress.className = "progress bad";
      progress.textContent = "The softphone could not call: " + e.message;
      return true;
    });
  }
  if (localStorage.getItem("odoo-agi-ring") !== "here" || !("BroadcastChannel" in window)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const ch = new BroadcastChannel("odoo-agi-softphone"), id = Math.random().toString(36).slice(2);
    const done = (v) => { clearTimeout(timer); ch.close(); resolve(v); };
    const timer = setTimeout(() => done(false), 700);
    ch.onmessage = (ev) => {
      if (ev.data?.id !== id) return;
      if (ev.data.type === "pong") ch.postMessage({ type: "call", id, number });
      if (ev.data.type === "calling") {
        progress.className = "progress ok";
        progress.textContent = "Calling from the softphone in your phone page's tab.";
        done(true);
      }
      if (ev.data.type === "failed") {
        progress.className = "progress bad";
        progress.textContent = "The softphone could not call: " + ev.data.error;
        done(true);
      }
    };
    ch.postMessage({ type: "ping", id });
  });
}

// call places a call: on the softphone when the user chose "Ring here",
// else a click-to-dial through the same API as every other client.
async function call(number, partnerID, progress) {
  if (await handOver(number, progress)) return;
  progress.className = "progress wait";
  progress.textContent = "Ringing your phone…";
  try {
    const r = await fetch("/api/v1/originate", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ number, partner_id: partnerID || 0 }),
    });
    const out = await r.json().catch(() => ({}));
    if (!r.ok) {
      progress.className = "progress bad";
      progress.textContent = out.error || `Refused (${r.status})`;
      return;
    }
    progress.className = "progress " + (out.status === "answered" ? "ok" : "bad");
    progress.textContent = `${labels[out.status] || out.status}: ${out.detail}`;
    progress.dataset.status = out.status;
  } catch (e) {
    progress.className = "progress bad";
    progress.textContent = "odoo-agi does not answer: " + e.message;
  }
}

// suggestions turns the dial box into a combobox: contacts by name or the
// start of a number, from odoo-agi's index, with arrow keys and Enter.
function suggestions(input, list, pick) {
  let items = [], active = -1, timer = 0, asked = "";
  const prefix = "opt-" + Math.random().toString(36).slice(2) + "-";
  const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; items = []; };
  const mark = () => list.querySelectorAll("li").forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 3) { close(); return; }
    timer = setTimeout(async () => {
      asked = q;
      const r = await fetch("/suggest?q=" + encodeURIComponent(q), { headers: { "X-CSRF-Token": csrf() } }).catch(() => null);
      const got = r && r.ok ? await r.json().catch(() => []) : [];
      if (asked !== input.value.trim()) return; // typed on since
      items = got;
      active = -1;
      list.replaceChildren(...items.map((s, i) => {
        const li = el("li", { role: "option", id: prefix + i, "aria-selected": "false" }, el("span", {}, s.name), el("span", { class: "num" }, s.pretty));
        li.addEventListener("mousedown", (e) => { e.preventDefault(); pick(s); close(); });
        return li;
      }));
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", String(items.length > 0));
    }, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (list.hidden || !items.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
      mark();
      input.setAttribute("aria-activedescendant", prefix + active);
    } else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      pick(items[active]);
      close();
    } else if (e.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
}

function phonePage() {
  let picked = false; // the Enter that chose a suggestion must not also submit the form
  $("number").addEventListener("keydown", () => { picked = false; }, { capture: true });
  $("dial").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (picked) { picked = false; return; }
    call($("number").value.trim(), 0, $("progress"));
  });
  suggestions($("number"), $("suggest"), (s) => {
    $("number").value = s.pretty;
    picked = true;
    call(s.e164, s.id, $("progress"));
  });

  const hint = $("hint");
  $("tel").addEventListener("click", () => {
    if (!navigator.registerProtocolHandler || !window.isSecureContext) {
      hint.textContent = "Your browser allows this only over HTTPS or on localhost (see the README).";
      return;
    }
    try {
      navigator.registerProtocolHandler("tel", location.origin + "/dial?to=%s");
      hint.textContent = "Accept your browser's prompt: phone numbers in Odoo will then open here.";
    } catch (e) {
      hint.textContent = "The browser refused: " + e.message;
    }
  });
  const notify = $("notify");
  if (!("Notification" in window)) notify.hidden = true;
  else if (Notification.permission === "granted") notify.hidden = true;
  notify.addEventListener("click", async () => {
    const p = await Notification.requestPermission();
    notify.hidden = p === "granted";
    hint.textContent = p === "granted" ? "Calls will show as desktop notifications." : "Notifications are blocked.";
  });

  const live = $("live"), recent = $("recent"), cards = new Map();
  recent.addEventListener("click", (ev) => {
    const n = ev.target.closest("button[data-number]")?.dataset.number;
    if (n) call(n, 0, $("progress"));
  });
  const idle = () => { $("idle").hidden = cards.size > 0; };

  // created remembers the contacts made from a card, by call, so that the
  // card's next states keep the name and the link.
  const created = new Map();

  function createContact(ev, card) {
    const form = el("form", { class: "row wrap create" },
      el("input", { name: "name", placeholder: "Name of the new contact", autocomplete: "off", "aria-label": "Name of the new contact" }),
      el("button", { type: "submit" }, "Create contact"));
    const status = el("p", { class: "small muted", role: "status" });
    const send = async (addTo) => {
      form.querySelector("button").disabled = true;
      status.className = "small muted";
      status.textContent = addTo ? "Adding the number…" : "Creating…";
      try {
        const r = await fetch("/contacts", {
          method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
          body: JSON.stringify({ number: ev.number, name: form.elements.name.value.trim(), add_to: addTo || 0, company_id: ev.company_id || 0 }),
        });
        const out = await r.json().catch(() => ({}));
        if (!r.ok) throw new Error(out.error || `refused (${r.status})`);
        created.set(ev.call, out);
        render(card, ev);
      } catch (err) {
        status.className = "small error";
        status.textContent = err.message;
        form.querySelector("button").disabled = false;
      }
    };
    form.addEventListener("submit", (e) => { e.preventDefault(); send(0); });
    if (document.body.dataset.leads === "true") {
      const lead = el("button", { type: "button", class: "lead" }, "Create lead");
      lead.addEventListener("click", async () => {
        lead.disabled = true;
        status.className = "small muted";
        status.textContent = "Creating the lead…";
        const r = await fetch("/leads", {
          method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
          body: JSON.stringify({ number: ev.number, name: form.elements.name.value.trim(), company_id: ev.company_id || 0 }),
        }).catch((err) => ({ ok: false, json: async () => ({ error: err.message }) }));
        const out = await r.json().catch(() => ({}));
        status.className = r.ok ? "small ok" : "small error";
        status.textContent = r.ok ? `Lead created: ${out.name}` : out.error || "refused";
        if (r.ok && out.id) {
          const base = (document.body.dataset.odoo || "").replace(/\/$/, "");
          status.append(" ", el("a", { href: `${base}/web#id=${out.id}&model=crm.lead&view_type=form`, target: "_blank", rel: "noopener" }, "Open in Odoo"));
        }
        lead.disabled = r.ok;
      });
      form.append(lead);
    }
    // Or add the number to a contact found by name; one whose numbers are
    // all taken gets a new contact under its company instead.
    const find = el("input", { class: "add-to", placeholder: "or add to an existing contact…", autocomplete: "off", role: "combobox",
      "aria-autocomplete": "list", "aria-expanded": "false", "aria-label": "Add the number to an existing contact" });
    const list = el("ul", { class: "suggest", role: "listbox", hidden: "" });
    suggestions(find, list, (s) => { find.value = s.name; send(s.id); });
    return el("div", {}, form, el("label", { class: "suggest-box" }, find, list), status);
  }

  function render(card, ev) {
    const made = created.get(ev.call);
    if (made) ev = { ...ev, name: made.name, partner_id: made.id };
    card.className = "call " + ev.state;
    card.replaceChildren(...[
      el("div", { class: "name" }, ev.name || ev.pretty),
      el("div", { class: "meta" }, [ev.name ? ev.pretty : "", ev.line ? "to " + ev.line : "", ev.salesperson ? "Salesperson: " + ev.salesperson : ""].filter(Boolean).join(" · ")),
      ev.tags && ev.tags.length ? el("div", { class: "tags" }, ...ev.tags.map((t) => el("span", {}, t))) : null,
      el("div", { class: "row" }, el("span", { class: "state" }, labels[ev.state] || ev.state),
        ev.partner_id ? el("a", { href: odooLink(ev.partner_id), target: "_blank", rel: "noopener" }, "Open in Odoo") : null),
      !ev.partner_id && ev.number && ev.direction === "in" && document.body.dataset.contacts === "true" ? createContact(ev, card) : null,
    ].filter(Boolean));
  }

  function remember(ev) {
    recent.querySelector(".empty")?.remove();
    const li = el("li", { class: ev.state, "data-call": ev.call },
      el("span", { class: "state" }, labels[ev.state] || ev.state), " ",
      el("span", { class: "who" }, ev.name || ev.pretty), " ",
      el("span", { class: "num" }, ev.pretty), " ",
      el("time", {}, new Date(ev.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })));
    if (ev.partner_id) li.append(el("a", { href: odooLink(ev.partner_id), target: "_blank", rel: "noopener" }, "Open in Odoo"));
    if (ev.number) li.append(" ", el("button", { class: "ghost small", type: "button", "data-number": ev.number }, "Call"));
    recent.prepend(li);
    while (recent.children.length > 20) recent.lastElementChild.remove();
  }

  function notifyRing(ev) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const n = new Notification(ev.name || ev.pretty, {
      body: [ev.name ? ev.pretty : "", ev.line ? "to " + ev.line : "", ev.salesperson ? "Salesperson: " + ev.salesperson : ""].filter(Boolean).join("\n") || "Incoming call",
      tag: "call-" + ev.call, icon: "/static/icon.svg",
    });
    n.onclick = () => { window.focus(); if (ev.partner_id) window.open(odooLink(ev.partner_id), "_blank", "noopener"); n.close(); };
  }

  // Missed calls while the tab is in the background count in its title.
  const title = document.title;
  let missed = 0;
  const icon = document.querySelector('link[rel="icon"]');
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { missed = 0; document.title = title; icon.href = "/static/icon.svg"; }
  });

  const es = new EventSource("/events");
  // data-live says whether calls reach this page now.
  es.addEventListener("open", () => { document.body.dataset.live = "on"; });
  es.addEventListener("error", () => { document.body.dataset.live = "off"; });
  es.addEventListener("call", (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.direction === "out") { remember(ev); return; }
    // Two PBXs may give two calls one Linkedid: a card is a PBX's call.
    const key = (ev.pbx ? ev.pbx + "/" : "") + ev.call;
    let card = cards.get(key);
    if (!card) {
      card = el("article", { "data-call": ev.call, "data-pbx": ev.pbx || "" });
      cards.set(key, card);
      live.prepend(card);
    }
    render(card, ev);
    if (ev.state === "ringing") notifyRing(ev);
    if (ev.state === "missed" && document.hidden) {
      document.title = `(${++missed}) ${title}`;
      icon.href = "/static/icon-missed.svg";
    }
    if (["missed", "ended", "answered_elsewhere"].includes(ev.state)) {
      remember(ev);
      // A card leaves 8 s after its call, unless the user is naming a new contact on it.
      const leave = () => {
        if (card.contains(document.activeElement) || card.querySelector("form.create input")?.value) { setTimeout(leave, 8000); return; }
        card.remove(); cards.delete(key); idle();
      };
      setTimeout(leave, 8000);
    }
    idle();
  });
}

function dialPage() {
  const form = $("call");
  if (!form) return;
  const number = form.elements.number.value, partner = Number(form.elements.partner_id.value) || 0;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    form.querySelector("button").disabled = true;
    call(number, partner, $("progress")).finally(() => { form.querySelector("button").disabled = false; });
  });
  if (document.body.dataset.autodial === "true") form.requestSubmit();
}

function statusPage() {
  $("ping").addEventListener("click", async () => {
    const list = $("checks");
    list.replaceChildren(el("li", { class: "muted" }, "Checking…"));
    const r = await fetch("/status/ping", { method: "POST", headers: { "X-CSRF-Token": csrf() } });
    const checks = await r.json().catch(() => []);
    list.replaceChildren(...(Array.isArray(checks) ? checks : [{ ok: false, name: "ping", detail: checks.error }]).map((c) =>
      el("li", { class: c.ok ? "answered" : "missed" }, el("span", { class: "state" }, c.ok ? "ok" : "fail"), " ",
        el("span", { class: "who" }, c.name), " ", el("span", { class: "num" }, c.detail))));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "phone") phonePage();
  if (page === "dial") dialPage();
  if (page === "status") statusPage();
});
