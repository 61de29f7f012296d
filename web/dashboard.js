// crtd's dashboard: every camera's activity, live. It reads crtd's own API
// (docs/SERVICE.md) and nothing else; no video frame ever reaches it, only
// keypoints. Text from the API is always set as text, never as HTML.
"use strict";

const HOUR_MS = 3600 * 1000;
// COCO-17 keypoints joined into a skeleton.
const BONES = [[5, 7], [7, 9], [6, 8], [8, 10], [5, 6], [5, 11], [6, 12], [11, 12], [11, 13],
  [13, 15], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4]];

const streams = new Map(); // name -> {json, intervals, framesSeen, framesAt, card, people, zones}
const alerts = new Map(); // id -> alert, the newest 50 and every open one
let token = sessionStorage.getItem("crtd-token") || "";
let eventsUp = false, pollUp = true, lastEventId = null;

const $ = (id) => document.getElementById(id);
function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else if (k === "style") Object.assign(e.style, v); // CSSOM: allowed by the page's CSP
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// A colour per class, the same on every load: a hue from the name's hash,
// spread by the golden angle so that classes seldom look alike.
function colour(label) {
  if (!label) return "#9aa3ae";
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${Math.round((h % 97) * 137.508) % 360} 62% 40%)`;
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (r.status === 401) {
    $("token-form").hidden = false;
    throw new Unauthorized("the API wants a token");
  }
  if (r.status === 204) return null;
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.message : `HTTP ${r.status}`);
  return body;
}

function setLink(up) {
  const banner = $("banner");
  banner.hidden = up;
  $("live").textContent = up ? "live" : "reconnecting…";
}

// ---- cards ----------------------------------------------------------------

function makeCard(name) {
  const card = el("article", { class: "card", "aria-label": `Camera ${name}` });
  const remove = el("button", { class: "remove", type: "button", text: "Remove" });
  remove.addEventListener("click", () => removeStream(name));
  const pause = el("button", { class: "pause", type: "button", text: "Pause" });
  pause.addEventListener("click", () => pauseStream(name, pause.dataset.paused !== "true"));
  card.append(
    el("h3", {}, [el("span", { text: name }), el("span", { class: "badge" }), pause, remove]),
    el("p", { class: "place" }),
    el("p", { class: "meta" }),
    el("p", { class: "now", "aria-live": "polite" }),
    el("p", { class: "since" }),
    el("div", { class: "body" }, [
      el("canvas", { width: "160", height: "160", role: "img", "aria-label": `Latest pose on ${name}` }),
      el("ol", { class: "top3", "aria-label": "Top three" }),
    ]),
    makeZoneTools(name),
    el("div", { class: "timeline", role: "img", "aria-label": "The last hour of activity" }),
    el("div", { class: "axis" }, [el("span", { text: "1 h ago" }), el("span", { text: "now" })]),
    makeLabelTools(name),
  );
  $("streams").append(card);
  card.querySelector("canvas").addEventListener("click", (e) => addZonePoint(name, e));
  selectOnTimeline(name, card.querySelector(".timeline"));
  return card;
}

function renderCard(s) {
  const j = s.json, a = j.activity, card = s.card;
  const badge = card.querySelector(".badge");
  badge.textContent = j.state;
  badge.className = `badge ${j.state}`;
  card.querySelector(".remove").hidden = j.origin !== "api";
  // A paused camera keeps its card: the button says what a click does next.
  const pause = card.querySelector(".pause");
  pause.dataset.paused = String(Boolean(j.paused));
  pause.textContent = j.paused ? "Resume" : "Pause";
  pause.setAttribute("aria-label", `${j.paused ? "Resume" : "Pause"} ${j.name}`);
  const place = card.querySelector(".place");
  place.textContent = [j.room, j.site].filter(Boolean).join(" · ");
  place.hidden = !place.textContent;
  const age = s.framesAt ? duration(Date.now() - s.framesAt) : "none yet";
  card.querySelector(".meta").textContent =
    `${j.reconnects} reconnects · last frame ${age}${s.framesAt ? " ago" : ""}` +
    (j.error ? ` · ${j.error}` : "");
  const label = a.label || (a.state === "nobody" ? "nobody in view" : "not known yet");
  // "unknown": the model was not sure enough (or saw motion outside what it
  // knows); say so, with its best guess, rather than a confident label.
  const guess = a.top && a.top[0] ? `best guess ${a.top[0].label} ${Math.round(a.top[0].score * 100)}%` : "";
  card.querySelector(".now").textContent =
    a.label === "unknown" ? `unknown activity${guess ? ` · ${guess}` : ""}`
    : a.label ? `${label} · ${Math.round(a.score * 100)}%` : label;
  card.querySelector(".since").textContent =
    a.since ? `for ${duration(Date.now() - Date.parse(a.since))}` : "";
  const top = card.querySelector(".top3");
  top.replaceChildren(...(a.top || []).slice(0, 3).map((t) => el("li", {}, [
    el("span", { text: `${t.label} ${Math.round(t.score * 100)}%` }),
    el("div", { class: "bar" }, [el("span", { style: { width: `${Math.round(t.score * 100)}%` } })]),
  ])));
  renderTimeline(s);
}

function renderTimeline(s) {
  const now = Date.now(), from = now - HOUR_MS;
  const parts = [];
  let at = from;
  for (const iv of s.intervals) {
    const start = Math.max(from, Date.parse(iv.start));
    const end = iv.end ? Date.parse(iv.end) : now;
    if (end <= from) continue;
    if (start > at) parts.push(el("span", { style: { width: `${(start - at) / HOUR_MS * 100}%` } }));
    const name = iv.label || iv.state;
    parts.push(el("span", {
      style: { width: `${(end - start) / HOUR_MS * 100}%`, background: colour(iv.label) },
      title: `${name}, ${new Date(start).toLocaleTimeString()}`,
    }));
    at = end;
  }
  // The labels of this camera: a thin bar under their stretch.
  for (const l of labels.values()) {
    if (l.stream !== s.json.name) continue;
    const left = Math.max(0, (Date.parse(l.start) - from) / HOUR_MS);
    const right = Math.min(1, (Date.parse(l.end) - from) / HOUR_MS);
    if (right <= 0 || left >= 1) continue;
    parts.push(el("span", { class: "label-mark", title: `${l.not ? "not " : ""}${l.class}`,
      style: { left: `${left * 100}%`, width: `${Math.max(0.3, (right - left) * 100)}%` } }));
  }
  const sel = selections.get(s.json.name);
  if (sel) {
    const left = Math.max(0, (sel.start - from) / HOUR_MS), right = Math.min(1, (sel.end - from) / HOUR_MS);
    parts.push(el("span", { class: "selection",
      style: { left: `${left * 100}%`, width: `${Math.max(0.3, (right - left) * 100)}%` } }));
  }
  s.card.querySelector(".timeline").replaceChildren(...parts);
  renderLegend();
}

function renderLegend() {
  const labels = new Set();
  for (const s of streams.values())
    for (const iv of s.intervals) if (iv.label) labels.add(iv.label);
  $("legend").replaceChildren(...[...labels].sort().map((l) =>
    el("span", {}, [el("i", { style: { background: colour(l) } }), document.createTextNode(l)])));
}

// ---- labels ---------------------------------------------------------------
// A stretch of a camera's timeline (or of one person track) marked as a
// class: one of the model's, a new name, or "not this" (docs/SERVICE.md,
// "Labels"). crtd keeps the archived keypoints of the stretch with it.

const selections = new Map(); // stream -> {start, end} in ms, while a label is being made
const labels = new Map(); // id -> label
let modelClasses = [];

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function makeLabelTools(name) {
  const open = el("button", { type: "button", class: "label-open", text: "Label a stretch" });
  const form = el("form", { class: "label-form", hidden: "" }, [
    el("p", { class: "hint label-span" }),
    el("label", { for: `label-class-${name}`, text: "Label" }),
    el("input", { id: `label-class-${name}`, class: "label-class", required: "", maxlength: "63",
      list: "label-classes", placeholder: "Walk, or a new name: Feeds the cat" }),
    el("label", { for: `label-track-${name}`, text: "Who" }),
    el("select", { id: `label-track-${name}`, class: "label-track" }),
    el("label", { class: "check" }, [el("input", { type: "checkbox", class: "label-not" }),
      el("span", { text: "not this: crtd was wrong to say it" })]),
    el("button", { type: "submit", text: "Save label" }),
    el("button", { type: "button", class: "cancel", text: "Cancel" }),
    el("span", { class: "error label-error", role: "alert" }),
  ]);
  open.addEventListener("click", () => {
    const now = Date.now();
    if (!selections.has(name)) selections.set(name, { start: now - 5 * 60 * 1000, end: now });
    showLabelForm(name);
  });
  form.querySelector(".cancel").addEventListener("click", () => closeLabelForm(name));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const sel = selections.get(name), error = form.querySelector(".label-error");
    const track = form.querySelector(".label-track").value;
    error.textContent = "";
    try {
      await api("/v1/labels", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ stream: name, track: track ? Number(track) : null,
          start: sel.start / 1000, end: Math.min(sel.end, Date.now()) / 1000,
          class: form.querySelector(".label-class").value.trim(),
          not: form.querySelector(".label-not").checked }) });
      closeLabelForm(name);
      await refreshLabels();
    } catch (err) {
      error.textContent = `Not saved: ${err.message}`;
    }
  });
  return el("div", { class: "label-tools" }, [open, form]);
}

function showLabelForm(name) {
  const s = streams.get(name), sel = selections.get(name);
  if (!s || !sel) return;
  const form = s.card.querySelector(".label-form");
  form.querySelector(".label-span").textContent =
    `From ${clock(sel.start)} to ${clock(Math.min(sel.end, Date.now()))}: drag on the timeline to change it.`;
  const who = form.querySelector(".label-track"), was = who.value;
  // The people in view now, and those the last hour's history names.
  const ids = new Set((s.people || []).map((p) => p.id));
  for (const iv of s.intervals) if (iv.person) ids.add(iv.person);
  who.replaceChildren(el("option", { value: "", text: "everyone on this camera" }),
    ...[...ids].sort((a, b) => a - b).map((id) => el("option", { value: String(id), text: `person ${id}` })));
  if ([...who.options].some((o) => o.value === was)) who.value = was;
  form.hidden = false;
  s.card.querySelector(".label-open").hidden = true;
  renderTimeline(s);
}

function closeLabelForm(name) {
  selections.delete(name);
  const s = streams.get(name);
  if (!s) return;
  s.card.querySelector(".label-form").hidden = true;
  s.card.querySelector(".label-form .label-error").textContent = "";
  s.card.querySelector(".label-open").hidden = false;
  renderTimeline(s);
}

// Dragging across the timeline (the last hour) selects a stretch.
function selectOnTimeline(name, timeline) {
  let from = null;
  const at = (e) => {
    const r = timeline.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    // The last pixels are "now" (a pixel is some seconds of the hour).
    return Date.now() - HOUR_MS + (x >= 0.99 ? 1 : x) * HOUR_MS;
  };
  timeline.addEventListener("pointerdown", (e) => {
    from = at(e);
    timeline.setPointerCapture(e.pointerId);
    selections.set(name, { start: from, end: from });
    e.preventDefault();
  });
  timeline.addEventListener("pointermove", (e) => {
    if (from === null) return;
    const t = at(e);
    selections.set(name, { start: Math.min(from, t), end: Math.max(from, t) });
    renderTimeline(streams.get(name));
  });
  timeline.addEventListener("pointerup", (e) => {
    if (from === null) return;
    const t = at(e);
    from = null;
    const sel = { start: Math.min(selections.get(name).start, t), end: Math.max(selections.get(name).end, t) };
    if (sel.end - sel.start < 1000) sel.end = sel.start + 1000;
    selections.set(name, sel);
    showLabelForm(name);
  });
}

function labelText(l) {
  const who = l.track ? `person ${l.track}` : "everyone";
  const span = `${clock(Date.parse(l.start))}–${clock(Date.parse(l.end))}`;
  return `${l.stream}, ${who}, ${span}: ${l.not ? "not " : ""}${l.class}` +
    `${l.new_class && !l.not ? " (new)" : ""} · ${l.frames} frames`;
}

function renderLabels() {
  const list = [...labels.values()].sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
  $("labels-empty").hidden = list.length > 0;
  $("labels").replaceChildren(...list.map((l) => {
    const edit = el("button", { type: "button", class: "label-edit", text: "Edit" });
    const del = el("button", { type: "button", class: "label-delete", text: "Delete" });
    const li = el("li", { "data-id": String(l.id) }, [el("span", { class: "label-text", text: labelText(l) }), edit, del]);
    del.addEventListener("click", () => deleteLabel(l.id));
    edit.addEventListener("click", () => editLabel(li, l));
    return li;
  }));
  const names = new Set(modelClasses);
  for (const l of labels.values()) names.add(l.class);
  $("label-classes").replaceChildren(...[...names].sort().map((n) => el("option", { value: n })));
}

function editLabel(li, l) {
  const input = el("input", { class: "label-class", value: l.class, maxlength: "63",
    list: "label-classes", "aria-label": "Label" });
  const not = el("input", { type: "checkbox", class: "label-not" });
  not.checked = l.not;
  const error = el("span", { class: "error", role: "alert" });
  const form = el("form", { class: "label-change" }, [input,
    el("label", { class: "check" }, [not, el("span", { text: "not this" })]),
    el("button", { type: "submit", text: "Save" }),
    el("button", { type: "button", class: "cancel", text: "Cancel" }), error]);
  form.querySelector(".cancel").addEventListener("click", renderLabels);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api(`/v1/labels/${l.id}`, { method: "PUT", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ class: input.value.trim(), not: not.checked }) });
      await refreshLabels();
    } catch (err) {
      error.textContent = `Not saved: ${err.message}`;
    }
  });
  li.replaceChildren(form);
  input.focus();
}

async function deleteLabel(id) {
  try {
    await api(`/v1/labels/${id}`, { method: "DELETE" });
    labels.delete(id);
    renderLabels();
    for (const st of streams.values()) renderTimeline(st);
  } catch (e) { /* the next refresh shows what is there */ }
}

async function refreshLabels() {
  try {
    const j = await api("/v1/labels?limit=100");
    labels.clear();
    for (const l of j.labels) labels.set(l.id, l);
    renderLabels();
    for (const st of streams.values()) renderTimeline(st);
  } catch (e) { /* the next round tries again */ }
}

async function loadModelClasses() {
  try {
    modelClasses = (await api("/v1/model")).classes || [];
    renderLabels();
  } catch (e) { /* no model: the labels' own classes only */ }
}

// ---- zones ----------------------------------------------------------------

const ZONE_COLOURS = { bed: "#1e7b34", seat: "#00838f", floor: "#b86e00", door: "#8a4fb5",
  area: "#0b5cad", exclude: "#5f6670" };
const drafts = new Map(); // stream -> [[x, y], ...] while a zone is being drawn

function makeZoneTools(name) {
  const draw = el("button", { type: "button", class: "draw", text: "Draw a zone" });
  const form = el("form", { class: "zone-form", hidden: "" }, [
    el("p", { class: "hint", text: "Click the corners on the picture, then save." }),
    el("label", { for: `zone-name-${name}`, class: "sr-only", text: "Zone name" }),
    el("input", { id: `zone-name-${name}`, class: "zone-name", required: "", placeholder: "bed",
      pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,62}" }),
    el("label", { for: `zone-kind-${name}`, class: "sr-only", text: "Zone kind" }),
    el("select", { id: `zone-kind-${name}`, class: "zone-kind" },
      Object.keys(ZONE_COLOURS).map((k) => el("option", { value: k, text: k }))),
    el("button", { type: "submit", text: "Save zone" }),
    el("button", { type: "button", class: "cancel", text: "Cancel" }),
    el("span", { class: "error zone-error", role: "alert" }),
  ]);
  draw.addEventListener("click", () => {
    drafts.set(name, []);
    form.hidden = false;
    draw.hidden = true;
    streams.get(name).card.querySelector("canvas").classList.add("drawing");
  });
  const stop = () => {
    drafts.delete(name);
    form.hidden = true;
    draw.hidden = false;
    const s = streams.get(name);
    if (s) { s.card.querySelector("canvas").classList.remove("drawing"); drawPose(s); }
  };
  form.querySelector(".cancel").addEventListener("click", stop);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const zone = form.querySelector(".zone-name").value.trim();
    const points = drafts.get(name) || [];
    const error = form.querySelector(".zone-error");
    error.textContent = "";
    try {
      await api(`/v1/streams/${encodeURIComponent(name)}/zones/${encodeURIComponent(zone)}`,
        { method: "PUT", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ kind: form.querySelector(".zone-kind").value, points }) });
      stop();
      await loadZones(name);
    } catch (err) {
      error.textContent = `Not saved: ${err.message}`;
    }
  });
  return el("div", { class: "zone-tools" }, [draw, form]);
}

function addZonePoint(name, event) {
  const points = drafts.get(name);
  if (!points) return;
  const r = event.currentTarget.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (event.clientX - r.left) / r.width));
  const y = Math.min(1, Math.max(0, (event.clientY - r.top) / r.height));
  points.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
  drawPose(streams.get(name));
}

async function loadZones(name) {
  const z = await api(`/v1/streams/${encodeURIComponent(name)}/zones`);
  const s = streams.get(name);
  if (s) { s.zones = z.zones; drawPose(s); }
}

function drawPolygon(g, points, w, h, ink, closed) {
  if (!points.length) return;
  g.beginPath();
  g.moveTo(points[0][0] * w, points[0][1] * h);
  for (const p of points.slice(1)) g.lineTo(p[0] * w, p[1] * h);
  if (closed) g.closePath();
  g.stroke();
}

function drawZones(s, g, w, h) {
  g.save();
  g.lineWidth = 2;
  g.font = "9px sans-serif";
  for (const z of s.zones || []) {
    const ink = ZONE_COLOURS[z.kind] || "#5f6670";
    g.strokeStyle = ink;
    g.setLineDash(z.kind === "exclude" ? [4, 3] : []);
    drawPolygon(g, z.points, w, h, ink, true);
    g.fillStyle = ink;
    g.fillText(z.name, z.points[0][0] * w + 2, Math.max(9, z.points[0][1] * h + 10));
  }
  const draft = drafts.get(s.json.name);
  if (draft) {
    g.setLineDash([]);
    g.strokeStyle = g.fillStyle = "#f2a900";
    drawPolygon(g, draft, w, h, "#f2a900", false);
    for (const p of draft) { g.beginPath(); g.arc(p[0] * w, p[1] * h, 3, 0, 2 * Math.PI); g.fill(); }
  }
  g.restore();
}

// ---- alerts ---------------------------------------------------------------

function alertText(a) {
  return `${a.stream}: ${a.message || a.rule}`;
}

function ackButton(a) {
  const b = el("button", { type: "button", class: "ack", text: "Acknowledge",
    "aria-label": `Acknowledge: ${alertText(a)}` });
  b.addEventListener("click", () => acknowledge(a.id));
  return b;
}

function renderAlerts() {
  const list = [...alerts.values()].sort((a, b) => b.id - a.id);
  const waiting = list.filter((a) => a.state === "active" || a.state === "pending");
  const banner = $("alert-banner");
  banner.hidden = waiting.length === 0;
  $("alert-count").textContent = waiting.length === 1 ? "1 alert" : `${waiting.length} alerts`;
  $("alert-lines").replaceChildren(...waiting.slice(0, 3).map((a) =>
    el("li", {}, [el("span", { text: alertText(a) }), ackButton(a)])));
  $("alerts-empty").hidden = list.length > 0;
  $("alerts").replaceChildren(...list.slice(0, 20).map((a) => el("li", { "data-id": String(a.id) }, [
    el("span", { class: `state ${a.state}`, text: a.state }),
    el("span", { text: alertText(a) }),
    el("span", { class: "when", text: new Date(Date.parse(a.started)).toLocaleString() +
      (a.acknowledged_by ? ` · acknowledged by ${a.acknowledged_by}` : "") }),
    ...(a.state === "active" || a.state === "pending" ? [ackButton(a)] : []),
  ])));
}

async function refreshAlerts() {
  try {
    const [open, recent] = await Promise.all([api("/v1/alerts?state=open&limit=100"),
      api("/v1/alerts?limit=50")]);
    alerts.clear();
    for (const a of recent.alerts.concat(open.alerts)) alerts.set(a.id, a);
    renderAlerts();
  } catch (e) { /* the next round tries again */ }
}

async function acknowledge(id) {
  try {
    const a = await api(`/v1/alerts/${id}/ack`, { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ by: "dashboard" }) });
    alerts.set(a.id, a);
    renderAlerts();
  } catch (e) {
    $("add-error").textContent = `Not acknowledged: ${e.message}`;
  }
}

// A colour per person track, by id.
const PERSON_COLOURS = ["#0b5cad", "#b3261e", "#1e7b34", "#8a4fb5", "#b86e00", "#00838f"];

// Every person's skeleton in its own colour, labelled with its activity.
function drawPose(s) {
  const canvas = s.card.querySelector("canvas"), g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  drawZones(s, g, w, h);
  let drawn = 0;
  for (const person of s.people || []) {
    const k = person.keypoints || [];
    const seen = (i) => k[i] && k[i][2] >= 0.2;
    if (!k.some((p, i) => seen(i))) continue;
    const ink = PERSON_COLOURS[(person.id - 1) % PERSON_COLOURS.length];
    g.lineWidth = 3;
    g.strokeStyle = ink;
    for (const [a, b] of BONES) {
      if (!seen(a) || !seen(b)) continue;
      g.beginPath();
      g.moveTo(k[a][0] * w, k[a][1] * h);
      g.lineTo(k[b][0] * w, k[b][1] * h);
      g.stroke();
    }
    g.fillStyle = ink;
    k.forEach((p, i) => {
      if (!seen(i)) return;
      g.beginPath();
      g.arc(p[0] * w, p[1] * h, 3, 0, 2 * Math.PI);
      g.fill();
    });
    // The label above the box, as text on the canvas (never HTML).
    const text = `${person.id}: ${person.label || person.state}`;
    g.font = "10px sans-serif";
    g.fillText(text, Math.max(0, Math.min(w - g.measureText(text).width, person.box[0] * w)),
      Math.max(10, person.box[1] * h - 4));
    drawn++;
  }
  canvas.dataset.people = String(drawn);
  canvas.setAttribute("aria-label", `Latest pose on ${s.json.name}: ${drawn} ` +
    (drawn === 1 ? "person" : "people"));
}

// ---- data -----------------------------------------------------------------

async function loadHistory(name) {
  const since = new Date(Date.now() - HOUR_MS).toISOString();
  const h = await api(`/v1/streams/${encodeURIComponent(name)}/history?since=${since}&limit=1000`);
  const s = streams.get(name);
  if (s) {
    s.intervals = h.intervals.slice().sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    renderTimeline(s);
  }
}

async function refreshStreams() {
  let list;
  try {
    list = await api("/v1/streams");
    pollUp = true;
  } catch (e) {
    pollUp = e instanceof Unauthorized;
    setLink(pollUp && eventsUp);
    return;
  }
  setLink(eventsUp);
  const names = new Set(list.streams.map((j) => j.name));
  for (const [name, s] of streams)
    if (!names.has(name)) { s.card.remove(); streams.delete(name); }
  for (const j of list.streams) {
    let s = streams.get(j.name);
    if (!s) {
      s = { json: j, intervals: [], framesSeen: j.frames, framesAt: j.frames ? Date.now() : 0,
        card: null, people: [], zones: [] };
      streams.set(j.name, s);
      s.card = makeCard(j.name);
      loadHistory(j.name).catch(() => {});
      loadZones(j.name).catch(() => {});
    }
    if (j.frames !== s.framesSeen) { s.framesSeen = j.frames; s.framesAt = Date.now(); }
    s.json = j;
    renderCard(s);
  }
  $("empty").hidden = streams.size > 0;
}

async function refreshPoses() {
  for (const [name, s] of streams) {
    try {
      const p = await api(`/v1/streams/${encodeURIComponent(name)}/people`);
      s.people = p.people;
      drawPose(s);
    } catch (e) { /* the next round tries again */ }
  }
}

function onEvent(type, data) {
  if (type === "finetune") {
    renderFinetune(data);
    return;
  }
  if (type === "alert") {
    alerts.set(data.id, data);
    renderAlerts();
    return;
  }
  const s = streams.get(data.stream);
  if (type === "stream") { refreshStreams(); return; }
  if (!s) return;
  if (type === "activity") {
    s.json.activity = data;
    const last = s.intervals[s.intervals.length - 1];
    if (last && !last.end) last.end = data.since;
    s.intervals.push({ state: data.state, label: data.label, start: data.since, end: null });
    renderCard(s);
  } else if (type === "status") {
    Object.assign(s.json, { state: data.state, error: data.error, reconnects: data.reconnects });
    renderCard(s);
  }
}

// Server-Sent Events read with fetch, which (unlike EventSource) can send the
// token; reconnects with Last-Event-ID so that nothing is missed.
async function followEvents() {
  for (let delay = 1000; ; delay = Math.min(delay * 2, 8000)) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (token) headers.Authorization = `Bearer ${token}`;
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const r = await fetch("/v1/events", { headers });
      if (r.status === 401) { $("token-form").hidden = false; throw new Unauthorized(); }
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      eventsUp = true;
      delay = 1000;
      setLink(pollUp);
      const reader = r.body.getReader(), decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) lastEventId = line.slice(4);
            else if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) onEvent(type, JSON.parse(data));
        }
      }
    } catch (e) { /* shown by the banner; tried again below */ }
    eventsUp = false;
    setLink(false);
    await new Promise((ok) => setTimeout(ok, delay));
  }
}

// ---- changes --------------------------------------------------------------

async function addStream(event) {
  event.preventDefault();
  const name = $("add-name").value.trim(), url = $("add-url").value.trim();
  $("add-error").textContent = "";
  try {
    await api("/v1/streams", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, url }) });
    $("add-form").reset();
    await refreshStreams();
  } catch (e) {
    $("add-error").textContent = `Not added: ${e.message}`;
  }
}

async function pauseStream(name, pause) {
  try {
    await api(`/v1/streams/${encodeURIComponent(name)}/${pause ? "pause" : "resume"}`, { method: "POST" });
    await refreshStreams();
  } catch (e) {
    $("add-error").textContent = `Not ${pause ? "paused" : "resumed"}: ${e.message}`;
  }
}

async function removeStream(name) {
  try {
    await api(`/v1/streams/${encodeURIComponent(name)}`, { method: "DELETE" });
    await refreshStreams();
  } catch (e) {
    $("add-error").textContent = `Not removed: ${e.message}`;
  }
}

async function showModel() {
  const card = $("model-card"), classes = $("model-classes");
  try {
    const m = await api("/v1/model");
    const rows = [["Generation", m.generation === 0 ? "0 (the configured model)" :
      `${m.generation} (fine-tuned)`], ["File", m.file], ["Memory", `${m.architecture} / ${m.variant}`],
      ["Frames per second", m.fps], ["Frames per segment", m.segment_frames],
      ["Width, layers, heads", `${m.d_model}, ${m.n_layers}, ${m.n_heads}`],
      ["Parameters", m.parameters], ["Memory per camera", `${m.memory_floats} floats`],
      ["Pose model", m.pose_model]];
    for (const [k, v] of Object.entries(m.provenance || {})) rows.push([k, v]);
    if (m.finetune) {
      const v = m.finetune.validation || {};
      const labels = Object.entries(m.finetune.labels || {}).map(([c, n]) => `${c} ${n.labels}`);
      rows.push(["Fine-tuned", `${m.finetune.date || ""} from ${m.finetune.parent || "?"}`],
        ["Labels per class", labels.join(", ")],
        ["Held-out labels", `${percent(v.held_out_before)} → ${percent(v.held_out_after)}`],
        ["Replay check", `${percent(v.replay_before)} → ${percent(v.replay_after)}`]);
    }
    $("finetune-rollback").disabled = !(m.generations && m.generations.length > 1);
    card.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
    classes.replaceChildren(...m.classes.map((c) => el("li", {}, [
      el("i", { class: "swatch", style: { background: colour(c) } }),
      document.createTextNode(c)])));
  } catch (e) {
    card.replaceChildren(el("dt", { text: "No model" }), el("dd", { text: e.message }));
  }
}

// ---- the fine-tune (docs/DASHBOARD.md, "Fine-tune") ------------------------

const percent = (x) => (typeof x === "number" ? `${Math.round(x * 100)}%` : "–");
let finetuneState = null;

function renderFinetune(job) {
  const was = finetuneState;
  finetuneState = job.state;
  const running = job.state === "running";
  const bar = $("finetune-progress");
  bar.hidden = job.state === "idle";
  bar.value = job.fraction;
  $("finetune-start").disabled = running;
  $("finetune-cancel").hidden = !running;
  const stage = { load: "loading", baseline: "judging the model now", train: "training",
    check: "judging the new model", done: "done" }[job.stage] || "";
  let text = "";
  if (running) {
    text = `Running: ${stage}${job.stage === "train" ? `, epoch ${job.epoch} of ${job.epochs}` : ""}` +
      ` (${Math.round(job.fraction * 100)}%)${job.cancelling ? ", cancelling" : ""}`;
  } else if (job.state === "succeeded") {
    text = `Succeeded: generation ${job.generation} serves. ${job.result.verdict}`;
  } else if (job.state === "rejected") {
    text = `Rejected, the model stays: ${job.result.verdict}`;
  } else if (job.state === "failed") {
    text = `Failed, the model stays: ${job.error}`;
  } else if (job.state === "cancelled") {
    text = "Cancelled, the model stays.";
  }
  if (job.result && !running) {
    text += ` Held-out labels ${percent(job.result.held_out_before)} → ${percent(job.result.held_out_after)},` +
      ` replay ${percent(job.result.replay_before)} → ${percent(job.result.replay_after)}.`;
  }
  $("finetune-status").textContent = text;
  // A job that ended may have swapped the model: the card shows the new one.
  if (was === "running" && !running && location.hash === "#model") showModel();
}

async function refreshFinetune() {
  try { renderFinetune(await api("/v1/model/finetune")); } catch (e) { /* no token yet */ }
}

async function startFinetune(e) {
  e.preventDefault();
  $("finetune-error").textContent = "";
  const body = {};
  for (const [id, key] of [["finetune-epochs", "epochs"], ["finetune-min-labels", "min_labels"],
    ["finetune-replay", "replay_clips"], ["finetune-lr", "lr"],
    ["finetune-tolerance", "tolerance"]]) {
    const v = $(id).value.trim();
    if (v !== "") body[key] = Number(v);
  }
  try {
    renderFinetune(await api("/v1/model/finetune", { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }));
  } catch (err) {
    $("finetune-error").textContent = `Not started: ${err.message}`;
  }
}

async function finetuneAction(path, method, what) {
  $("finetune-error").textContent = "";
  try {
    await api(path, { method });
    await refreshFinetune();
    await showModel();
  } catch (err) {
    $("finetune-error").textContent = `${what}: ${err.message}`;
  }
}

function route() {
  const model = location.hash === "#model";
  $("view-model").hidden = !model;
  $("view-streams").hidden = model;
  $("nav-model").toggleAttribute("aria-current", model);
  $("nav-streams").toggleAttribute("aria-current", !model);
  if (model) $("nav-model").setAttribute("aria-current", "page");
  else $("nav-streams").setAttribute("aria-current", "page");
  if (model) showModel();
}

function start() {
  $("add-form").addEventListener("submit", addStream);
  $("finetune-form").addEventListener("submit", startFinetune);
  $("finetune-cancel").addEventListener("click",
    () => finetuneAction("/v1/model/finetune", "DELETE", "Not cancelled"));
  $("finetune-rollback").addEventListener("click",
    () => finetuneAction("/v1/model/rollback", "POST", "Not rolled back"));
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("crtd-token", token);
    $("token-form").hidden = true;
    refreshStreams();
    route();
  });
  window.addEventListener("hashchange", route);
  route();
  refreshStreams();
  followEvents();
  setInterval(refreshStreams, 2000);
  refreshAlerts();
  setInterval(refreshAlerts, 5000);
  loadModelClasses();
  refreshFinetune();
  setInterval(refreshFinetune, 2000); // the SSE event is sooner; this catches up after a gap
  refreshLabels();
  setInterval(refreshLabels, 5000);
  setInterval(() => { for (const name of streams.keys()) loadZones(name).catch(() => {}); }, 5000);
  setInterval(refreshPoses, 1000);
  setInterval(() => { for (const s of streams.values()) renderCard(s); }, 1000);
}

start();
