// crtd's fleet view: the cameras of several crtd instances on one page. It
// asks each instance's API (docs/SERVICE.md) every few seconds, across
// origins (each instance lists this page's origin in cors_origins), and
// shows an instance that does not answer as down without holding up the
// others. Text from the APIs is always set as text, never as HTML.
"use strict";

const POLL_MS = 2000, TIMEOUT_MS = 3000;
const STORE_KEY = "crtd-fleet";

const $ = (id) => document.getElementById(id);
function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// The instances: [{url, token}], this page's own first when nothing is kept.
function loadList() {
  try {
    const kept = JSON.parse(localStorage.getItem(STORE_KEY));
    if (Array.isArray(kept) && kept.length) return kept;
  } catch (e) { /* a damaged entry starts afresh */ }
  return [{ url: location.origin, token: sessionStorage.getItem("crtd-token") || "" }];
}
let list = loadList();
const save = () => localStorage.setItem(STORE_KEY, JSON.stringify(list));

// "http://box2:8470/" -> "http://box2:8470"; null when it is no http(s) URL.
function normalise(text) {
  try {
    const u = new URL(text.trim());
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return u.origin;
  } catch (e) { return null; }
}

const views = new Map(); // url -> {section, status, grid, polls, timer}

async function get(inst, path) {
  const headers = inst.token ? { Authorization: `Bearer ${inst.token}` } : {};
  const r = await fetch(inst.url + path, { headers, signal: AbortSignal.timeout(TIMEOUT_MS),
    cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) throw new Error(inst.token ? "wrong token" : "needs its token");
  if (!r.ok) throw new Error(body.error ? body.error.message : `HTTP ${r.status}`);
  return body;
}

function place(s) {
  return [s.site, s.room].filter(Boolean).join(" · ") || "no site or room set";
}

function activityText(a) {
  if (!a || !a.state) return "—";
  if (a.state === "activity") return `${a.label} · ${Math.round(a.score * 100)}%`;
  return a.state === "nobody" ? "nobody" : a.state;
}

function card(s, alerts) {
  const a = s.activity || {};
  const people = typeof a.people === "number" ? a.people : 0;
  const mine = alerts.filter((x) => x.stream === s.name);
  return el("article", { class: "card", "aria-label": `Camera ${s.name}` }, [
    el("h3", {}, [el("span", { text: s.name }), el("span", { class: `badge ${s.state}`, text: s.state })]),
    el("p", { class: "meta", text: place(s) }),
    el("p", { class: "now", text: activityText(a) }),
    el("p", { class: "since people", text: people === 1 ? "1 person" : `${people} people` }),
    mine.length
      ? el("ul", { class: "alerts fleet-alerts", "aria-label": "Active alerts" },
        mine.map((x) => el("li", { class: `alert ${x.state}`, text: `${x.rule}: ${x.message || x.state}` })))
      : el("p", { class: "hint", text: "No active alert." }),
  ]);
}

function view(inst) {
  let v = views.get(inst.url);
  if (v) return v;
  const remove = el("button", { class: "remove", type: "button", text: "Remove" });
  remove.addEventListener("click", () => {
    list = list.filter((i) => i.url !== inst.url);
    save();
    clearTimeout(v.timer);
    v.section.remove();
    views.delete(inst.url);
    summary();
  });
  const status = el("span", { class: "badge starting", text: "asking…", role: "status" });
  const grid = el("div", { class: "grid" });
  const section = el("section", { class: "instance", "aria-label": `Instance ${inst.url}`,
    "data-state": "unknown", "data-polls": "0" }, [
    el("h2", {}, [el("a", { href: `${inst.url}/`, text: inst.url }), status, remove]), grid]);
  $("instances").append(section);
  v = { section, status, grid, polls: 0, timer: 0 };
  views.set(inst.url, v);
  return v;
}

function summary() {
  let up = 0, cams = 0;
  for (const v of views.values()) {
    if (v.section.dataset.state === "up") { up++; cams += v.grid.childElementCount; }
  }
  $("summary").textContent = `${up} of ${views.size} up · ${cams} cameras`;
}

async function poll(inst) {
  const v = view(inst);
  // Only the latest call goes on polling (a new token starts a new one).
  const gen = v.gen = (v.gen || 0) + 1;
  try {
    const [streams, alerts] = await Promise.all([get(inst, "/v1/streams"),
      get(inst, "/v1/alerts?state=open&limit=100")]);
    v.grid.replaceChildren(...streams.streams.map((s) => card(s, alerts.alerts || [])));
    if (!streams.streams.length) v.grid.append(el("p", { class: "hint", text: "No camera." }));
    v.section.dataset.state = "up";
    v.section.dataset.polls = String(++v.polls);
    v.status.className = "badge running";
    v.status.textContent = `up · ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    // Down (or refusing): its cameras stay on the page, marked stale.
    v.section.dataset.state = "down";
    v.status.className = "badge reconnecting";
    // A TypeError is a fetch that got nothing readable: no answer, or CORS.
    v.status.textContent = `down: ${e.name === "TimeoutError" ? "no answer in time"
      : e instanceof TypeError ? "unreachable, or this page is not in its cors_origins" : e.message}`;
    for (const c of v.grid.querySelectorAll(".card .badge")) {
      c.className = "badge reconnecting";
      c.textContent = "unknown";
    }
  }
  if (gen !== v.gen) return;
  summary();
  if (views.get(inst.url) === v) v.timer = setTimeout(() => poll(inst), POLL_MS);
}

$("add-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const url = normalise($("add-url").value);
  if (!url) { $("add-error").textContent = "Give an http:// or https:// address."; return; }
  const token = $("add-token").value.trim();
  $("add-error").textContent = "";
  $("add-form").reset();
  // One already listed takes the new token (a wrong or missing one).
  const known = list.find((i) => i.url === url);
  if (known) {
    known.token = token;
    save();
    clearTimeout(view(known).timer);
    poll(known);
    return;
  }
  const inst = { url, token };
  list.push(inst);
  save();
  poll(inst);
});

for (const inst of list) poll(inst);
