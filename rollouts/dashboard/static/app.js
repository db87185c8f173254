/* Rollouts dashboard: a hash-routed page over the dashboard's JSON API.
 *
 * Routes: #/ (rollouts list, optional ?namespace=NS), #/rollouts/{ns}/{name}, #/analysisruns/{ns}/{name}.
 * Data is fetched on navigation and again when the server's event stream (/api/v1/events) reports a change
 * the page shows; there is no polling. Every string from the API is escaped before it reaches the DOM; the
 * metric charts (SVG made by the server) are parsed as SVG and stripped of scripts and handlers first.
 */
(() => {
  "use strict";

  const API = "api/v1";
  const REFRESH_DELAY_MS = 200;
  const MEASUREMENT_ROWS = 500;

  const ACTIONS = [
    { id: "promote", label: "Promote", text: "Continue past the current step or pause.", verb: "promoted" },
    { id: "promote-full", label: "Promote full", text: "Skip the remaining steps and analysis and make the new version stable now.", verb: "fully promoted" },
    { id: "abort", label: "Abort", text: "Stop the update and send all traffic back to the stable version.", verb: "aborted" },
    { id: "retry", label: "Retry", text: "Start the aborted update again from the first step.", verb: "retried" },
    { id: "pause", label: "Pause", text: "Pause the rollout where it is until it is promoted.", verb: "paused" },
    { id: "restart", label: "Restart", text: "Restart all pods of the rollout, a few at a time.", verb: "restarted" },
    // The dialog's name leaves the word "image" to the field's label.
    { id: "set-image", label: "Set image", title: (name) => `Update rollout ${name}?`, text: "Choose a container and its new image; this starts an update.", verb: "updated" },
  ];

  // Tone classes for status text: status name first, then the icon the server chose.
  const TONE_BY_STATUS = {
    healthy: "ok", successful: "ok", running: "progress", completed: "ok", ready: "ok",
    progressing: "progress", pending: "pending", paused: "paused", scaleddown: "muted",
    degraded: "bad", failed: "bad", error: "bad", invalidspec: "bad", aborted: "bad",
    inconclusive: "warn", unknown: "muted", terminating: "muted",
  };
  const TONE_BY_ICON = { "✔": "ok", "◌": "progress", "॥": "paused", "✖": "bad", "⚠": "bad", "?": "warn", "◷": "pending", "•": "muted" };
  const ICON_BY_TONE = { ok: "✔", progress: "◌", paused: "॥", bad: "✖", warn: "?", pending: "◷", muted: "•" };

  // ---------- small helpers ----------

  const $ = (selector, root = document) => root.querySelector(selector);

  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };
  /** Text made safe for HTML content and quoted attribute values. */
  function esc(value) {
    if (value === null || value === undefined) return "";
    return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
  }

  function seg(value) {
    return encodeURIComponent(String(value));
  }

  // Glyphs some system fonts lack, shown as a look-alike that they have.
  const DISPLAY_ICON = { "॥": "‖" };

  /** The tone of a status: the server's icon decides when there is one (a Running pod is ✔), else the name. */
  function tone(status, icon) {
    const key = String(status || "").toLowerCase().replace(/[^a-z]/g, "");
    return TONE_BY_ICON[String(icon || "").trim()] || TONE_BY_STATUS[key] || "muted";
  }

  /** Status as icon + text with a tone class: colour is never the only signal. */
  function statusBadge(status, icon, extraClass = "") {
    const t = tone(status, icon);
    const given = String(icon || "").trim();
    const glyph = given ? DISPLAY_ICON[given] || given : ICON_BY_TONE[t];
    const text = status || "Unknown";
    return `<span class="status tone-${t} ${extraClass}" data-status="${esc(text)}">` +
      `<span class="status-icon" aria-hidden="true">${esc(glyph)}</span><span class="status-text">${esc(text)}</span></span>`;
  }

  function dash(value) {
    return value === null || value === undefined || value === "" ? '<span class="none" aria-label="none">—</span>' : esc(value);
  }

  function plural(n, word, many) {
    return `${n.toLocaleString()} ${n === 1 ? word : many || word + "s"}`;
  }

  function formatTime(iso) {
    if (!iso) return dash("");
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return esc(iso);
    return `<time datetime="${esc(iso)}" title="${esc(iso)}">${esc(d.toLocaleString())}</time>`;
  }

  function formatDuration(ms) {
    const total = Math.max(0, Math.ceil(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m ${String(s).padStart(2, "0")}s`;
    if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
    return `${s}s`;
  }

  let fadeTimer = 0;

  /** The server's refusal sentence, said once as a refusal. */
  function notAllowed(message) {
    return /^not allowed\b/i.test(message) ? message : `Not allowed: ${message}`;
  }

  function announce(message, kind = "info") {
    const region = $("#status");
    region.dataset.kind = kind;
    region.classList.remove("faded");
    window.clearTimeout(fadeTimer);
    // Clear first so the same message twice is announced twice.
    region.textContent = "";
    window.setTimeout(() => { region.textContent = message; }, 30);
    // The text stays for assistive technology; the box only fades from view.
    if (kind !== "error") fadeTimer = window.setTimeout(() => region.classList.add("faded"), 12000);
  }

  // ---------- API ----------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function request(path, options = {}) {
    let response;
    try {
      response = await fetch(`${API}/${path}`, {
        headers: { Accept: "application/json", ...(options.body ? { "Content-Type": "application/json" } : {}) },
        cache: "no-store",
        ...options,
      });
    } catch (err) {
      throw new ApiError(0, "The dashboard server cannot be reached.");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (!response.ok) {
      const message = body && typeof body.error === "string" ? body.error : `${response.status} ${response.statusText}`.trim();
      throw new ApiError(response.status, message);
    }
    return body || {};
  }

  // ---------- state ----------

  const state = {
    context: null,
    route: { view: "list" },
    generation: 0, // bumped on every navigation; stale responses are dropped
    list: { rows: [], namespaces: [], filter: "", knownNamespaces: new Set() },
    rollout: null,
    run: null,
    openMeasurements: new Set(),
    countdownTimer: 0,
    busy: false,
  };

  // ---------- routing ----------

  function parseRoute() {
    const hash = window.location.hash || "#/";
    const [path, query = ""] = hash.replace(/^#/, "").split("?");
    const parts = path.split("/").filter(Boolean).map((p) => {
      try { return decodeURIComponent(p); } catch (err) { return p; }
    });
    const params = new URLSearchParams(query);
    if (parts[0] === "rollouts" && parts.length === 3) return { view: "rollout", namespace: parts[1], name: parts[2] };
    if (parts[0] === "analysisruns" && parts.length === 3) return { view: "run", namespace: parts[1], name: parts[2] };
    if (parts.length === 0) {
      return { view: "list", namespace: params.has("namespace") ? params.get("namespace") : null };
    }
    return { view: "missing", path };
  }

  function listNamespace(route) {
    if (route.namespace !== null && route.namespace !== undefined) return route.namespace;
    return (state.context && state.context.namespace) || "";
  }

  function routeNamespace(route) {
    return route.view === "list" ? listNamespace(route) : route.namespace || "";
  }

  let started = false;

  function navigate() {
    let route = parseRoute();
    if (route.view === "missing" && /^#[^/]/.test(window.location.hash)) {
      if (started) return; // an in-page anchor, not a route
      route = { view: "list", namespace: null };
    }
    const previous = started ? state.route : null;
    started = true;
    state.route = route;
    state.generation += 1;
    stopCountdown();
    // a message about the page left behind is not about this one: its box goes from view
    if (previous) {
      window.clearTimeout(fadeTimer);
      $("#status").classList.add("faded");
    }
    connectEvents(routeNamespace(route));
    const listToList = previous && previous.view === "list" && route.view === "list";
    if (listToList) {
      // Only the namespace changed: keep the toolbar (and focus on the selector).
      $("#rollouts-body").innerHTML = '<tr><td class="loading">Loading…</td></tr>';
    } else {
      renderShell(route);
      const main = $("#main");
      const active = document.activeElement;
      if (previous && (!active || active === document.body || main.contains(active))) main.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
    refresh();
  }

  function renderShell(route) {
    const crumbs = $("#breadcrumbs");
    const items = [];
    if (route.view === "rollout" || route.view === "run") {
      items.push(`<li><a href="#/?namespace=${esc(seg(route.namespace))}">${esc(route.namespace)}</a></li>`);
    }
    if (route.view === "rollout") {
      items.push(`<li><span aria-current="page">${esc(route.name)}</span></li>`);
      document.title = `${route.name} · Rollouts`;
    } else if (route.view === "run") {
      items.push(`<li><span aria-current="page">AnalysisRun ${esc(route.name)}</span></li>`);
      document.title = `${route.name} · AnalysisRun · Rollouts`;
    } else {
      document.title = "Rollouts";
    }
    crumbs.innerHTML = items.join("");
    crumbs.hidden = items.length === 0;
    const view = $("#view");
    if (route.view === "list") {
      view.innerHTML = listSkeleton(route);
      bindList();
    } else if (route.view === "missing") {
      view.innerHTML = `<h1>Page not found</h1><p>There is no page at <code>${esc(route.path)}</code>. <a href="#/">All rollouts</a></p>`;
    } else {
      view.innerHTML = '<p class="loading">Loading…</p>';
    }
  }

  // ---------- refresh (navigation, events, actions) ----------

  let refreshTimer = 0;
  let inFlight = false;
  let again = false;

  function scheduleRefresh() {
    if (document.hidden) { again = true; return; }
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refresh, REFRESH_DELAY_MS);
  }

  async function refresh() {
    window.clearTimeout(refreshTimer);
    if (inFlight) { again = true; return; }
    inFlight = true;
    again = false;
    const route = state.route;
    const generation = state.generation;
    try {
      if (route.view === "list") await loadList(route, generation);
      else if (route.view === "rollout") await loadRollout(route, generation);
      else if (route.view === "run") await loadRun(route, generation);
    } finally {
      inFlight = false;
      if (again || generation !== state.generation) scheduleRefresh();
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && again) scheduleRefresh();
  });

  function showLoadError(err, generation) {
    if (generation !== state.generation) return;
    const view = $("#view");
    const box = $("#load-error", view);
    const text = err.status === 404 ? err.message : err.status === 403 ? notAllowed(err.message) : `Could not load: ${err.message}`;
    if (box) {
      box.textContent = text;
      box.hidden = false;
    } else if ($(".loading", view)) {
      view.innerHTML = `<h1>${esc(state.route.name || "Rollouts")}</h1><p class="banner banner-error" id="load-error" data-testid="load-error">${esc(text)}</p>`;
    }
  }

  function clearLoadError() {
    const box = $("#load-error");
    if (box) box.hidden = true;
  }

  /** Re-render a region, keeping keyboard focus on the element with the same key when it still exists. */
  function replaceKeepingFocus(container, html) {
    const active = document.activeElement;
    const key = active && container.contains(active) ? active.dataset.key || (active.id ? `#${active.id}` : "") : "";
    container.innerHTML = html;
    if (key) {
      const target = key.startsWith("#") ? document.getElementById(key.slice(1)) : container.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (target) target.focus({ preventScroll: true });
    }
  }

  // ---------- server events ----------

  let events = null;
  let eventsNamespace = null;

  function setConnection(stateName, text) {
    const el = $("#connection");
    el.dataset.state = stateName;
    $(".connection-text", el).textContent = text;
  }

  function connectEvents(namespace) {
    if (events && eventsNamespace === namespace) return;
    if (events) events.close();
    eventsNamespace = namespace;
    if (typeof EventSource === "undefined") {
      setConnection("offline", "No live updates");
      return;
    }
    const url = `${API}/events${namespace ? `?namespace=${seg(namespace)}` : ""}`;
    const source = new EventSource(url);
    events = source;
    let wasDown = false;
    setConnection("connecting", "Connecting…");
    source.addEventListener("open", () => {
      setConnection("live", "Live");
      if (wasDown) scheduleRefresh(); // changes may have been missed while away
      wasDown = false;
    });
    source.addEventListener("error", () => {
      wasDown = true;
      setConnection(source.readyState === EventSource.CLOSED ? "offline" : "connecting",
        source.readyState === EventSource.CLOSED ? "Offline" : "Reconnecting…");
    });
    source.addEventListener("change", (event) => {
      let change = null;
      try { change = JSON.parse(event.data); } catch (err) { return; }
      if (change && concerns(change)) scheduleRefresh();
    });
    // The server fell behind and dropped changes: whatever the page shows may be stale.
    source.addEventListener("reload", () => scheduleRefresh());
  }

  /** Whether a change reported by the server may alter what the current page shows. */
  function concerns(change) {
    const route = state.route;
    const kind = change.kind;
    if (route.view === "list") {
      const ns = listNamespace(route);
      return (!ns || change.namespace === ns) && (kind === "Rollout" || kind === "ReplicaSet");
    }
    if (change.namespace !== route.namespace) return false;
    if (route.view === "rollout") {
      if (kind === "Rollout") return change.name === route.name;
      // The server says which rollout an object belongs to; failing that, its objects are named after it.
      if (typeof change.rollout === "string" && change.rollout) return change.rollout === route.name;
      return typeof change.name === "string" && change.name.startsWith(`${route.name}-`);
    }
    if (route.view === "run") return kind === "AnalysisRun" && change.name === route.name;
    return false;
  }

  // ---------- list page ----------

  function listSkeleton(route) {
    const filter = esc(state.list.filter);
    return `
      <div class="page-head">
        <h1 id="list-title">Rollouts</h1>
        <p class="count" id="list-count" data-testid="list-count"></p>
      </div>
      <div class="toolbar" role="search" aria-label="Rollouts">
        <div class="field">
          <label for="filter">Filter rollouts</label>
          <input id="filter" type="search" data-testid="rollout-filter" value="${filter}" autocomplete="off"
                 spellcheck="false" placeholder="name, image or status" aria-describedby="list-count">
        </div>
        <div class="field" id="namespace-field" hidden>
          <label for="namespace-select">Namespace</label>
          <select id="namespace-select" data-testid="namespace-select"></select>
        </div>
      </div>
      <p class="banner banner-error" id="load-error" data-testid="load-error" hidden></p>
      <div class="table-wrap">
        <table class="rollouts" id="rollouts-table" data-testid="rollouts-table" aria-labelledby="list-title">
          <thead><tr id="rollouts-head"></tr></thead>
          <tbody id="rollouts-body"><tr><td class="loading">Loading…</td></tr></tbody>
        </table>
      </div>
      <p class="empty" id="list-empty" data-testid="list-empty" hidden></p>`;
  }

  function bindList() {
    const input = $("#filter");
    input.addEventListener("input", () => {
      state.list.filter = input.value;
      renderRows();
    });
    $("#namespace-select").addEventListener("change", (event) => {
      const value = event.target.value;
      window.location.hash = `#/?namespace=${seg(value)}`;
    });
  }

  async function loadList(route, generation) {
    const ns = listNamespace(route);
    let data;
    try {
      data = await request(`rollouts${ns ? `?namespace=${seg(ns)}` : ""}`);
    } catch (err) {
      showLoadError(err, generation);
      return;
    }
    if (generation !== state.generation) return;
    clearLoadError();
    const rows = Array.isArray(data.rollouts) ? data.rollouts : [];
    for (const row of rows) {
      row._search = [row.name, row.namespace, row.status, row.strategy, ...(row.images || [])].join("\n").toLowerCase();
    }
    state.list.rows = rows;
    state.list.namespaces = Array.isArray(data.namespaces) ? data.namespaces : [];
    for (const n of state.list.namespaces) state.list.knownNamespaces.add(n);
    for (const row of rows) state.list.knownNamespaces.add(row.namespace);
    if (state.context && state.context.namespace) state.list.knownNamespaces.add(state.context.namespace);
    renderNamespaceSelect(ns);
    renderRows();
  }

  function renderNamespaceSelect(current) {
    const names = [...state.list.knownNamespaces].filter(Boolean).sort();
    const field = $("#namespace-field");
    const select = $("#namespace-select");
    if (!field || !select) return;
    const several = names.length > 1 || (state.context && state.context.allNamespaces);
    field.hidden = !several;
    if (!several) return;
    if (current && !names.includes(current)) names.push(current);
    const options = [`<option value=""${current ? "" : " selected"}>All namespaces</option>`]
      .concat(names.map((n) => `<option value="${esc(n)}"${n === current ? " selected" : ""}>${esc(n)}</option>`));
    const html = options.join("");
    if (select.innerHTML !== html) select.innerHTML = html;
    select.value = current || "";
  }

  function showNamespaceColumn() {
    const ns = listNamespace(state.route);
    if (ns) return false;
    const seen = new Set(state.list.rows.map((r) => r.namespace));
    return seen.size > 1 || state.list.namespaces.length > 1;
  }

  function weightCell(row) {
    if (!row.setWeight && !row.actualWeight) return dash("");
    if (row.actualWeight && row.setWeight && row.actualWeight !== row.setWeight) {
      return `${esc(row.setWeight)}% <span class="muted">(actual ${esc(row.actualWeight)}%)</span>`;
    }
    return `${esc(row.setWeight || row.actualWeight)}%`;
  }

  function imagesCell(images) {
    if (!images || !images.length) return dash("");
    return images.map((i) => `<span class="image" title="${esc(i)}">${esc(i)}</span>`).join("");
  }

  function renderRows() {
    const body = $("#rollouts-body");
    if (!body) return;
    const withNs = showNamespaceColumn();
    const head = ["Name", withNs ? "Namespace" : null, "Strategy", "Status", "Step", "Weight", "Images", "Ready", "Age"]
      .filter(Boolean).map((h) => `<th scope="col">${h}</th>`).join("");
    const headRow = $("#rollouts-head");
    if (headRow.innerHTML !== head) headRow.innerHTML = head;

    const needle = state.list.filter.trim().toLowerCase();
    const terms = needle ? needle.split(/\s+/) : [];
    const rows = terms.length ? state.list.rows.filter((r) => terms.every((t) => r._search.includes(t))) : state.list.rows;
    const parts = new Array(rows.length);
    for (let i = 0; i < rows.length; i += 1) {
      const r = rows[i];
      const href = `#/rollouts/${seg(r.namespace)}/${seg(r.name)}`;
      parts[i] = `<tr data-testid="rollout-row" data-name="${esc(r.name)}" data-namespace="${esc(r.namespace)}" data-status="${esc(r.status)}">` +
        `<th scope="row"><a href="${esc(href)}" data-key="row:${esc(r.namespace)}/${esc(r.name)}">${esc(r.name)}</a></th>` +
        (withNs ? `<td>${esc(r.namespace)}</td>` : "") +
        `<td>${dash(r.strategy)}</td>` +
        `<td title="${esc(r.message)}">${statusBadge(r.status, r.icon)}</td>` +
        `<td class="num">${dash(r.step)}</td>` +
        `<td class="num">${weightCell(r)}</td>` +
        `<td class="images">${imagesCell(r.images)}</td>` +
        `<td class="num">${esc(r.ready ?? 0)}/${esc(r.desired ?? 0)}</td>` +
        `<td class="num">${dash(r.age)}</td></tr>`;
    }
    replaceKeepingFocus(body, parts.join(""));
    const total = state.list.rows.length;
    $("#list-count").textContent = terms.length ? `${rows.length.toLocaleString()} of ${plural(total, "rollout")}` : plural(total, "rollout");
    const empty = $("#list-empty");
    const ns = listNamespace(state.route);
    if (rows.length === 0) {
      empty.hidden = false;
      empty.textContent = total === 0
        ? `No rollouts${ns ? ` in namespace ${ns}` : ""}.`
        : `No rollouts match “${state.list.filter.trim()}”.`;
    } else {
      empty.hidden = true;
    }
    $("#rollouts-table").hidden = rows.length === 0;
  }

  // ---------- rollout page ----------

  async function loadRollout(route, generation) {
    let data;
    try {
      data = await request(`namespaces/${seg(route.namespace)}/rollouts/${seg(route.name)}`);
    } catch (err) {
      showLoadError(err, generation);
      return;
    }
    if (generation !== state.generation) return;
    state.rollout = data;
    renderRollout(data);
  }

  function renderRollout(data) {
    const view = $("#view");
    const info = data.rollout || {};
    const html = `
      <div class="page-head">
        <h1 id="rollout-title" data-testid="rollout-name">${esc(info.name || state.route.name)}</h1>
        <div class="head-status" data-testid="rollout-status">${statusBadge(info.status, info.icon, "status-lg")}</div>
      </div>
      <p class="banner banner-error" id="load-error" data-testid="load-error" hidden></p>
      ${info.message ? `<p class="message" data-testid="rollout-message">${esc(info.message)}</p>` : ""}
      ${actionsBar(data)}
      <section class="card summary" aria-labelledby="summary-title">
        <h2 id="summary-title">Summary</h2>
        ${summaryList(info)}
      </section>
      <div class="columns">
        <section class="card" aria-labelledby="steps-title">
          <h2 id="steps-title">Steps</h2>
          ${stepsList(data.steps || [])}
        </section>
        <section class="card" aria-labelledby="services-title">
          <h2 id="services-title">Services</h2>
          ${servicesTable(data.services || [])}
        </section>
      </div>
      <section class="card" aria-labelledby="revisions-title">
        <h2 id="revisions-title">Revisions</h2>
        ${revisions(info.replicaSets || [])}
      </section>
      <section class="card" aria-labelledby="runs-title">
        <h2 id="runs-title">Analysis runs</h2>
        ${runsTable(data.analysisRuns || [])}
      </section>`;
    replaceKeepingFocus(view, html);
    startCountdown();
  }

  function actionsBar(data) {
    const allowed = new Set(Array.isArray(data.actions) ? data.actions : []);
    const readOnly = Boolean(state.context && state.context.readOnly);
    const buttons = ACTIONS.map((a) => {
      const enabled = !readOnly && allowed.has(a.id);
      const why = readOnly ? "The dashboard is read-only" : allowed.has(a.id) ? "" : "Not available in the rollout's current state";
      return `<button type="button" class="btn${a.id === "abort" ? " btn-danger" : ""}" id="action-${a.id}" data-testid="action-${a.id}"` +
        ` data-action="${a.id}"${enabled ? "" : " disabled"}${why ? ` title="${esc(why)}"` : ""}>${esc(a.label)}</button>`;
    }).join("");
    return `<div class="actions" role="group" aria-label="Actions" data-testid="actions">${buttons}` +
      (readOnly ? '<span class="muted">Read-only</span>' : "") + "</div>";
  }

  function summaryList(info) {
    const items = [
      ["Strategy", dash(info.strategy)],
      ["Step", dash(info.step)],
      ["Set weight", info.setWeight ? `${esc(info.setWeight)}%` : dash("")],
      ["Actual weight", info.actualWeight ? `${esc(info.actualWeight)}%` : dash("")],
      ["Images", imagesCell(info.images), "wide"],
      ["Replicas", `<span class="replicas">${["desired", "current", "updated", "ready", "available"]
        .map((k) => `<span><span class="muted">${k}</span> ${esc(info[k] ?? 0)}</span>`).join("")}</span>`],
      ["Age", dash(info.age)],
    ];
    items[5].push("wide");
    return `<dl class="facts">${items.map(([k, v, wide]) => `<div${wide ? ' class="wide"' : ""}><dt>${k}</dt><dd>${v}</dd></div>`).join("")}</dl>`;
  }

  const STEP_MARK = { done: "✔", current: "▶", pending: "○" };
  const STEP_WORD = { done: "Done", current: "Current", pending: "Pending" };

  function stepsList(steps) {
    if (!steps.length) return '<p class="empty" data-testid="steps-empty">No steps: the update goes straight to the new version.</p>';
    const items = steps.map((s) => {
      const st = STEP_WORD[s.state] ? s.state : "pending";
      const countdown = st === "current" && s.pauseEndsAt
        ? ` <span class="countdown" role="timer" data-testid="pause-countdown" data-ends="${esc(s.pauseEndsAt)}"></span>`
        : "";
      return `<li class="step step-${st}" data-state="${st}" data-index="${esc(s.index)}"${st === "current" ? ' aria-current="step"' : ""}>` +
        `<span class="step-mark" aria-hidden="true">${STEP_MARK[st]}</span>` +
        `<span class="visually-hidden">${STEP_WORD[st]}: </span>` +
        `<span class="step-text"><code>${esc(s.text)}</code>${countdown}</span></li>`;
    });
    return `<ol class="steps" id="steps" data-testid="steps">${items.join("")}</ol>`;
  }

  function servicesTable(services) {
    if (!services.length) return '<p class="empty">No services.</p>';
    const rows = services.map((s) => `<tr data-testid="service-row" data-role="${esc(s.role)}">` +
      `<td><span class="badge badge-${esc(s.role)}">${esc(s.role)}</span></td><td>${esc(s.name)}</td>` +
      `<td class="num">${s.weight === null || s.weight === undefined ? dash("") : `${esc(s.weight)}%`}</td></tr>`);
    return `<table class="compact" data-testid="services"><thead><tr><th scope="col">Role</th><th scope="col">Service</th>` +
      `<th scope="col" class="num">Weight</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  }

  function rsBadges(rs) {
    return ["stable", "canary", "active", "preview"].filter((k) => rs[k])
      .map((k) => `<span class="badge badge-${k}">${k}</span>`).join("");
  }

  function revisions(replicaSets) {
    if (!replicaSets.length) return '<p class="empty">No ReplicaSets yet.</p>';
    const byRevision = new Map();
    for (const rs of replicaSets) {
      const key = Number(rs.revision) || 0;
      if (!byRevision.has(key)) byRevision.set(key, []);
      byRevision.get(key).push(rs);
    }
    const revs = [...byRevision.keys()].sort((a, b) => b - a);
    return `<div class="revisions" data-testid="revisions">${revs.map((rev) => {
      const sets = byRevision.get(rev);
      return `<section class="revision" data-testid="revision" data-revision="${esc(rev)}" aria-labelledby="rev-${esc(rev)}">` +
        `<h3 id="rev-${esc(rev)}">Revision ${esc(rev)} ${sets.map(rsBadges).join("")}</h3>` +
        sets.map(replicaSet).join("") + "</section>";
    }).join("")}</div>`;
  }

  function replicaSet(rs) {
    const pods = rs.pods || [];
    const podItems = pods.map((p) => `<li class="pod tone-${tone(p.status, p.icon)}" data-testid="pod" data-name="${esc(p.name)}">` +
      `${statusBadge(p.status, p.icon)} <span class="pod-name">${esc(p.name)}</span>` +
      `<span class="pod-meta"><span class="muted">ready</span> ${esc(p.ready)}` +
      `${p.restarts ? ` <span class="muted">restarts</span> ${esc(p.restarts)}` : ""}` +
      ` <span class="muted">age</span> ${esc(p.age)}</span></li>`).join("");
    return `<div class="replicaset" data-testid="replicaset" data-name="${esc(rs.name)}">` +
      `<div class="rs-head"><span class="rs-name">${esc(rs.name)}</span> ${statusBadge(rs.status, rs.icon)}` +
      ` <span class="muted">${esc(rs.available ?? 0)}/${esc(rs.replicas ?? 0)} available · ${esc(rs.age)}</span></div>` +
      `<div class="rs-images">${imagesCell(rs.images)}</div>` +
      (pods.length ? `<ul class="pods" aria-label="Pods of ${esc(rs.name)}">${podItems}</ul>` : '<p class="muted small">No pods.</p>') +
      "</div>";
  }

  function countsCell(r) {
    const kinds = [["successful", "✔", "ok"], ["failed", "✖", "bad"], ["inconclusive", "?", "warn"], ["error", "⚠", "bad"]];
    return `<span class="counts">${kinds.filter(([k]) => Number(r[k]) > 0)
      .map(([k, icon, t]) => `<span class="tone-${t}" title="${k}"><span aria-hidden="true">${icon}</span> ${esc(r[k])}<span class="visually-hidden"> ${k}</span></span>`)
      .join(" ") || dash("")}</span>`;
  }

  function runsTable(runs) {
    if (!runs.length) return '<p class="empty">No analysis runs.</p>';
    const ns = state.route.namespace;
    const rows = runs.map((r) => `<tr data-testid="analysisrun-row" data-name="${esc(r.name)}">` +
      `<th scope="row"><a href="#/analysisruns/${esc(seg(ns))}/${esc(seg(r.name))}" data-key="run:${esc(r.name)}">${esc(r.name)}</a></th>` +
      `<td class="num">${esc(r.revision)}</td><td>${statusBadge(r.status, r.icon)}</td>` +
      `<td>${countsCell(r)}</td><td class="num">${dash(r.age)}</td></tr>`);
    return `<table class="compact" data-testid="analysisruns"><thead><tr><th scope="col">Name</th><th scope="col" class="num">Revision</th>` +
      `<th scope="col">Status</th><th scope="col">Measurements</th><th scope="col" class="num">Age</th></tr></thead>` +
      `<tbody>${rows.join("")}</tbody></table>`;
  }

  // ---------- pause countdown (local ticking only) ----------

  function stopCountdown() {
    if (state.countdownTimer) window.clearInterval(state.countdownTimer);
    state.countdownTimer = 0;
  }

  function tickCountdown() {
    const nodes = document.querySelectorAll(".countdown[data-ends]");
    if (!nodes.length) { stopCountdown(); return; }
    for (const node of nodes) {
      const ends = Date.parse(node.dataset.ends);
      if (Number.isNaN(ends)) { node.textContent = ""; continue; }
      const left = ends - Date.now();
      node.textContent = left > 0 ? `${formatDuration(left)} left` : "resuming…";
      node.setAttribute("aria-label", left > 0 ? `pause ends in ${formatDuration(left)}` : "pause ended, resuming");
    }
  }

  function startCountdown() {
    stopCountdown();
    if (!document.querySelector(".countdown[data-ends]")) return;
    tickCountdown();
    state.countdownTimer = window.setInterval(tickCountdown, 1000);
  }

  // ---------- actions ----------

  let pendingAction = null;
  let returnFocus = null;

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    if (state.busy) {
      announce("Another action is still in progress.", "info");
      return;
    }
    openAction(button.dataset.action, button);
  });

  function openAction(id, trigger) {
    const action = ACTIONS.find((a) => a.id === id);
    const data = state.rollout;
    if (!action || !data) return;
    const name = (data.rollout && data.rollout.name) || state.route.name;
    pendingAction = { action, namespace: state.route.namespace, name };
    returnFocus = trigger;
    $("#action-dialog-title").textContent = action.title ? action.title(name) : `${action.label} rollout ${name}?`;
    $("#action-dialog-text").textContent = action.text;
    const fields = $("#action-dialog-fields");
    const setImage = id === "set-image";
    fields.hidden = !setImage;
    $("#set-image-error").hidden = true;
    if (setImage) {
      const containers = (data.rollout && data.rollout.containers) || [];
      const select = $("#set-image-container");
      select.innerHTML = containers.map((c) => `<option value="${esc(c.name)}" data-image="${esc(c.image)}">${esc(c.name)}</option>`).join("");
      const fillImage = () => {
        const option = select.selectedOptions[0];
        $("#set-image-image").value = option ? option.dataset.image || "" : "";
      };
      select.onchange = fillImage;
      fillImage();
    }
    const confirm = $("#action-confirm");
    confirm.classList.toggle("btn-danger", id === "abort");
    confirm.classList.toggle("btn-primary", id !== "abort");
    const dialog = $("#action-dialog");
    dialog.showModal();
    if (setImage) {
      const input = $("#set-image-image");
      input.focus();
      input.select();
    } else {
      $("#action-cancel").focus();
    }
  }

  function closeAction() {
    const dialog = $("#action-dialog");
    if (dialog.open) dialog.close();
  }

  $("#action-dialog").addEventListener("close", () => {
    pendingAction = null;
    const target = returnFocus && returnFocus.id ? document.getElementById(returnFocus.id) : null;
    if (target && !target.disabled) target.focus();
    else $("#main").focus({ preventScroll: true });
    returnFocus = null;
  });

  $("#action-cancel").addEventListener("click", closeAction);

  $("#action-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!pendingAction) { closeAction(); return; }
    const { action, namespace, name } = pendingAction;
    let body = {};
    if (action.id === "set-image") {
      const container = $("#set-image-container").value;
      const image = $("#set-image-image").value.trim();
      if (!container || !image) {
        const error = $("#set-image-error");
        error.textContent = !container ? "This rollout has no container to change." : "Enter an image.";
        error.hidden = false;
        $("#set-image-image").setAttribute("aria-invalid", "true");
        $("#set-image-image").setAttribute("aria-describedby", "set-image-error");
        $(container ? "#set-image-image" : "#set-image-container").focus();
        return;
      }
      $("#set-image-image").removeAttribute("aria-invalid");
      body = { container, image };
    }
    closeAction();
    runAction(action, namespace, name, body);
  });

  async function runAction(action, namespace, name, body) {
    state.busy = true;
    const group = $(".actions");
    if (group) group.setAttribute("aria-busy", "true");
    announce(`${action.label}: sending…`, "info");
    try {
      const result = await request(`namespaces/${seg(namespace)}/rollouts/${seg(name)}/actions/${seg(action.id)}`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      announce(result.message || `Rollout ${name} ${action.verb}.`, "ok");
    } catch (err) {
      const text = err.status === 403 ? notAllowed(err.message) : `${action.label} failed: ${err.message}`;
      announce(text, "error");
    } finally {
      state.busy = false;
      const after = $(".actions");
      if (after) after.removeAttribute("aria-busy");
      if (state.route.view === "rollout") refresh();
    }
  }

  // ---------- analysis run page ----------

  async function loadRun(route, generation) {
    let data;
    try {
      data = await request(`namespaces/${seg(route.namespace)}/analysisruns/${seg(route.name)}`);
    } catch (err) {
      showLoadError(err, generation);
      return;
    }
    if (generation !== state.generation) return;
    state.run = data;
    renderRun(data);
  }

  function renderRun(run) {
    const view = $("#view");
    // Remember which measurement tables are open across refreshes.
    for (const details of view.querySelectorAll("details[data-metric]")) {
      if (details.open) state.openMeasurements.add(details.dataset.metric);
      else state.openMeasurements.delete(details.dataset.metric);
    }
    const args = Array.isArray(run.args) ? run.args : [];
    const metrics = Array.isArray(run.metrics) ? run.metrics : [];
    const facts = [
      ["Started", formatTime(run.startedAt)],
      ["Completed", formatTime(run.completedAt)],
    ];
    if (run.terminate) facts.push(["Terminated", "yes"]);
    const html = `
      <div class="page-head">
        <h1 id="run-title" data-testid="analysisrun-name"><span class="muted kind">AnalysisRun</span> ${esc(run.name || state.route.name)}</h1>
        <div class="head-status" data-testid="analysisrun-phase">${statusBadge(run.phase || "Pending", "", "status-lg")}</div>
      </div>
      <p class="banner banner-error" id="load-error" data-testid="load-error" hidden></p>
      ${run.message ? `<p class="message" data-testid="analysisrun-message">${esc(run.message)}</p>` : ""}
      <section class="card" aria-labelledby="run-facts-title">
        <h2 id="run-facts-title">Run</h2>
        <dl class="facts">${facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join("")}</dl>
        <h3 class="subhead">Arguments</h3>
        ${args.length ? `<table class="compact" data-testid="analysisrun-args"><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead><tbody>${
    args.map((a) => `<tr><th scope="row"><code>${esc(a.name)}</code></th><td><code class="wrap">${dash(a.value)}</code></td></tr>`).join("")
  }</tbody></table>` : '<p class="empty">No arguments.</p>'}
      </section>
      <section aria-labelledby="metrics-title">
        <h2 id="metrics-title" class="section-title">Metrics</h2>
        ${metrics.length ? metrics.map(metricSection).join("") : '<p class="empty">No metrics.</p>'}
      </section>`;
    replaceKeepingFocus(view, html);
    for (const holder of view.querySelectorAll("[data-chart-index]")) {
      const metric = metrics[Number(holder.dataset.chartIndex)];
      mountChart(holder, metric && metric.chart);
    }
    for (const details of view.querySelectorAll("details[data-metric]")) {
      details.addEventListener("toggle", () => {
        if (details.open) fillMeasurements(details);
      });
      if (details.open) fillMeasurements(details);
    }
  }

  function metricSection(m, index) {
    const id = `metric-${index}`;
    const counts = m.counts || {};
    const limits = m.limits && typeof m.limits === "object" ? Object.entries(m.limits) : [];
    const conditions = [];
    if (m.successCondition) conditions.push(["Success when", m.successCondition]);
    if (m.failureCondition) conditions.push(["Failure when", m.failureCondition]);
    const countItems = [["count", "Measured"], ["successful", "Successful"], ["failed", "Failed"], ["inconclusive", "Inconclusive"], ["error", "Error"]]
      .map(([k, label]) => `<div><dt>${label}</dt><dd>${esc(counts[k] ?? 0)}</dd></div>`).join("");
    const measurements = Array.isArray(m.measurements) ? m.measurements : [];
    const open = state.openMeasurements.has(String(m.name));
    return `<section class="card metric" id="${id}" data-testid="metric" data-metric="${esc(m.name)}" aria-labelledby="${id}-title">
      <div class="metric-head">
        <h3 id="${id}-title">${esc(m.name)}</h3>
        ${statusBadge(m.phase || "Pending", "")}
        ${m.dryRun ? '<span class="badge badge-dry">dry run</span>' : ""}
        ${m.provider ? `<span class="badge">${esc(m.provider)}</span>` : ""}
      </div>
      ${m.reason ? `<p class="reason" data-testid="metric-reason">${esc(m.reason)}</p>` : ""}
      <figure class="chart" data-testid="metric-chart" data-metric="${esc(m.name)}" data-chart-index="${index}"></figure>
      <div class="metric-grid">
        <div>
          ${m.query ? `<h4>Query</h4><pre class="query" data-testid="metric-query"><code>${esc(m.query)}</code></pre>` : ""}
          ${conditions.length ? `<dl class="conditions">${conditions.map(([k, v]) => `<div><dt>${k}</dt><dd><code class="wrap">${esc(v)}</code></dd></div>`).join("")}</dl>` : ""}
        </div>
        <div>
          <h4>Counts</h4>
          <dl class="facts facts-tight" data-testid="metric-counts">${countItems}</dl>
          ${limits.length ? `<h4>Limits</h4><dl class="facts facts-tight" data-testid="metric-limits">${limits.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</dd></div>`).join("")}</dl>` : ""}
        </div>
      </div>
      <details class="measurements" data-metric="${esc(m.name)}" data-index="${index}" data-testid="measurements"${open ? " open" : ""}>
        <summary data-key="summary:${esc(m.name)}">Measurements (${measurements.length.toLocaleString()})</summary>
        <div class="measurements-body"></div>
      </details>
    </section>`;
  }

  function fillMeasurements(details) {
    const run = state.run;
    const metric = run && Array.isArray(run.metrics) ? run.metrics[Number(details.dataset.index)] : null;
    const body = $(".measurements-body", details);
    const list = metric && Array.isArray(metric.measurements) ? metric.measurements : [];
    if (!list.length) { body.innerHTML = '<p class="empty">No measurements yet.</p>'; return; }
    const shown = list.slice(-MEASUREMENT_ROWS).reverse();
    const rows = shown.map((x) => `<tr data-phase="${esc(x.phase)}"><td>${formatTime(x.startedAt)}</td><td>${formatTime(x.finishedAt)}</td>` +
      `<td><code class="wrap">${dash(x.value)}</code></td><td>${statusBadge(x.phase || "Pending", "")}</td><td>${dash(x.message)}</td></tr>`).join("");
    body.innerHTML = (list.length > shown.length ? `<p class="muted small">The newest ${shown.length.toLocaleString()} of ${list.length.toLocaleString()}.</p>` : "") +
      `<div class="table-wrap"><table class="compact"><caption class="visually-hidden">Measurements of ${esc(metric.name)}, newest first</caption>` +
      '<thead><tr><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Value</th><th scope="col">Phase</th><th scope="col">Message</th></tr></thead>' +
      `<tbody>${rows}</tbody></table></div>`;
  }

  /** Insert the server's SVG chart after parsing it as SVG and removing anything executable. */
  function mountChart(holder, svgText) {
    if (typeof svgText !== "string" || !svgText.trim()) {
      holder.innerHTML = '<p class="muted small">No chart.</p>';
      return;
    }
    const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
    const root = doc.documentElement;
    if (!root || root.localName !== "svg" || doc.getElementsByTagName("parsererror").length) {
      holder.innerHTML = '<p class="muted small">The chart could not be drawn.</p>';
      return;
    }
    for (const bad of root.querySelectorAll("script, foreignObject, iframe, object, embed, a, use, image, animate, set")) bad.remove();
    for (const el of [root, ...root.querySelectorAll("*")]) {
      for (const attr of [...el.attributes]) {
        const name = attr.name.toLowerCase();
        if (name.startsWith("on") || name === "href" || name === "xlink:href" || name === "style") el.removeAttribute(attr.name);
      }
    }
    root.removeAttribute("width");
    root.removeAttribute("height");
    holder.replaceChildren(document.importNode(root, true));
  }

  // ---------- start ----------

  $("#skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    $("#main").focus();
  });

  async function start() {
    try {
      state.context = await request("context");
      const ctx = state.context;
      const el = $("#context");
      el.textContent = ctx.context ? `Context: ${ctx.context}` : "";
      el.title = ctx.allNamespaces ? "All namespaces" : `Namespace ${ctx.namespace || "default"}`;
      if (ctx.readOnly) el.insertAdjacentHTML("beforeend", ' <span class="badge">read-only</span>');
    } catch (err) {
      state.context = { context: "", namespace: "", allNamespaces: false, readOnly: false };
    }
    window.addEventListener("hashchange", navigate);
    navigate();
  }

  start();
})();
