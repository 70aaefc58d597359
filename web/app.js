// stackfold web UI: search, exception groups and a group's detail, patterns, over /api/*.
// No build step. All state lives in the URL fragment (#/route?params), so links can be shared.
"use strict";

const FILTER_KEYS = ["app", "env", "host", "tag", "level"];
const $ = (sel, root = document) => root.querySelector(sel);

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const parts = (path || "/search").split("/").filter(Boolean);
  return { name: parts[0] || "search", arg: parts[1], params: new URLSearchParams(query || "") };
}

function go(name, params, arg) {
  const clean = new URLSearchParams();
  for (const [k, v] of params) if (v !== "" && v != null) clean.set(k, v);
  const qs = clean.toString();
  location.hash = `#/${name}${arg ? "/" + arg : ""}${qs ? "?" + qs : ""}`;
}

// Parameters that carry over between views: time range and filters.
function shared(params) {
  const out = new URLSearchParams();
  for (const k of ["from", "to", ...FILTER_KEYS]) if (params.get(k)) out.set(k, params.get(k));
  return out;
}

async function api(path, params) {
  const url = `/api/${path}${params && [...params].length ? "?" + params : ""}`;
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    const message = String(body.error || "");
    const where = body.position != null && !/position/.test(message) ? ` (at position ${body.position})` : "";
    throw new Error(`${body.error || response.statusText}${where}`);
  }
  return body;
}

async function post(path, body) {
  const response = await fetch(`/api/${path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

// Sets the triage status of the groups `fingerprints` (of the patterns `ids` when `of` is
// "patterns"), one request each.
async function setStatus(fingerprints, status, of = "exceptions") {
  for (const fp of fingerprints) await post(`${of}/${encodeURIComponent(fp)}/status`, { status });
}

// The triage line of a group's or a pattern's page: its status, badges, the buttons that
// change it and, once read, who changed it last.
function triageLine(item) {
  return `<div class="triage">Status: <b id="group-status">${esc(item.status)}</b> ${triageBadges({ ...item, status: "" })}
      <button type="button" data-status="resolved"${item.status === "resolved" ? " disabled" : ""}>Resolve</button>
      <button type="button" data-status="ignored"${item.status === "ignored" ? " disabled" : ""}>Ignore</button>
      <button type="button" data-status="unresolved"${item.status === "unresolved" ? " disabled" : ""}>Reopen</button></div>`;
}

// Wires the triage line of the page of `key` (under `of`: "exceptions" or "patterns").
function wireTriage(of, key, r) {
  api(`${of}/${encodeURIComponent(key)}/history`).then(({ changes }) => {
    const last = changes[changes.length - 1];
    if (!last || r.stale()) return;
    const note = document.createElement("span");
    note.className = "meta";
    note.textContent = `set ${last.status} by ${last.by} at ${last.at}${last.in_release ? " in release " + last.in_release : ""}`;
    $("#view .triage").append(note);
  }).catch(() => {});
  $("#view .triage").addEventListener("click", async (e) => {
    const to = e.target.dataset?.status;
    if (!to) return;
    try {
      await setStatus([key], to, of);
      render();
    } catch (err) {
      showError(err);
    }
  });
}

// A group's triage badges: regressed (when and in which release), and its status when it is
// not the default.
function triageBadges(g) {
  const regressed = g.regressed_at
    ? `<span class="regressed" title="regressed at ${esc(g.regressed_at)}">regressed${g.regressed_in ? " in " + esc(g.regressed_in) : ""}</span>`
    : "";
  const status = g.status && g.status !== "unresolved" ? `<span class="status">${esc(g.status)}</span>` : "";
  return regressed + status;
}

// "3 h ago" with the exact time on hover, as Sentry shows times.
function ago(ts) {
  if (!ts) return "—";
  const seconds = (Date.now() - Date.parse(ts)) / 1000;
  const steps = [[31536000, "y"], [2592000, "mo"], [86400, "d"], [3600, "h"], [60, "min"]];
  const [size, unit] = steps.find(([size]) => Math.abs(seconds) >= size) || [1, "s"];
  const n = Math.round(seconds / size);
  const text = Math.abs(seconds) < 45 ? "just now" : n > 0 ? `${n} ${unit} ago` : `in ${-n} ${unit}`;
  return `<time datetime="${esc(ts)}" title="${esc(ts)}">${text}</time>`;
}

const STATUSES = [["unresolved", "Unresolved"], ["resolved", "Resolved"], ["ignored", "Ignored"], ["all", "All"]];

function showError(err) {
  const box = $("#error");
  box.textContent = err ? String(err.message || err) : "";
  box.hidden = !err;
}

// ---- header: time range and filter chips -------------------------------------------------

function renderHeader(r) {
  // The top navigation keeps the time range and filters.
  const kept = shared(r.params).toString();
  $("#nav-search").href = `#/search${kept ? "?" + kept : ""}`;
  $("#nav-exceptions").href = `#/exceptions${kept ? "?" + kept : ""}`;
  $("#nav-search").classList.toggle("active", r.name === "search");
  $("#nav-exceptions").classList.toggle("active", r.name === "exceptions" || r.name === "group");
  $("#nav-patterns").href = `#/patterns${kept ? "?" + kept : ""}`;
  $("#nav-patterns").classList.toggle("active", r.name === "patterns" || r.name === "pattern");
  $("#nav-alerts").classList.toggle("active", r.name === "alerts");
  const from = r.params.get("from") || "";
  const to = r.params.get("to") || "";
  const preset = $("#preset");
  const isPreset = !to && [...preset.options].some((o) => o.value === from);
  preset.value = isPreset ? from : "custom";
  $("#custom").hidden = isPreset;
  $("#from").value = from;
  $("#to").value = to;
  const chips = FILTER_KEYS.flatMap((k) => (r.params.get(k) ? [[k, r.params.get(k)]] : []));
  $("#filters").innerHTML = chips
    .map(([k, v]) => `<span class="chip">${esc(k)}: ${esc(v)}<button data-drop="${esc(k)}" title="remove">×</button></span>`)
    .join("");
}

$("#preset").addEventListener("change", (e) => {
  const r = route();
  if (e.target.value === "custom") {
    $("#custom").hidden = false;
    return;
  }
  r.params.set("from", e.target.value);
  r.params.delete("to");
  r.params.delete("cursor");
  go(r.name, r.params, r.arg);
});
$("#apply-range").addEventListener("click", () => {
  const r = route();
  r.params.set("from", $("#from").value.trim());
  r.params.set("to", $("#to").value.trim());
  go(r.name, r.params, r.arg);
});
$("#filters").addEventListener("click", (e) => {
  const key = e.target.dataset.drop;
  if (!key) return;
  const r = route();
  r.params.delete(key);
  go(r.name, r.params, r.arg);
});

function addFilter(key, value) {
  const r = route();
  r.params.set(key, value);
  go(r.name, r.params, r.arg);
}

// ---- charts ------------------------------------------------------------------------------

// Bars of a histogram; dragging across it zooms the time range to the selection.
function drawHistogram(container, histogram) {
  const buckets = histogram.buckets || [];
  const max = Math.max(1, ...buckets.map((b) => b[1]));
  const w = 1000, h = 90, bw = w / Math.max(1, buckets.length);
  const bars = buckets
    .map(([start, n], i) => {
      const bh = (n / max) * (h - 4);
      return `<rect class="bar" x="${i * bw + 0.5}" y="${h - bh}" width="${Math.max(1, bw - 1)}" height="${bh}"><title>${esc(start)}: ${n}</title></rect>`;
    })
    .join("");
  container.innerHTML = `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img"
      aria-label="${esc(histogramLabel(histogram))}">${bars}<rect class="sel" x="0" y="0" width="0" height="${h}"></rect></svg>
    <div class="axis">${axisLabels(histogram).map((t) => `<span>${esc(t)}</span>`).join("")}</div>`;
  const svg = $("svg", container), sel = $("rect.sel", container);
  const at = (ev) => {
    const box = svg.getBoundingClientRect();
    return Math.min(w, Math.max(0, ((ev.clientX - box.left) / box.width) * w));
  };
  let x0 = null;
  svg.addEventListener("mousedown", (ev) => { x0 = at(ev); });
  svg.addEventListener("mousemove", (ev) => {
    if (x0 == null) return;
    const x1 = at(ev);
    sel.setAttribute("x", Math.min(x0, x1));
    sel.setAttribute("width", Math.abs(x1 - x0));
  });
  // Released anywhere, even outside the chart: the selection ends there.
  const release = (ev) => {
    window.removeEventListener("mouseup", release);
    if (x0 == null) return;
    const x1 = at(ev);
    const [a, b] = [Math.min(x0, x1), Math.max(x0, x1)];
    x0 = null;
    // No selection is left behind, whatever comes next.
    sel.setAttribute("width", 0);
    if (b - a < 3 || !buckets.length) return;
    const start = Date.parse(histogram.from);
    const step = histogram.interval_seconds * 1000;
    const from = new Date(start + Math.floor(a / bw) * step).toISOString();
    const to = new Date(start + Math.ceil(b / bw) * step).toISOString();
    const r = route();
    r.params.set("from", from);
    r.params.set("to", to);
    r.params.delete("cursor");
    go(r.name, r.params, r.arg);
  };
  svg.addEventListener("mousedown", () => window.addEventListener("mouseup", release));
}

// "5 minutes", "1 hour", "7 days": a bucket's width as people say it.
function humanInterval(seconds) {
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  const [name, size] = units.find(([, size]) => seconds % size === 0 && seconds >= size) || units[3];
  const n = seconds / size;
  return `${n === 1 ? "" : n + " "}${name}${n === 1 ? "" : "s"}`;
}

function histogramLabel(h) {
  const total = (h.buckets || []).reduce((sum, b) => sum + b[1], 0);
  return `${total} events, per ${humanInterval(h.interval_seconds)}`;
}

// Five times along the chart's axis, as dates or times depending on its span.
function axisLabels(h) {
  const buckets = h.buckets || [];
  if (!buckets.length || !h.from) return [];
  const start = Date.parse(h.from);
  const span = buckets.length * h.interval_seconds * 1000;
  const day = 86400000;
  const format = (t) => {
    const iso = new Date(t).toISOString();
    if (span > 2 * 365 * day) return iso.slice(0, 7);
    if (span > 2 * day) return iso.slice(0, 10);
    return iso.slice(11, 16);
  };
  return [0, 0.25, 0.5, 0.75, 1].map((f) => format(start + f * span));
}

// A group's trend; hovering a bucket says its count and when (`from` and `seconds`: where the
// buckets start and how wide each is).
function sparkline(values, from, seconds) {
  if (!values || !values.length) return "";
  const max = Math.max(1, ...values), w = 120, h = 28, step = w / Math.max(1, values.length - 1);
  const d = values.map((v, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(" ");
  const start = from ? Date.parse(from) : NaN;
  const tips = values.map((v, i) => {
    const when = Number.isNaN(start) ? "" : ` from ${new Date(start + i * seconds * 1000).toISOString().slice(0, 16).replace("T", " ")}`;
    return `<rect class="tip" x="${Math.max(0, i * step - step / 2)}" y="0" width="${step}" height="${h}"><title>${v} event${v === 1 ? "" : "s"}${when}</title></rect>`;
  }).join("");
  const total = values.reduce((a, b) => a + b, 0);
  return `<svg class="spark" viewBox="0 0 ${w} ${h}" role="img" aria-label="trend: ${total} events"><path d="${d}"></path>${tips}</svg>`;
}

// ---- traces ------------------------------------------------------------------------------

function queryTerms(q) {
  return (q || "")
    .replace(/\b[a-z_]+:/gi, " ")
    .split(/[^\p{L}\p{N}_.$]+/u)
    .map((t) => t.replace(/^[.]+|[.]+$/g, ""))
    .filter((t) => t.length > 1 && !["AND", "OR", "NOT"].includes(t));
}

function highlight(text, terms) {
  let html = esc(text);
  for (const t of terms) {
    const re = new RegExp(esc(t).replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
    html = html.replace(re, (m) => `<mark>${m}</mark>`);
  }
  return html;
}

// The event's text with in-app frames marked and runs of framework frames folded away. Which
// lines are frames, and which of those are in-app, comes from the server's parsed chain
// (`exception.chain[].frames[]` with `in_app`): each frame is found by what its runtime
// prints of it, so lines the server did not parse as frames stay as they are.
function frameMarkers(language, f) {
  const call = `${f.module}.${f.function}(`;
  const at = (text) => (f.file && f.line ? [text] : []);
  switch (language) {
    case "python": return [`File "${f.file}", line ${f.line}`];
    case "go": return [call, ...at(`${f.file}:${f.line}`)];
    case "javascript": return at(`${f.file}:${f.line}:`);
    case "dotnet": return [call, ...at(`${f.file}:line ${f.line}`)];
    case "ruby": return at(`${f.file}:${f.line}:in `);
    case "php": return at(`${f.file}(${f.line})`);
    case "rust": return [`${f.module}::${f.function}`];
    default: return [call];
  }
}

function renderTrace(event, terms) {
  const language = event.exception?.language;
  const frames = (event.exception?.chain || []).flatMap((e) => e.frames || []);
  const marked = frames.map((f) => ({ in_app: f.in_app, markers: frameMarkers(language, f) }));
  const frameOf = (line) => marked.find((f) => f.markers.some((m) => line.includes(m)));
  const lines = (event.text || "").split("\n");
  let html = "", folded = [];
  const flush = () => {
    if (folded.length > 1) html += `<details><summary>${folded.length} framework frames</summary>${folded.join("\n")}</details>`;
    else if (folded.length) html += folded[0] + "\n";
    folded = [];
  };
  // A Go dump: the panicking goroutine comes first; the others are folded behind one line.
  const goroutines = language === "go"
    ? lines.reduce((at, line, i) => (/^goroutine \d+ \[/.test(line) ? [...at, i] : at), [])
    : [];
  const rest = goroutines.length > 1 ? goroutines[1] : lines.length;
  let previousFolded = false;
  for (const line of lines.slice(0, rest)) {
    const rendered = highlight(line, terms);
    const frame = frameOf(line);
    // Python prints a frame's source line under it: it folds with its frame.
    const sourceOfFolded = previousFolded && language === "python" && /^\s{4,}\S/.test(line) && !frame;
    if ((frame && !frame.in_app) || sourceOfFolded) {
      folded.push(rendered);
      previousFolded = true;
      continue;
    }
    previousFolded = false;
    flush();
    html += frame ? `<span class="inapp">${rendered}</span>` : rendered + "\n";
  }
  flush();
  if (rest < lines.length) {
    const others = goroutines.length - 1;
    html += `<details class="goroutines"><summary>${others} other goroutine${others === 1 ? "" : "s"}</summary>${lines.slice(rest).map((l) => highlight(l, terms)).join("\n")}</details>`;
  }
  return `<div class="trace" tabindex="0" role="region" aria-label="event text">${html}</div>`;
}

// The lines around event `id` in its file, `before` and `after` of them, with buttons for
// more of each (up to the server's 500).
async function showContext(target, id, before = 15, after = 15) {
  if (!target.innerHTML) target.innerHTML = `<div class="meta">loading surrounding lines…</div>`;
  try {
    const ctx = await api(`events/${encodeURIComponent(id)}/context`, new URLSearchParams({ before, after }));
    const rows = ctx.lines
      .map((l) => `<span class="line${l.in_event ? " in" : ""}"><span class="num">${l.number}</span>${esc(l.text)}</span>`)
      .join("");
    const more = (dir, label) => `<button type="button" class="more-context" data-dir="${dir}">${label}</button>`;
    target.innerHTML = `<div class="meta">${esc(ctx.source)}</div>
      ${before < 500 ? more("before", "More lines above") : ""}
      <div class="trace context" tabindex="0" role="region" aria-label="surrounding lines">${rows}</div>
      ${after < 500 ? more("after", "More lines below") : ""}`;
    for (const button of target.querySelectorAll("button.more-context")) {
      button.addEventListener("click", (e) => {
        e.stopPropagation();
        const up = button.dataset.dir === "before";
        showContext(target, id, up ? Math.min(500, before + 50) : before, up ? after : Math.min(500, after + 50));
      });
    }
  } catch (err) {
    target.innerHTML = `<div class="meta">${esc(err.message)}</div>`;
  }
}

// A shipped event's other fields (what its shipper sent beside the text), as a table.
function fieldsTable(fields) {
  const rows = Object.entries(fields || {})
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
  return rows ? `<table class="fields">${rows}</table>` : "";
}

// An event's own fields, each value with filter-for (+) and filter-out (−), as in Discover.
function eventFieldTable(event) {
  const rows = [
    ["level", event.level], ["logger", event.logger], ["thread", event.thread],
    ["app", event.meta?.app], ["env", event.meta?.env], ["host", event.meta?.host],
    ["tag", event.meta?.tag], ["logtype", event.meta?.logtype],
    ["root_type", event.exception?.root_type], ["fingerprint", event.exception?.fingerprint],
  ].filter(([, v]) => v);
  const body = rows
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td><td class="filter-buttons">
        <button type="button" data-for="${esc(k)}" data-value="${esc(v)}" aria-label="filter for ${esc(k)} ${esc(v)}" title="filter for this value">+</button>
        <button type="button" data-out="${esc(k)}" data-value="${esc(v)}" aria-label="filter out ${esc(k)} ${esc(v)}" title="filter out this value">−</button></td></tr>`)
    .join("");
  return body ? `<table class="fields event-fields">${body}</table>` : "";
}

// Filter for `key` = `value`: a filter chip for the keyword filters, a query term else.
function filterFor(key, value) {
  if (FILTER_KEYS.includes(key)) return addFilter(key, key === "level" ? value.toUpperCase() : value);
  addQuery(`${key}:"${value}"`);
}

// Filter out `key` = `value`: a negated term in the query.
function filterOut(key, value) {
  addQuery(`NOT ${key}:"${value}"`);
}

function addQuery(clause) {
  const r = route();
  const q = (r.params.get("q") || "").trim();
  r.params.set("q", q ? `${q} AND ${clause}` : clause);
  r.params.delete("cursor");
  go(r.name === "group" ? "search" : r.name, r.params, r.name === "group" ? undefined : r.arg);
}

function eventDetails(event, terms) {
  const group = event.exception
    ? ` · <a href="#/group/${esc(event.exception.fingerprint)}?${shared(route().params)}">exception group</a>`
    : event.pattern
      ? ` · <a class="pattern-of" href="#/pattern/${esc(event.pattern.id)}?severity=all" title="${esc(event.pattern.template)}">pattern</a>`
      : "";
  return `${renderTrace(event, terms)}${eventFieldTable(event)}${fieldsTable(event.fields)}
    <div class="meta">${esc(event.source)}:${event.line} · id ${esc(event.id)} ·
      <a href="#/event/${esc(event.id)}">link to this event</a> ·
      <a href="#" data-context="${esc(event.id)}">surrounding lines</a>${group}</div>
    <div class="ctx"></div>`;
}

function wireDetails(root) {
  root.addEventListener("click", (e) => {
    const button = e.target.closest?.("button[data-for], button[data-out]");
    if (button) {
      e.stopPropagation();
      if (button.dataset.for) filterFor(button.dataset.for, button.dataset.value);
      else filterOut(button.dataset.out, button.dataset.value);
      return;
    }
    const id = e.target.dataset?.context;
    if (!id) return;
    e.preventDefault();
    e.stopPropagation();
    showContext($(".ctx", e.target.closest(".details") || root), id);
  });
}

// ---- live: /api/live as Server-Sent Events -------------------------------------------------

// The one live stream of the current view; a navigation closes it.
let liveSource = null;

function stopLive() {
  liveSource?.close();
  liveSource = null;
}

// Follows the events indexed from now on that match `params` (its time range is left out:
// new events are "now"). Calls `onEvent` with each, oldest first.
function startLive(params, onEvent, onSkipped) {
  stopLive();
  const p = new URLSearchParams(params);
  for (const k of ["from", "to", "cursor", "sort"]) p.delete(k);
  liveSource = new EventSource(`/api/live?${p}`);
  liveSource.addEventListener("event", (e) => onEvent(JSON.parse(e.data)));
  liveSource.addEventListener("skipped", (e) => onSkipped?.(JSON.parse(e.data).skipped));
  return liveSource;
}

// ---- search ------------------------------------------------------------------------------

// Field names every query may use, and the values the sidebar knows: the query box offers
// them for its last word as it is typed (`lev` → `level:`, `level:E` → `level:ERROR`).
const QUERY_FIELDS = ["level", "app", "env", "host", "tag", "logtype", "logger", "thread", "root_type", "fingerprint", "pattern"];

function suggest(input, known) {
  const list = document.createElement("datalist");
  list.id = "q-suggestions";
  input.after(list);
  input.setAttribute("list", list.id);
  const update = () => {
    const text = input.value;
    const start = text.search(/\S*$/);
    const word = text.slice(start);
    const head = text.slice(0, start);
    let options = [];
    const colon = word.indexOf(":");
    if (colon < 0) {
      options = QUERY_FIELDS.filter((f) => word && f.startsWith(word.toLowerCase())).map((f) => `${f}:`);
    } else {
      const field = word.slice(0, colon), value = word.slice(colon + 1).toLowerCase();
      options = (known[field] || []).map((v) => v.value)
        .filter((v) => v.toLowerCase().startsWith(value)).map((v) => `${field}:${/\s/.test(v) ? `"${v}"` : v}`);
    }
    list.innerHTML = options.slice(0, 20).map((o) => `<option value="${esc(head + o)}"></option>`).join("");
  };
  input.addEventListener("input", update);
  update();
}

// Fields a user may show as columns of the results, and how to read each from an event.
const COLUMNS = {
  level: (e) => e.level, app: (e) => e.meta?.app, env: (e) => e.meta?.env, host: (e) => e.meta?.host,
  tag: (e) => e.meta?.tag, logtype: (e) => e.meta?.logtype, logger: (e) => e.logger,
  thread: (e) => e.thread, root_type: (e) => e.exception?.root_type, source: (e) => e.source,
};

function chosenColumns(params) {
  return (params.get("cols") || "").split(",").filter((c) => COLUMNS[c]);
}

function hitRow(event, terms, cols = []) {
  const meta = cols.length ? "" : [event.meta?.app, event.meta?.host].filter(Boolean).join("/");
  // The message always; where the match is further down (in the trace), that part too.
  const plain = (html) => html.replace(/<[^>]+>/g, "").replace(/&[a-z#0-9]+;/g, " ");
  const inMessage = !event.snippet || event.message.includes(plain(event.snippet).trim().slice(0, 40));
  const snippet = highlight(event.message, terms) +
    (inMessage ? "" : `<div class="snippet-more">… ${event.snippet}</div>`);
  const root = event.exception ? ` <span class="type">${esc(event.exception.root_type)}</span>` : "";
  const div = document.createElement("div");
  div.className = "hit";
  div.innerHTML = `<div class="head" role="button" tabindex="0" aria-expanded="false"><span class="ts">${esc(event.ts || "—")}</span>
      ${cols.map((c) => `<span class="col" data-col="${esc(c)}">${esc(COLUMNS[c](event) ?? "—")}</span>`).join("")}
      <span class="level ${esc(event.level)}">${esc(event.level || "—")}</span>
      <span class="meta">${esc(meta)} ${esc(event.logger || "")}</span>${root}</div>
    <div class="snippet">${snippet}</div><div class="details" hidden></div>`;
  const toggle = () => {
    const details = $(".details", div);
    if (!details.innerHTML) details.innerHTML = eventDetails(event, terms);
    details.hidden = !details.hidden;
    $(".head", div).setAttribute("aria-expanded", String(!details.hidden));
  };
  div.addEventListener("click", (e) => {
    if (e.target.closest(".details")) return;
    toggle();
  });
  $(".head", div).addEventListener("keydown", (e) => {
    if (e.key !== "Enter" && e.key !== " ") return;
    e.preventDefault();
    toggle();
  });
  wireDetails($(".details", div));
  return div;
}

async function viewSearch(r) {
  const q = r.params.get("q") || "";
  $("#view").innerHTML = `
    <form class="searchbar" id="search-form"><input id="q" name="q" value="${esc(q)}"
      placeholder='Search: words, "phrases", field:value, NullPointer, level:ERROR AND app:billing' autocomplete="off">
      <button class="primary" type="submit">Search</button>
      <label class="live-toggle" title="Append new matching events as they are indexed">
        <input type="checkbox" id="live"${r.params.get("live") ? " checked" : ""}> Live</label></form>
    <div class="panel histogram"><div class="meta" id="hmeta"></div><div id="hist"></div></div>
    <div class="layout"><aside class="panel fields" id="fields"></aside>
      <section class="panel"><div class="result-tools"><div class="meta" id="total"></div>
        <details class="columns"${chosenColumns(r.params).length ? " open" : ""}><summary>Columns</summary>${Object.keys(COLUMNS).map((c) =>
          `<label><input type="checkbox" value="${c}"${chosenColumns(r.params).includes(c) ? " checked" : ""}> ${c}</label>`).join("")}</details>
        <label class="refresh">Refresh <select id="refresh" aria-label="Refresh every">
          ${[["", "off"], ["10", "10 s"], ["60", "1 min"], ["300", "5 min"]].map(([v, l]) =>
            `<option value="${v}"${(r.params.get("refresh") || "") === v ? " selected" : ""}>${l}</option>`).join("")}</select></label></div>
        <div id="cols-head"></div><div id="hits"></div>
      <button id="more" hidden>Load more</button></section></div>`;
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = shared(r.params);
    p.set("q", $("#q").value);
    if (r.params.get("live")) p.set("live", "1");
    go("search", p);
  });
  $("#live").addEventListener("change", (e) => {
    const p = new URLSearchParams(r.params);
    if (e.target.checked) p.set("live", "1");
    else p.delete("live");
    go("search", p);
  });
  $("#view details.columns").addEventListener("change", () => {
    const p = new URLSearchParams(r.params);
    const chosen = [...document.querySelectorAll("#view details.columns input:checked")].map((b) => b.value);
    if (chosen.length) p.set("cols", chosen.join(","));
    else p.delete("cols");
    p.delete("csort");
    go("search", p);
  });
  $("#refresh").addEventListener("change", (e) => {
    const p = new URLSearchParams(r.params);
    if (e.target.value) p.set("refresh", e.target.value);
    else p.delete("refresh");
    go("search", p);
  });
  const params = shared(r.params);
  params.set("q", q);
  const terms = queryTerms(q);
  const cols = chosenColumns(r.params);
  const [page, histogram, fields] = await Promise.all([
    api("search", params),
    api("histogram", params),
    api("fields", params),
  ]);
  if (r.stale()) return;
  $("#hmeta").textContent = `events per ${humanInterval(histogram.interval_seconds)} · drag to zoom`;
  drawHistogram($("#hist"), histogram);
  suggest($("#q"), fields.fields);
  $("#fields").innerHTML = Object.entries(fields.fields)
    .filter(([, values]) => values.length)
    .map(([name, values]) => `<h4>${esc(name)}</h4>` + values
      .map((v) => `<div class="field-value"><a href="#" data-field="${esc(name)}" data-value="${esc(v.value)}">${esc(v.value)}<span>${v.count}</span></a><button type="button" data-out="${esc(name)}" data-value="${esc(v.value)}" aria-label="exclude ${esc(name)} ${esc(v.value)}" title="exclude">−</button></div>`)
      .join(""))
    .join("");
  $("#fields").addEventListener("click", (e) => {
    const out = e.target.closest("button[data-out]");
    if (out) return filterOut(out.dataset.out, out.dataset.value);
    const a = e.target.closest("a[data-field]");
    if (!a) return;
    e.preventDefault();
    addFilter(a.dataset.field, a.dataset.value);
  });
  $("#total").textContent = `${page.total} events, newest first`;
  if (!q && page.total) {
    $("#total").insertAdjacentHTML("afterend", `<p class="hint meta">Try <a href="#/search?q=level%3AERROR">level:ERROR</a>,
      an exception's type (<code>NullPointerException</code>), a class or a phrase in quotes; or see the grouped
      <a href="#/exceptions">Exceptions</a>.</p>`);
  }
  if (!page.total) {
    const wider = new URLSearchParams(r.params);
    wider.delete("from");
    wider.delete("to");
    const ranged = r.params.get("from") || r.params.get("to");
    $("#hits").innerHTML = `<p class="empty">No events match${ranged ? " in this time range" : ""}.
      ${ranged ? `<a href="#/search?${wider}">Search all time</a>` : "Check the query's words, or remove a filter."}</p>`;
    // A relative range over old logs (an archive, the demo): the same span, ending at the
    // newest matching event.
    const from = r.params.get("from") || "";
    const span = /^-(\d+)([mhdw])$/.exec(from);
    if (span && !r.params.get("to")) {
      const all = new URLSearchParams(params);
      all.delete("from");
      all.set("limit", "1");
      const newest = (await api("search", all).catch(() => null))?.hits?.[0]?.ts;
      if (newest && !r.stale()) {
        const unit = { m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[span[2]];
        const end = Date.parse(newest) + 1000;
        const at = new URLSearchParams(r.params);
        at.set("from", new Date(end - Number(span[1]) * unit).toISOString());
        at.set("to", new Date(end).toISOString());
        $("#hits .empty").insertAdjacentHTML("beforeend", ` · the newest match is from ${esc(newest)}:
          <a id="data-range" href="#/search?${at}">the same span up to it</a>`);
      }
    }
  }
  const list = $("#hits");
  // Chosen columns head the results; a click sorts the loaded results by that column.
  const [sortCol, sortDir] = (r.params.get("csort") || "").split(":");
  const sortColumns = () => {
    if (!COLUMNS[sortCol]) return;
    const value = (row) => row.querySelector(`.col[data-col="${sortCol}"]`)?.textContent || "";
    const rows = [...list.children].sort((a, b) => value(a).localeCompare(value(b)) * (sortDir === "desc" ? -1 : 1));
    for (const row of rows) list.appendChild(row);
  };
  if (cols.length) {
    $("#cols-head").innerHTML = `<div class="cols-head"><span class="ts">time</span>${cols.map((c) => {
      const dir = sortCol === c && sortDir !== "desc" ? "desc" : "asc";
      const mark = sortCol === c ? (sortDir === "desc" ? " ▼" : " ▲") : "";
      const p = new URLSearchParams(r.params);
      p.set("csort", `${c}:${dir}`);
      return `<a class="col" href="#/search?${p}" aria-label="sort by ${c}">${c}${mark}</a>`;
    }).join("")}<span>message</span></div>`;
  }
  const append = (p) => {
    for (const event of p.hits) list.appendChild(hitRow(event, terms, cols));
    sortColumns();
    const more = $("#more");
    more.hidden = !p.cursor;
    more.onclick = async () => {
      const next = new URLSearchParams(params);
      next.set("cursor", p.cursor);
      append(await api("search", next));
    };
  };
  append(page);
  const every = Number(r.params.get("refresh"));
  if (every > 0 && !r.params.get("live")) {
    refreshTimer = setTimeout(() => { if (!r.stale()) render(); }, every * 1000);
  }
  if (r.params.get("live")) {
    let arrived = 0;
    const status = () => `${page.total} events, newest first · live: ${arrived} new`;
    $("#total").textContent = status();
    startLive(params, (event) => {
      const row = hitRow(event, terms, cols);
      row.classList.add("arrived");
      list.prepend(row);
      arrived += 1;
      $("#total").textContent = status();
      while (list.children.length > LIVE_MAX_ROWS) list.lastElementChild.remove();
    }, (skipped) => {
      arrived += skipped;
      $("#total").textContent = status() + ` (${skipped} skipped: too many at once)`;
    });
  }
}

// The pending auto-refresh of the search page; a navigation cancels it.
let refreshTimer = null;

// Rows a live search keeps; older ones drop off the bottom.
const LIVE_MAX_ROWS = 1000;

// ---- exceptions --------------------------------------------------------------------------

async function viewExceptions(r) {
  const params = shared(r.params);
  const sort = r.params.get("sort") || "count";
  params.set("sort", sort);
  const status = r.params.get("status") || "unresolved";
  params.set("status", status);
  const q = r.params.get("q") || "";
  if (q) params.set("q", q);
  const limit = Number(r.params.get("limit")) || 100;
  params.set("limit", String(limit));
  const list = await api("exceptions", params);
  if (r.stale()) return;
  const header = (key, label) => {
    const p = new URLSearchParams(r.params);
    p.set("sort", key);
    return `<a href="#/exceptions?${p}" class="${sort === key ? "sorted" : ""}">${label}</a>`;
  };
  const tags = (g) => g.tags.map((t) => esc(t.value)).slice(0, 3).join(", ");
  const rowsOf = (groups, before = new Map()) => groups
    .map((g) => `<tr class="group${before.has(g.fingerprint) && before.get(g.fingerprint) !== g.count ? " bumped" : ""}" data-fp="${esc(g.fingerprint)}">
      <td><input type="checkbox" class="pick" value="${esc(g.fingerprint)}" aria-label="select ${esc(g.root_type || "group")}"></td>
      <td class="count">${g.count}</td>
      <td>${sparkline(g.trend, list.trend_from, list.trend_interval_seconds)}</td>
      <td><div class="type"><a class="group-link" href="#/group/${esc(g.fingerprint)}${shared(r.params).toString() ? "?" + shared(r.params) : ""}">${esc(g.root_type || "(no type)")}</a> ${triageBadges(g)}</div><div class="template">${esc(g.template)}</div>
        <div class="meta">${g.top_frame ? "at " + esc(g.top_frame) : ""}</div></td>
      <td>${g.apps.map((a) => esc(a.value)).join(", ")}<div class="meta">${g.envs.map((e) => esc(e.value)).join(", ")}</div></td>
      <td>${g.first_tag ? `<span class="new">new in ${esc(g.first_tag)}</span>` : ""}<div class="meta">${tags(g)}</div></td>
      <td class="meta">${ago(g.first_seen)}</td><td class="meta">${ago(g.last_seen)}</td></tr>`)
    .join("") || `<tr><td colspan="8" class="meta">No ${status === "all" ? "" : status + " "}exceptions in this range.</td></tr>`;
  const rows = rowsOf(list.groups);
  const more = new URLSearchParams(r.params);
  more.set("limit", String(limit + 100));
  const tabs = STATUSES.map(([key, label]) => {
    const p = new URLSearchParams(r.params);
    p.set("status", key);
    return `<a href="#/exceptions?${p}" class="tab${key === status ? " active" : ""}"${key === status ? ' aria-current="page"' : ""}>${label}</a>`;
  }).join("");
  $("#view").innerHTML = `
    <form class="searchbar" id="ex-form"><input id="q" value="${esc(q)}" placeholder="Only groups of events matching…">
      <button class="primary" type="submit">Filter</button></form>
    <nav class="tabs" aria-label="Status">${tabs}</nav>
    <div class="bulk"><button type="button" data-status="resolved" disabled>Resolve</button>
      <button type="button" data-status="ignored" disabled>Ignore</button>
      <button type="button" data-status="unresolved" disabled>Reopen</button><span class="meta" id="picked"></span></div>
    <table class="groups"><thead><tr><th><input type="checkbox" id="pick-all" aria-label="select all"></th><th>${header("count", "Events")}</th><th>Trend</th><th>Exception</th>
      <th>Apps / envs</th><th>Release</th><th>${header("first_seen", "First seen")}</th><th>${header("last_seen", "Last seen")}</th></tr></thead>
      <tbody>${rows}</tbody></table>
    <p class="meta">${list.groups.length} group${list.groups.length === 1 ? "" : "s"}${list.groups.length === limit ? ` shown · <a href="#/exceptions?${more}">show ${limit} more</a>` : ""}
      · <button type="button" class="copy-link">Copy link</button></p>
    <div class="meta" id="live-status"></div>`;
  $("#ex-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams(r.params);
    p.set("q", $("#q").value);
    go("exceptions", p);
  });
  $("#view tbody").addEventListener("click", (e) => {
    if (e.target.closest("input, button, a")) return;
    const row = e.target.closest("tr[data-fp]");
    if (row) go("group", shared(r.params), row.dataset.fp);
  });
  const picked = () => [...document.querySelectorAll("#view input.pick:checked")].map((b) => b.value);
  const updateBulk = () => {
    const n = picked().length;
    for (const b of document.querySelectorAll(".bulk button")) b.disabled = n === 0;
    $("#picked").textContent = n ? `${n} selected` : "";
  };
  $("#view table.groups").addEventListener("change", (e) => {
    if (e.target.id === "pick-all") {
      for (const b of document.querySelectorAll("#view input.pick")) b.checked = e.target.checked;
    }
    updateBulk();
  });
  $("#view .bulk").addEventListener("click", async (e) => {
    const to = e.target.dataset?.status;
    if (!to) return;
    try {
      await setStatus(picked(), to);
      render();
    } catch (err) {
      showError(err);
    }
  });
  // Counts follow new exceptions as they are indexed: each arrival schedules one refresh.
  let counts = new Map(list.groups.map((g) => [g.fingerprint, g.count]));
  let pending = null;
  const refresh = async () => {
    pending = null;
    const fresh = await api("exceptions", params).catch(() => null);
    if (!fresh || r.stale()) return;
    $("#view tbody").innerHTML = rowsOf(fresh.groups, counts);
    counts = new Map(fresh.groups.map((g) => [g.fingerprint, g.count]));
    $("#live-status").textContent = `updated ${new Date().toLocaleTimeString()}`;
  };
  const live = new URLSearchParams(params);
  live.set("exceptions", "true");
  startLive(live, () => {
    pending ??= setTimeout(refresh, GROUP_REFRESH_MS);
  });
}

// How long the group list gathers new exceptions before fetching the counts again.
const GROUP_REFRESH_MS = 1000;

// ---- one group ---------------------------------------------------------------------------

// A search for the events of the group `fingerprint`, in the same range and filters.
function allEvents(fingerprint, r) {
  const p = shared(r.params);
  p.set("q", `fingerprint:${fingerprint}`);
  return p.toString();
}

// Copy-link buttons put the current view's URL (its whole state) on the clipboard.
document.addEventListener("click", async (e) => {
  const button = e.target.closest?.("button.copy-link");
  if (!button) return;
  try {
    await navigator.clipboard.writeText(location.href);
    button.textContent = "Link copied";
  } catch {
    button.textContent = "Copy the address bar";
  }
});

// One breakdown panel; each value is a link that filters the group's (or pattern's) page by it.
function breakdown(title, key, values, r, view = "group") {
  const max = Math.max(1, ...values.map((v) => v.count));
  const rows = values
    .map((v) => {
      const p = shared(r.params);
      p.set(key, v.value);
      if (r.params.get("severity")) p.set("severity", r.params.get("severity"));
      return `<a class="bar-row" href="#/${view}/${esc(r.arg)}?${p}" title="only ${esc(key)} ${esc(v.value)}"><div><div>${esc(v.value)}</div><div class="b" style="width:${(v.count / max) * 100}%"></div></div><div>${v.count}</div></a>`;
    })
    .join("");
  return `<div class="panel"><h4>${esc(title)}</h4>${rows || '<div class="meta">—</div>'}</div>`;
}

async function viewGroup(r) {
  const g = await api(`exceptions/${encodeURIComponent(r.arg)}`, shared(r.params));
  if (r.stale()) return;
  const samples = g.samples
    .map((e) => `<div class="hit sample"><div class="head"><span class="ts">${esc(e.ts || "—")}</span>
       <span class="meta">${esc(e.meta?.app || "")} ${esc(e.meta?.host || "")} ${esc(e.source)}:${e.line}</span>
       <a href="#/event/${esc(e.id)}">event</a> · <a href="#" data-context="${esc(e.id)}">surrounding lines</a></div>
       <div class="snippet">${esc(e.exception?.chain?.at(-1)?.message || e.message)}</div><div class="ctx"></div></div>`)
    .join("");
  $("#view").innerHTML = `
    <h2 class="type">${esc(g.root_type || "(no type)")}</h2>
    <div class="template">${esc(g.template)}</div>
    ${triageLine(g)}
    <p class="meta"><span class="count" id="group-count">${g.count}</span> events · first seen ${esc(g.first_seen || "—")}
      ${g.first_tag ? `<span class="new">new in ${esc(g.first_tag)}</span>` : ""} · last seen <span id="group-last">${esc(g.last_seen || "—")}</span>
      · fingerprint ${esc(g.fingerprint)} · <a id="all-events" href="#/search?${allEvents(g.fingerprint, r)}">all ${g.count} events</a>
      · <button type="button" class="copy-link">Copy link</button></p>
    <div class="panel histogram"><div class="meta">events per ${humanInterval(g.histogram.interval_seconds)}</div><div id="hist"></div></div>
    <h3>Breakdown</h3>
    <div class="breakdowns">${breakdown("apps", "app", g.apps, r)}${breakdown("envs", "env", g.envs, r)}${breakdown("hosts", "host", g.hosts, r)}${breakdown("release (tag)", "tag", g.tags, r)}</div>
    <h3>Latest event</h3><div class="panel details" id="latest">${eventDetails(g.latest, [])}</div>
    <h3>Why these events are grouped</h3><ol class="explain panel">${g.explain.map((c) => `<li>${esc(c)}</li>`).join("")}</ol>
    <h3>Recent events</h3><div class="panel" id="samples">${samples}</div>`;
  drawHistogram($("#hist"), g.histogram);
  wireDetails($("#latest"));
  wireTriage("exceptions", g.fingerprint, r);
  $("#samples").addEventListener("click", (e) => {
    const id = e.target.dataset?.context;
    if (!id) return;
    e.preventDefault();
    showContext($(".ctx", e.target.closest(".sample")), id);
  });
  // New occurrences update the count and last seen as they are indexed.
  const live = shared(r.params);
  live.set("fingerprint", r.arg);
  let pending = null;
  startLive(live, () => {
    pending ??= setTimeout(async () => {
      pending = null;
      const fresh = await api(`exceptions/${encodeURIComponent(r.arg)}`, shared(r.params)).catch(() => null);
      if (!fresh || r.stale()) return;
      $("#group-count").textContent = fresh.count;
      $("#group-count").classList.add("bumped");
      $("#group-last").textContent = fresh.last_seen || "—";
    }, GROUP_REFRESH_MS);
  });
}

// ---- patterns ----------------------------------------------------------------------------

// Which levels the pattern list shows unless the level filter says otherwise.
const SEVERITIES = [["error", "Errors", "ERROR,FATAL"], ["warn", "Warnings and errors", "WARN,ERROR,FATAL"], ["all", "All levels", ""]];

// The shared parameters of a pattern view: the level filter if one is set, else the
// severity tab's levels (errors and warnings by default).
function patternParams(r) {
  const params = shared(r.params);
  const severity = SEVERITIES.find(([key]) => key === (r.params.get("severity") || "warn"));
  if (!params.get("level") && severity[2]) params.set("level", severity[2]);
  return params;
}

// A search for the events of the pattern `id` with the same range, filters and levels.
function patternEvents(id, r) {
  const p = patternParams(r);
  p.set("q", `pattern:${id}`);
  return p.toString();
}

// The `{value: count}` maps of a pattern as breakdown rows, most frequent first.
function counted(map) {
  return Object.entries(map || {}).map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
}

async function viewPatterns(r) {
  const params = patternParams(r);
  const sort = r.params.get("sort") || "count";
  params.set("sort", sort);
  const q = r.params.get("q") || "";
  if (q) params.set("q", q);
  const limit = Number(r.params.get("limit")) || 100;
  params.set("limit", String(limit));
  const status = r.params.get("status") || "unresolved";
  params.set("status", status);
  const list = await api("patterns", params);
  if (r.stale()) return;
  const header = (key, label) => {
    const p = new URLSearchParams(r.params);
    p.set("sort", key);
    return `<a href="#/patterns?${p}" class="${sort === key ? "sorted" : ""}">${label}</a>`;
  };
  const kept = new URLSearchParams(r.params);
  for (const k of ["sort", "limit", "q", "status"]) kept.delete(k);
  const link = (p) => `#/pattern/${esc(p.id)}${kept.toString() ? "?" + kept : ""}`;
  const rowsOf = (list) => list.patterns
    .map((p) => `<tr class="group" data-id="${esc(p.id)}">
      <td class="count">${p.count}</td>
      <td>${sparkline(p.trend, list.trend_from, list.trend_interval_seconds)}</td>
      <td><div class="template"><a class="pattern-link" href="${link(p)}">${esc(p.template || "(empty message)")}</a> ${triageBadges(p)}</div>
        <div class="meta">${counted(p.levels).map((l) => `<span class="level-${esc(l.value)}">${esc(l.value)} ${l.count}</span>`).join(" ")}</div></td>
      <td>${counted(p.apps).map((a) => esc(a.value)).join(", ")}<div class="meta">${counted(p.envs).map((e) => esc(e.value)).join(", ")}</div></td>
      <td class="meta">${ago(p.first_seen)}</td><td class="meta">${ago(p.last_seen)}</td></tr>`)
    .join("") || `<tr><td colspan="6" class="meta">No ${status === "all" ? "" : status + " "}patterns in this range: every matching event there has a trace, or none matched.</td></tr>`;
  const rows = rowsOf(list);
  const severity = r.params.get("severity") || "warn";
  const levelSet = Boolean(shared(r.params).get("level"));
  const tabs = levelSet ? `<span class="meta">levels from the filter</span>` : SEVERITIES.map(([key, label]) => {
    const p = new URLSearchParams(r.params);
    p.set("severity", key);
    return `<a href="#/patterns?${p}" class="tab${key === severity ? " active" : ""}"${key === severity ? ' aria-current="page"' : ""}>${label}</a>`;
  }).join("");
  const statusTabs = STATUSES.map(([key, label]) => {
    const p = new URLSearchParams(r.params);
    p.set("status", key);
    return `<a href="#/patterns?${p}" class="tab${key === status ? " active" : ""}"${key === status ? ' aria-current="page"' : ""}>${label}</a>`;
  }).join("");
  const more = new URLSearchParams(r.params);
  more.set("limit", String(limit + 100));
  $("#view").innerHTML = `
    <form class="searchbar" id="pattern-form"><input id="q" value="${esc(q)}" placeholder="Only patterns of events matching…">
      <button class="primary" type="submit">Filter</button></form>
    <nav class="tabs" aria-label="Levels">${tabs}</nav>
    <nav class="tabs" aria-label="Status">${statusTabs}</nav>
    <p class="meta">Events without a trace, grouped by their message with the variable parts (numbers, addresses, ids) as placeholders.</p>
    <table class="groups patterns"><thead><tr><th>${header("count", "Events")}</th><th>Trend</th><th>Pattern</th>
      <th>Apps / envs</th><th>${header("first_seen", "First seen")}</th><th>${header("last_seen", "Last seen")}</th></tr></thead>
      <tbody>${rows}</tbody></table>
    <p class="meta">${list.patterns.length} pattern${list.patterns.length === 1 ? "" : "s"}${list.patterns.length === limit ? ` shown · <a href="#/patterns?${more}">show ${limit} more</a>` : ""}
      · <button type="button" class="copy-link">Copy link</button></p>
    <div class="meta" id="live-status"></div>`;
  $("#pattern-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams(r.params);
    p.set("q", $("#q").value);
    go("patterns", p);
  });
  $("#view tbody").addEventListener("click", (e) => {
    if (e.target.closest("input, button, a")) return;
    const row = e.target.closest("tr[data-id]");
    if (row) go("pattern", kept, row.dataset.id);
  });
  // Counts follow new events as they are indexed, at most once a second.
  let pending = null;
  startLive(params, () => {
    pending ??= setTimeout(async () => {
      pending = null;
      const fresh = await api("patterns", params).catch(() => null);
      if (!fresh || r.stale()) return;
      $("#view tbody").innerHTML = rowsOf(fresh);
      $("#live-status").textContent = `updated ${new Date().toLocaleTimeString()}`;
    }, GROUP_REFRESH_MS);
  });
}

async function viewPattern(r) {
  const p = await api(`patterns/${encodeURIComponent(r.arg)}`, patternParams(r));
  if (r.stale()) return;
  const samples = p.samples
    .map((e) => `<div class="hit sample"><div class="head"><span class="ts">${esc(e.ts || "—")}</span> <span class="level">${esc(e.level || "")}</span>
       <span class="meta">${esc(e.meta?.app || "")} ${esc(e.meta?.host || "")} ${esc(e.source)}:${e.line}</span>
       <a href="#/event/${esc(e.id)}">event</a> · <a href="#" data-context="${esc(e.id)}">surrounding lines</a></div>
       <div class="snippet">${esc(e.message)}</div><div class="ctx"></div></div>`)
    .join("");
  const panel = (title, key, map) => breakdown(title, key, counted(map), r, "pattern");
  $("#view").innerHTML = `
    <h2 class="template pattern-template">${esc(p.template || "(empty message)")}</h2>
    ${triageLine(p)}
    <p class="meta"><span class="count">${p.count}</span> events · first seen ${esc(p.first_seen || "—")} · last seen ${esc(p.last_seen || "—")}
      · pattern ${esc(p.id)} · <a id="all-events" href="#/search?${patternEvents(p.id, r)}">all ${p.count} events</a>
      · <button type="button" class="copy-link">Copy link</button></p>
    <div class="panel"><div class="meta">earliest example</div><div class="snippet" id="example">${esc(p.example)}</div></div>
    <div class="panel histogram"><div class="meta">events per ${humanInterval(p.histogram.interval_seconds)}</div><div id="hist"></div></div>
    <h3>Breakdown</h3>
    <div class="breakdowns">${panel("levels", "level", p.levels)}${panel("apps", "app", p.apps)}${panel("envs", "env", p.envs)}${panel("hosts", "host", p.hosts)}${panel("release (tag)", "tag", p.tags)}</div>
    <h3>Recent events</h3><div class="panel" id="samples">${samples}</div>`;
  drawHistogram($("#hist"), p.histogram);
  wireTriage("patterns", p.id, r);
  $("#samples").addEventListener("click", (e) => {
    const id = e.target.dataset?.context;
    if (!id) return;
    e.preventDefault();
    showContext($(".ctx", e.target.closest(".sample")), id);
  });
}

// ---- one event ---------------------------------------------------------------------------

async function viewEvent(r) {
  const event = await api(`events/${encodeURIComponent(r.arg)}`);
  if (r.stale()) return;
  $("#view").innerHTML = `<h2>${esc(event.level || "")} ${esc(event.exception?.root_type || event.message.slice(0, 120))}</h2>
    <p class="meta">${esc(event.ts || "—")} · ${esc(event.source)}:${event.line}
      · <button type="button" class="copy-link">Copy link</button></p>
    <div class="panel details" id="event">${eventDetails(event, [])}</div>`;
  wireDetails($("#event"));
  showContext($("#event .ctx"), event.id);
}

// ---- alerts ------------------------------------------------------------------------------

async function viewAlerts(r) {
  const { alerts } = await api("alerts", new URLSearchParams({ limit: "200" }));
  if (r.stale()) return;
  const rows = alerts
    .map((a) => `<tr><td class="meta">${esc(a.created)}</td><td>${esc(a.rule)}</td><td>${esc(a.kind)}</td>
      <td>${a.fingerprint.length === 16
        ? `<a href="#/pattern/${esc(a.fingerprint)}?severity=all">pattern ${esc(a.fingerprint.slice(0, 12))}…</a>`
        : `<a href="#/group/${esc(a.fingerprint)}">${esc(a.fingerprint.slice(0, 12))}…</a>`}</td>
      <td class="state-${esc(a.state)}">${esc(a.state)}</td><td>${a.attempts}</td>
      <td class="meta">${esc(a.sent || "")}${esc(a.last_error || "")}</td></tr>`)
    .join("") || `<tr><td colspan="7" class="meta">No notifications yet: alert rules go in the config's [[alerts]].</td></tr>`;
  $("#view").innerHTML = `<h2>Alerts</h2>
    <table class="groups alerts"><thead><tr><th>Created</th><th>Rule</th><th>Kind</th><th>Group</th><th>State</th>
      <th>Attempts</th><th>Sent / last error</th></tr></thead><tbody>${rows}</tbody></table>`;
}

// ---- router ------------------------------------------------------------------------------

// Each navigation renders anew; a view whose data arrives after a newer navigation drops it.
let renderCount = 0;

async function render() {
  const r = route();
  const mine = ++renderCount;
  r.stale = () => mine !== renderCount;
  stopLive();
  clearTimeout(refreshTimer);
  renderHeader(r);
  showError(null);
  const views = {
    search: viewSearch, exceptions: viewExceptions, group: viewGroup, patterns: viewPatterns, pattern: viewPattern,
    alerts: viewAlerts, event: viewEvent,
  };
  try {
    await (views[r.name] || viewSearch)(r);
  } catch (err) {
    if (r.stale()) return;
    // A search keeps its query box to fix the query in; any other view is replaced by the
    // error, never left showing the previous view.
    const box = r.name === "search" || !r.name ? $("#view .histogram") : null;
    if (box) {
      box.closest(".histogram").insertAdjacentHTML("beforebegin", `<div class="error-inline" role="alert">${esc(err.message || err)}</div>`);
      for (const panel of document.querySelectorAll("#view .histogram, #view .layout")) panel.hidden = true;
    } else {
      $("#view").innerHTML = `<div class="error-inline" role="alert">${esc(err.message || err)}</div>`;
    }
  }
}

window.addEventListener("hashchange", render);
render();
