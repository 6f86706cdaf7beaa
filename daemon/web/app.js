/* esd dashboard: plain ES2020, no dependencies. Its only data is esd's JSON API (/api/...). */
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  // h("tag.class", {attr: value, onclick: fn, dataset: {...}}, children...): an element, no innerHTML anywhere.
  function h(spec, attrs, ...kids) {
    const [tag, ...cls] = spec.split(".");
    const el = document.createElement(tag);
    if (cls.length) el.className = cls.join(" ");
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of kids.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  }
  const td = (content, cls, attrs) => h("td" + (cls ? "." + cls : ""), attrs, content);
  const num = (v) => (v == null || Number.isNaN(v) ? "—" : String(v));
  const enc = encodeURIComponent;
  const compact = (v) => (v === undefined ? "" : JSON.stringify(v));
  const clip = (s, n = 600) => (s.length > n ? s.slice(0, n) + "…" : s);
  const fmtTime = (iso) => (iso ? iso.replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1") : "—");
  const BADGE = { ok: /^(up|following|connected|running|live|yes|agrees)$/, bad: /stop|unreach|fail|error|differs|offline|^no$|deleted/, warn: /connect|catch|poll|start|wait|lag|paus/ };
  function badge(text, kind) {
    const k = kind || (BADGE.ok.test(text) ? "ok" : BADGE.bad.test(text) ? "bad" : BADGE.warn.test(text) ? "warn" : "neutral");
    return h("span.badge.b-" + k, {}, text);
  }
  const isDown = (n) => /stopped|unreachable/.test(n.state || "") || n.error != null && n.head == null && n.source_head == null;

  // ---- the admin token: from #token=... once, then sessionStorage, or the header's input ----
  let token = "";
  try { token = sessionStorage.getItem("esd.token") || ""; } catch (e) { /* storage off: keep it in memory */ }
  {
    const m = location.hash.match(/(^#|[&?/])token=([^&]*)/);
    if (m) {
      try { token = decodeURIComponent(m[2]); } catch (e) { token = m[2]; }
      try { sessionStorage.setItem("esd.token", token); } catch (e) { /* memory only */ }
      let rest = location.hash.slice(0, m.index + (m[1] === "#" ? 1 : 0)) + location.hash.slice(m.index + m[0].length);
      rest = rest.replace(/^#&/, "#").replace(/[&?]$/, "");
      history.replaceState(null, "", location.pathname + location.search + (rest === "#" ? "" : rest));
    }
  }
  const loopback = /^(127\.|localhost$|\[::1\]$)/.test(location.hostname);
  const NEEDS_TOKEN = "needs the admin token (DATA/http.token)";

  // ---- the API ----
  class ApiError extends Error {
    constructor(status, body) {
      const msg = status === 401 ? NEEDS_TOKEN
        : status === 0 ? "cannot reach esd (" + (body.error || "network error") + ")"
        : (body && body.error) || "HTTP " + status;
      super(msg);
      this.status = status; this.body = body || {};
    }
  }
  async function api(path, opts = {}) {
    const headers = { Accept: "application/json" };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    let res;
    try {
      res = await fetch(path, { method: opts.method || "GET", headers, cache: "no-store", signal: opts.signal,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(0, { error: e.message });
    }
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: clip(text.trim(), 200) || "not JSON" }; }
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }
  let announceTimer = null;
  function announce(msg, error) {
    const a = $("#announce");
    a.className = "notice" + (error ? " error" : "");
    a.textContent = msg || "";
    clearTimeout(announceTimer);
    if (msg) announceTimer = setTimeout(() => { a.textContent = ""; }, error ? 20000 : 5000);
  }
  function tokenRejected() {
    $("#token-input").setAttribute("aria-invalid", "true");
    $("#token-state").textContent = token ? "token rejected" : "no token";
  }
  const fail = (what) => (e) => { if (e.name !== "AbortError") announce(what + ": " + e.message, true); };

  // ---- state ----
  const S = {
    nodes: [], status: null, history: [], es: null, pollTimer: null, retryTimer: null,
    ryw: null, tab: "insert",
    tail: { rows: new Map(), scanned: 0, paused: false, pending: 0, filter: {} },
    stream: null, proj: null,
  };

  // ---- routing: #/insert, #/streams/NAME, #/log, #/projections/NAME, #/cluster, #/events/P ----
  const TABS = ["insert", "streams", "log", "projections", "cluster"];
  function route() {
    const parts = location.hash.replace(/^#\/?/, "").split("/");
    let tab = parts[0];
    let arg = parts.slice(1).join("/");
    try { arg = decodeURIComponent(arg); } catch (e) { /* as typed */ }
    if (tab === "events") { openEvent(Number(arg)); if (!$("[data-view]:not([hidden])")) tab = S.tab; else return; }
    if (!TABS.includes(tab)) tab = "insert";
    S.tab = tab;
    for (const v of $$("[data-view]")) v.hidden = v.dataset.view !== tab;
    for (const a of $$("[data-tab]")) {
      if (a.dataset.tab === tab) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    document.title = tab[0].toUpperCase() + tab.slice(1) + " · esd dashboard";
    ({ insert: () => renderRyw(), streams: () => enterStreams(arg), log: () => enterLog(), projections: () => enterProjections(arg), cluster: () => { renderNodes(); renderChart(); } })[tab]();
  }

  // ---- live updates: one EventSource for events, nodes and status; else polling every 2 s ----
  function setConn(text, kind, title) {
    const c = $("#conn");
    c.replaceWith(Object.assign(badge(text, kind), { id: "conn", title: title || "How this page gets updates" }));
  }
  function liveUrl() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(S.tail.filter)) if (v) q.set(k, v);
    if (token && !loopback) q.set("token", token);
    const s = q.toString();
    return "/api/live" + (s ? "?" + s : "");
  }
  function startLive() {
    if (S.es) { S.es.close(); S.es = null; }
    clearTimeout(S.retryTimer);
    if (!window.EventSource) { startPolling("this browser has no EventSource"); return; }
    const es = new EventSource(liveUrl());
    S.es = es;
    es.onopen = () => { if (S.es !== es) return; stopPolling(); setConn("live", "ok", "Server-Sent Events from /api/live"); catchUpTail(); };
    es.addEventListener("event", (m) => { if (S.es === es) addTail([JSON.parse(m.data)], "live"); });
    es.addEventListener("nodes", (m) => { if (S.es === es) onNodes(JSON.parse(m.data)); });
    es.addEventListener("status", (m) => { if (S.es === es) onStatus(JSON.parse(m.data)); });
    es.onerror = () => {
      if (S.es !== es) return;
      // A refusal (503 busy) or a lost stream: poll instead, try the live view again later.
      es.close(); S.es = null;
      startPolling(es.readyState === EventSource.CLOSED ? "the live view was refused (busy) or failed" : "the live view was lost");
      S.retryTimer = setTimeout(startLive, 15000);
    };
  }
  function startPolling(why) {
    setConn("polling every 2 s", "warn", why);
    if (S.pollTimer) return;
    const tick = async () => {
      const results = await Promise.allSettled([api("/api/nodes").then(onNodes), api("/api/status").then(onStatus), pollTail()]);
      if (!S.pollTimer) return;
      const bad = results.find((r) => r.status === "rejected");
      if (bad) setConn("offline", "bad", bad.reason.message); else setConn("polling every 2 s", "warn", why);
      S.pollTimer = setTimeout(tick, 2000);
    };
    S.pollTimer = setTimeout(tick, 0);
  }
  function stopPolling() { clearTimeout(S.pollTimer); S.pollTimer = null; }

  function onStatus(s) {
    S.status = s;
    const up = s.uptime_s != null ? " · up " + dur(s.uptime_s) : "";
    $("#here").textContent = `${s.role || "?"} ${s.listen || ""} · head ${num(s.head)} · ${num(s.streams)} streams · v${s.version || "?"}${up}`;
  }
  const dur = (sec) => (sec < 90 ? Math.round(sec) + " s" : sec < 5400 ? Math.round(sec / 60) + " min" : (sec / 3600).toFixed(1) + " h");

  // ---- nodes: the cluster table, the read-your-writes panel and the chart's history ----
  function onNodes(snap) {
    if (!snap || !Array.isArray(snap.nodes)) return;
    S.nodes = snap.nodes;
    const t = snap.time_us ? snap.time_us / 1000 : Date.now();
    const prim = primary();
    const last = S.history[S.history.length - 1];
    if (!last || t - last.t >= 900) {
      const lags = {};
      for (const n of S.nodes) if (n.role !== "primary") lags[n.node] = n.lag_events ?? null;
      S.history.push({ t, head: prim ? prim.head : null, lags });
      while (S.history.length && S.history[0].t < t - 310000) S.history.shift();
    }
    if (S.ryw) updateRyw();
    if (S.tab === "cluster") { renderNodes(); renderChart(); }
    if (S.tab === "insert") renderRyw();
  }
  const primary = () => S.nodes.find((n) => n.role === "primary" && !isDown(n));

  function digestVerdicts(nodes) {
    const groups = new Map();
    for (const n of nodes) {
      if (!n.digest_at || isDown(n)) continue;
      const g = groups.get(n.digest_at.position) || [];
      g.push(n);
      groups.set(n.digest_at.position, g);
    }
    const out = new Map();
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      let ref = (g.find((n) => n.role === "primary") || {}).digest_at;
      if (!ref) {
        const counts = new Map();
        for (const n of g) counts.set(n.digest_at.digest, (counts.get(n.digest_at.digest) || 0) + 1);
        const best = [...counts].sort((a, b) => b[1] - a[1]);
        if (best.length === 1 || best[0][1] > best[1][1]) ref = { digest: best[0][0] };
      }
      for (const n of g) out.set(n.node, ref && n.digest_at.digest === ref.digest ? "agrees" : "differs");
    }
    return out;
  }

  function renderNodes() {
    const body = $("#nodes-table tbody");
    const verdicts = digestVerdicts(S.nodes);
    const rows = S.nodes.map((n) => {
      const down = isDown(n);
      const lagMs = n.lag_s == null ? null : Math.round(n.lag_s * 1000);
      const contact = n.primary_contact_s ?? n.source_contact_s;
      const head = n.head ?? (n.source_head != null ? n.source_head - (n.lag_events || 0) : null);
      const verdict = verdicts.get(n.node) || "—";
      const digestTitle = n.digest_at ? `digest at position ${n.digest_at.position}: ${n.digest_at.digest}` : "no digest to compare";
      const stateCell = h("td", { dataset: { field: "state" } }, badge(n.state || "?", down ? "bad" : null));
      if (n.error) stateCell.append(h("span.sub", { title: n.error }, clip(n.error, 140)));
      if (n.follow_error || n.source_error) stateCell.append(h("span.sub", {}, clip(n.follow_error || n.source_error, 140)));
      if (down && n.restart) {
        stateCell.append(h("details", {}, h("summary", {}, "how it comes back"), h("code", {}, n.restart)));
      }
      const projs = (n.projections || []).map((p) => h("span.sub", { title: `${p.name}: ${p.status}, position ${p.position}, lag ${p.lag}` },
        `${p.name} @${p.position} ${p.status !== "running" ? p.status : ""}`));
      const action = down || !n.node ? "" : h("button.btn.danger", { type: "button", dataset: { stop: n.node }, "aria-label": "Stop " + n.node, onclick: () => stopNode(n) }, "Stop");
      return h("tr" + (down ? ".down" : ""), { dataset: { node: n.node, state: n.state || "" } },
        h("td", { title: [n.node, n.data && "data " + n.data, n.publish && "publish " + n.publish].filter(Boolean).join("\n") },
          h("span.trunc.mono", {}, n.node), n.data ? h("span.sub.trunc", {}, n.data) : ""),
        td(n.role || "?", "", { dataset: { field: "role" } }),
        stateCell,
        td(num(head), "num", { dataset: { field: "head", value: head ?? "" }, title: n.head == null && n.source_head != null ? "a read node: its source's head less its lag" : null }),
        // A stopped node's lag: what its primary last heard from it against the head now.
        td(num(n.lag_events), "num", { dataset: { field: "lag", value: n.lag_events ?? "" }, title: down && n.last_head != null ? `stopped at head ${n.last_head} (its last report)` : null }),
        td(num(lagMs), "num", { dataset: { field: "lag_ms" } }),
        td(contact == null ? "—" : contact.toFixed(1) + " s", "num", { dataset: { field: "contact" }, title: "since it last heard from the node it follows" }),
        h("td", { dataset: { field: "digest", value: verdict }, title: digestTitle }, verdict === "—" ? "—" : badge(verdict)),
        h("td", { dataset: { field: "projections" } }, projs.length ? projs : "—"),
        h("td", {}, action));
    });
    // keep what was open and what had the focus across the refresh
    const open = new Set($$("details[open]", body).map((d) => d.closest("tr").dataset.node));
    const act = document.activeElement;
    const focus = body.contains(act) && act.closest("tr") ? [act.closest("tr").dataset.node, act.tagName === "SUMMARY" ? "summary" : "button"] : null;
    body.replaceChildren(...(rows.length ? rows : [h("tr.empty", {}, h("td", { colspan: 10 }, "No nodes yet."))]));
    for (const tr of $$("tr[data-node]", body)) {
      if (open.has(tr.dataset.node)) { const d = $("details", tr); if (d) d.open = true; }
      if (focus && focus[0] === tr.dataset.node) { const f = $(focus[1], tr); if (f) f.focus(); }
    }
    const agree = [...verdicts.values()];
    $("#nodes-info").textContent = S.nodes.length
      ? `${S.nodes.length} nodes, ${S.nodes.filter(isDown).length} down; digests: ${agree.filter((v) => v === "agrees").length} agree, ${agree.filter((v) => v === "differs").length} differ at the common head.`
      : "";
  }

  async function stopNode(n) {
    const msg = `Stop ${n.node} (${n.role || "node"})?\n\nIt stops at its head and stays down until it is started again (systemd, Kubernetes or by hand).` +
      (n.role === "primary" ? "\nIt is the primary: appends fail until it is back." : "");
    if (!window.confirm(msg)) return;
    const out = $("#stop-result");
    out.replaceChildren(h("p.result", {}, `Stopping ${n.node}…`));
    try {
      const r = await api("/api/stop", { method: "POST", body: { node: n.node } });
      out.dataset.node = r.node || n.node;
      out.replaceChildren(h("div.result.ok.stop-box", {},
        h("p.title", {}, `Stopped ${r.node || n.node} at head ${num(r.stopped_at)}.`),
        h("p", {}, "How it comes back: ", h("code", {}, r.restart || "(not known)"))));
      refreshNodesSoon();
    } catch (e) {
      if (e.status === 401) tokenRejected();
      out.replaceChildren(h("div.result.err", { role: "alert" }, h("p.title", {}, `Could not stop ${n.node}: ${e.message}`)));
    }
  }
  function refreshNodesSoon() { setTimeout(() => api("/api/nodes").then(onNodes).catch(() => {}), 300); }

  // ---- the chart: append rate and replica lag over the last 5 minutes ----
  const SVGNS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, text) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
    if (text != null) el.textContent = text;
    return el;
  }
  const COLORS = ["#b4480c", "#6d28d9", "#0f766e", "#a3161b", "#4d5b70"];
  const DASHES = [null, "6 3", "2 3", "8 3 2 3", null];
  // the top of the y axis: 4 steps of 1, 2 or 5 times a power of ten
  function niceMax(v, integer) {
    if (integer && v < 4) return 4;
    if (!(v > 0)) return 4;
    const step = v / 4, p = Math.pow(10, Math.floor(Math.log10(step)));
    for (const m of [1, 2, 5, 10]) if (m * p >= step) return Math.max(4 * m * p, p >= 1 ? 4 : 0);
    return 40 * p;
  }
  function renderChart() {
    const box = $("#chart");
    const W = Math.max(320, Math.floor(box.clientWidth || 900));
    const H = 190;
    const hist = S.history;
    const now = hist.length ? hist[hist.length - 1].t : Date.now();
    const t0 = now - 300000;
    const rate = [];
    for (let i = 1; i < hist.length; i++) {
      const a = hist[i - 1], b = hist[i];
      const v = a.head != null && b.head != null && b.head >= a.head ? (b.head - a.head) / ((b.t - a.t) / 1000) : null;
      rate.push({ t: b.t, v });
    }
    const lagNodes = [...new Set(hist.flatMap((p) => Object.keys(p.lags)))];
    const lagSeries = lagNodes.map((node) => hist.map((p) => ({ t: p.t, v: node in p.lags ? p.lags[node] : null })));
    const gap = 28, pw = (W - gap) / 2;
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title" });
    const lastRate = rate.length ? rate[rate.length - 1].v : null;
    const lagNow = lagNodes.map((n, i) => `${n} ${num(lagSeries[i][lagSeries[i].length - 1].v)}`);
    svg.append(s("title", { id: "chart-title" }, `Append rate now ${lastRate == null ? "unknown" : lastRate.toFixed(1)} events/s; replica lag now (events): ${lagNow.join(", ") || "no replicas"}`));
    const panel = (x0, title, series, integer) => {
      const L = x0 + 46, R = x0 + pw - 6, T = 22, B = H - 20;
      let max = 0;
      for (const ser of series) for (const p of ser.pts) if (p.v != null && p.t >= t0) max = Math.max(max, p.v);
      max = niceMax(max, integer);
      const X = (t) => L + ((t - t0) / 300000) * (R - L);
      const Y = (v) => B - (v / max) * (B - T);
      svg.append(s("text", { x: x0, y: 12, fill: "#1b2330", "font-weight": "600" }, title));
      for (let i = 0; i <= 4; i++) {
        const v = (max * i) / 4;
        svg.append(s("line", { x1: L, x2: R, y1: Y(v), y2: Y(v), stroke: i ? "#e3e7ec" : "#9aa4b2" }));
        svg.append(s("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end", fill: "#566171" }, Number.isInteger(v) ? v : +v.toFixed(2)));
      }
      for (let m = 5; m >= 0; m--) {
        const x = X(now - m * 60000);
        svg.append(s("text", { x, y: H - 5, "text-anchor": m === 5 ? "start" : m === 0 ? "end" : "middle", fill: "#566171" }, m ? `-${m} min` : "now"));
      }
      for (const ser of series) {
        let run = [];
        const flush = () => {
          if (run.length === 1) svg.append(s("circle", { cx: run[0][0], cy: run[0][1], r: 2, fill: ser.color }));
          else if (run.length) svg.append(s("polyline", { points: run.map((p) => p.join(",")).join(" "), fill: "none", stroke: ser.color, "stroke-width": 2, "stroke-dasharray": ser.dash, "stroke-linejoin": "round" }));
          run = [];
        };
        for (const p of ser.pts) {
          if (p.t < t0) continue;
          if (p.v == null) flush(); else run.push([X(p.t).toFixed(1), Y(Math.min(p.v, max)).toFixed(1)]);
        }
        flush();
      }
      if (!hist.length) svg.append(s("text", { x: (L + R) / 2, y: (T + B) / 2, "text-anchor": "middle", fill: "#566171" }, "waiting for the first nodes snapshot…"));
    };
    panel(0, "Append rate (events/s)", [{ pts: rate, color: "#1a56b8" }]);
    panel(pw + gap, "Replica lag (events)", lagSeries.map((pts, i) => ({ pts, color: COLORS[i % COLORS.length], dash: DASHES[i % DASHES.length] })), true);
    box.replaceChildren(svg);
    const legend = $("#chart-legend");
    const sw = (color, dash) => { const e = h("span.sw", { "aria-hidden": "true" }); e.style.borderTopColor = color; if (dash) e.style.borderTopStyle = "dashed"; return e; };
    legend.replaceChildren(
      h("span", {}, sw("#1a56b8"), `append rate: ${lastRate == null ? "—" : lastRate.toFixed(1)} events/s`),
      ...lagNodes.map((n, i) => {
        const cur = S.nodes.find((x) => x.node === n);
        const v = lagSeries[i][lagSeries[i].length - 1].v;
        return h("span", {}, sw(COLORS[i % COLORS.length], DASHES[i % DASHES.length]), `lag of ${n}: ${cur && isDown(cur) ? cur.state : num(v) + (v === 1 ? " event" : " events")}`);
      }));
  }
  let resizeTimer = null;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => S.tab === "cluster" && renderChart(), 150); });

  // ---- insert ----
  function checkData() {
    const ta = $("#insert-data"), err = $("#insert-data-error");
    try {
      const v = JSON.parse(ta.value);
      ta.removeAttribute("aria-invalid"); err.textContent = "";
      return { ok: true, value: v };
    } catch (e) {
      ta.setAttribute("aria-invalid", "true");
      err.textContent = "Not valid JSON: " + e.message;
      return { ok: false };
    }
  }
  let dataTimer = null;
  function setResult(kind, title, detail, attrs) {
    const r = $("#insert-result");
    r.dataset.state = kind;
    delete r.dataset.position;
    Object.assign(r.dataset, attrs || {});
    r.replaceChildren(h("div.result." + (kind === "ok" ? "ok" : kind === "error" ? "err" : "pending"), kind === "error" ? { role: "alert" } : {},
      h("p.title", {}, title), detail ? h("pre", {}, detail) : ""));
  }
  async function submitInsert(ev) {
    ev.preventDefault();
    const stream = $("#insert-stream"), type = $("#insert-type");
    let bad = null;
    for (const f of [stream, type]) {
      if (!f.value.trim()) { f.setAttribute("aria-invalid", "true"); bad = bad || f; } else f.removeAttribute("aria-invalid");
    }
    const data = checkData();
    if (!data.ok) bad = bad || $("#insert-data");
    let expected = $("#insert-expected").value;
    if (expected === "number") {
      const n = $("#insert-expected-number");
      if (!/^\d+$/.test(n.value.trim())) { n.setAttribute("aria-invalid", "true"); bad = bad || n; } else { n.removeAttribute("aria-invalid"); expected = Number(n.value); }
    }
    if (bad) { setResult("error", "Fix the highlighted fields: " + (bad === $("#insert-data") ? "the data is not valid JSON." : "stream, type and a whole version are needed.")); bad.focus(); return; }
    // The keys of an `es append` line; expectations as es spells them.
    const body = { stream: stream.value.trim(), type: type.value.trim(), data: data.value, expect: expected === "no_stream" ? "no-stream" : expected };
    const btn = $("#insert-submit");
    btn.disabled = true;
    setResult("pending", "Appending…");
    const t0 = performance.now();
    try {
      const r = await api("/api/append", { method: "POST", body });
      setResult("ok", `Appended to ${r.stream} at position ${r.last_position} (version ${r.last_version}), in ${Math.round(performance.now() - t0)} ms`,
        JSON.stringify(r), { position: String(r.last_position), stream: r.stream });
      startRyw(r, t0);
    } catch (e) {
      if (e.status === 409 && "current_version" in e.body) {
        const cur = e.body.current_version;
        setResult("error", `Conflict: stream ${body.stream} ${cur == null ? "does not exist" : "is at version " + cur}`, e.message, { code: "conflict", current: cur == null ? "none" : String(cur) });
      } else {
        setResult("error", e.status === 401 ? "Not appended: this " + NEEDS_TOKEN : "Not appended: " + e.message,
          e.status && e.status !== 401 ? `HTTP ${e.status}${e.body.code ? " " + e.body.code : ""}` : null, { code: e.body.code || String(e.status) });
        if (e.status === 401) { tokenRejected(); $("#token-input").focus(); }
      }
    } finally {
      btn.disabled = false;
    }
  }

  // ---- read your writes: when each node has the appended event ----
  function nodeHas(n, P) {
    if (isDown(n)) return false;
    if (n.role === "read") {
      const ps = (n.projections || []).filter((p) => !/fail|stop|error/i.test(p.status || ""));
      if (ps.length) return ps.every((p) => p.position >= P);
      if (n.head != null) return n.head >= P;
      return n.source_head != null && n.lag_events != null && n.source_head - n.lag_events >= P;
    }
    return n.head != null && n.head >= P;
  }
  let rywPoll = null, rywTick = null;
  function startRyw(r, t0) {
    S.ryw = { pos: r.last_position, stream: r.stream, t0, got: new Map(), since: Date.now() };
    clearInterval(rywPoll); clearInterval(rywTick);
    // The node that answered has it at the acknowledgement.
    const prim = primary();
    if (prim) S.ryw.got.set(prim.node, Math.round(performance.now() - t0));
    // The others' heads now (/api/heads), every 100 ms while some node has
    // not got it, for 30 s: finer than the one view a second.
    let asking = false;
    const poll = () => {
      if (asking) return;
      asking = true;
      api("/api/heads").then((snap) => { if (S.ryw) { updateRyw(snap.nodes || []); if (S.tab === "insert") renderRyw(); } })
        .catch(() => {}).finally(() => { asking = false; });
    };
    poll();
    rywPoll = setInterval(() => {
      if (!S.ryw || S.ryw.done || Date.now() - S.ryw.since > 30000) { clearInterval(rywPoll); return; }
      poll();
    }, 100);
    rywTick = setInterval(() => { if (!S.ryw || S.ryw.done) clearInterval(rywTick); else if (S.tab === "insert") renderRyw(); }, 500);
    updateRyw();
  }
  function updateRyw(fresh) {
    const R = S.ryw;
    const now = performance.now();
    for (const n of fresh || S.nodes) if (!R.got.has(n.node) && nodeHas(n, R.pos)) R.got.set(n.node, Math.round(now - R.t0));
    R.done = S.nodes.length > 0 && S.nodes.every((n) => R.got.has(n.node));
  }
  function renderRyw() {
    const box = $("#ryw");
    const R = S.ryw;
    if (!R) return;
    const elapsed = (performance.now() - R.t0) / 1000;
    const rows = S.nodes.map((n) => {
      const ms = R.got.get(n.node);
      const has = ms != null;
      const where = n.role === "read" && (n.projections || []).length
        ? n.projections.map((p) => `${p.name} @${p.position}`).join(", ")
        : "head " + num(n.head ?? (n.source_head != null && n.lag_events != null ? n.source_head - n.lag_events : null));
      return h("tr" + (isDown(n) ? ".down" : ""), { dataset: { node: n.node, has: has ? "yes" : "no" } },
        h("td", { title: n.node }, h("span.trunc.mono", {}, n.node), h("span.sub", {}, where)),
        td(n.role || "?"),
        h("td", {}, badge(has ? "yes" : isDown(n) ? n.state : "not yet", has ? "ok" : isDown(n) ? "bad" : "warn")),
        td(has ? ms + " ms" : isDown(n) ? "—" : `waiting ${elapsed.toFixed(1)} s`, "num", { dataset: { field: "ms" } }));
    });
    box.dataset.state = R.done ? "done" : "waiting";
    box.dataset.position = R.pos;
    box.replaceChildren(
      h("p", {}, `Position ${R.pos} (${R.stream}): `, R.done ? `every node has it (${Math.max(...R.got.values())} ms).` : `${R.got.size} of ${S.nodes.length} nodes have it.`),
      h("table.grid", {},
        h("caption.sr-only", {}, "Which node has the appended event, and how long after the append it got there"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Node"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Has it"), h("th", { scope: "col", class: "num" }, "After"))),
        h("tbody", {}, rows)));
  }

  // ---- streams ----
  const streamsState = { loaded: false, last: null };
  async function loadStreams(more) {
    try {
      const q = "/api/streams?limit=200" + (more && streamsState.last ? "&after=" + enc(streamsState.last) : "");
      const r = await api(q);
      const body = $("#streams-list tbody");
      if (!more) body.replaceChildren();
      for (const st of r.streams) {
        body.append(h("tr", { dataset: { stream: st.stream } },
          h("td", {}, h("a.trunc", { href: "#/streams/" + enc(st.stream), title: st.stream }, st.stream)),
          td(num(st.last_version), "num"), td(num(st.last_position), "num")));
        streamsState.last = st.stream;
      }
      if (!body.children.length) body.append(h("tr.empty", {}, h("td", { colspan: 3 }, "No streams yet.")));
      $("#streams-more").hidden = !r.more;
      streamsState.loaded = true;
      markSelectedStream();
    } catch (e) { fail("Streams")(e); }
  }
  function markSelectedStream() {
    for (const tr of $$("#streams-list tbody tr")) tr.classList.toggle("selected", !!S.stream && tr.dataset.stream === S.stream.name);
  }
  function enterStreams(name) {
    loadStreams(false);
    if (name) loadStream(name, null, "backward");
    else if (!name) { S.stream = null; $("#tab-streams").setAttribute("href", "#/streams"); renderStreamEmpty("Pick a stream."); }
  }
  function renderStreamEmpty(msg) {
    $("#stream-name").textContent = S.stream ? S.stream.name : "";
    $("#stream-pager").hidden = true;
    $("#stream-events tbody").replaceChildren(h("tr.empty", {}, h("td", { colspan: 5 }, msg)));
  }
  async function loadStream(name, from, direction) {
    S.stream = { name, loading: true };
    $("#tab-streams").setAttribute("href", "#/streams/" + enc(name));  // the tab comes back to it
    markSelectedStream();
    const q = `/api/streams/${enc(name)}?direction=${direction}&limit=20` + (from != null ? "&from=" + from : "");
    try {
      const r = await api(q);
      const evs = r.events.slice().sort((a, b) => b.version - a.version);
      const atEnd = (direction === "backward" && from == null) || (direction === "forward" && r.next == null);
      S.stream = { name, from, direction, evs, atEnd, min: evs.length ? evs[evs.length - 1].version : null, max: evs.length ? evs[0].version : null };
      $("#stream-name").textContent = name;
      $("#stream-name").title = name;
      const pager = $("#stream-pager");
      pager.hidden = false;
      $("[data-page=older]", pager).disabled = !evs.length || S.stream.min === 0;
      $("[data-page=oldest]", pager).disabled = !evs.length || S.stream.min === 0;
      $("[data-page=newer]", pager).disabled = atEnd;
      $("[data-page=newest]", pager).disabled = atEnd;
      $("#stream-range").textContent = evs.length ? `versions ${S.stream.min}–${S.stream.max}` : "no events here";
      $("#stream-events tbody").replaceChildren(...(evs.length ? evs.map((e) => eventRow(e)) : [h("tr.empty", {}, h("td", { colspan: 5 }, "No events in this range."))]));
    } catch (e) {
      renderStreamEmpty(e.status === 404 ? `Stream ${name} has no events.` : e.status === 410 ? `Stream ${name} was deleted.` : "Could not read it: " + e.message);
    }
  }
  // a row of events: in the stream view (no stream column) and in the log
  function eventRow(e, inLog, fresh) {
    const data = compact(e.data);
    return h("tr" + (fresh ? ".new" : ""), { dataset: { position: e.position, version: e.version, stream: e.stream } },
      h("td.num", {}, h("button.linkbtn", { type: "button", "aria-label": `Show event ${e.position}`, onclick: () => openEvent(e.position) }, String(e.position))),
      inLog ? h("td", {}, h("a.trunc", { href: "#/streams/" + enc(e.stream), title: e.stream }, e.stream)) : "",
      td(num(e.version), "num"), td(e.type, "trunc", { title: e.type }),
      h("td", {}, h("time", { datetime: e.time, title: e.time }, fmtTime(e.time))),
      td(data, "json", { title: clip(data) }));
  }
  function pageStream(which) {
    const st = S.stream;
    if (!st || !st.name) return;
    if (which === "newest") loadStream(st.name, null, "backward");
    else if (which === "oldest") loadStream(st.name, 0, "forward");
    else if (which === "older" && st.min > 0) loadStream(st.name, st.min - 1, "backward");
    else if (which === "newer" && st.max != null) loadStream(st.name, st.max + 1, "forward");
  }

  // ---- the event dialog ----
  async function openEvent(pos) {
    const dlg = $("#event-dialog");
    if (!(pos >= 0)) return;
    $("#event-title").textContent = "Event " + pos;
    const box = $("#event-detail");
    box.replaceChildren(h("p.muted", {}, "Loading…"));
    if (!dlg.open) dlg.showModal();
    try {
      const e = await api("/api/events/" + pos);
      const kv = [["Position", e.position], ["Stream", h("a", { href: "#/streams/" + enc(e.stream), onclick: () => dlg.close() }, e.stream)], ["Version", e.version],
        ["Type", e.type], ["Time", e.time], ["Id", h("span.mono", {}, e.id || "—")]];
      box.replaceChildren(
        h("dl.kv", {}, kv.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
        h("h3", {}, "Data"), h("pre.block", { tabindex: "0", "aria-label": "Data" }, JSON.stringify(e.data, null, 2)),
        e.metadata !== undefined ? [h("h3", {}, "Metadata"), h("pre.block", { tabindex: "0", "aria-label": "Metadata" }, JSON.stringify(e.metadata, null, 2))] : "");
    } catch (e) {
      box.replaceChildren(h("p.result.err", { role: "alert" }, e.status === 404 ? `No event at position ${pos}.` : e.message));
    }
  }

  // ---- the log: live tail, newest on top, at most 500 rows ----
  const MAX_ROWS = 500;
  function addTail(events, how) {
    const T = S.tail;
    const body = $("#live-tail tbody");
    for (const e of events) {
      if (how === "live" || how === "poll") T.scanned = Math.max(T.scanned, e.position);
      if (T.rows.has(e.position)) continue;
      if (T.paused && how !== "older") { T.pending++; continue; }
      const row = eventRow(e, true, how !== "older" && how !== "backfill");
      // newest first: find the first row with a smaller position
      let before = null;
      if (how !== "older") for (const tr of body.children) { if (Number(tr.dataset.position) < e.position) { before = tr; break; } }
      body.insertBefore(row, before);
      T.rows.set(e.position, row);
    }
    if (T.rows.size > MAX_ROWS) {
      const trs = Array.from(body.children);
      // live rows push the oldest out; paging older pushes the newest out (and pauses the tail)
      const drop = how === "older" ? trs.slice(0, T.rows.size - MAX_ROWS) : trs.slice(MAX_ROWS);
      for (const tr of drop) { T.rows.delete(Number(tr.dataset.position)); tr.remove(); }
      if (how === "older" && !T.paused) setPaused(true);
    }
    const empty = $("tr.empty", body);
    if (T.rows.size && empty) empty.remove();
    if (!T.rows.size && !empty) body.append(h("tr.empty", {}, h("td", { colspan: 6 }, "No events match.")));
    tailState();
  }
  function tailState() {
    const T = S.tail;
    const f = Object.entries(T.filter).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ");
    $("#log-state").textContent = `${T.rows.size} rows${f ? " matching " + f : ""}` +
      (T.paused ? ` · paused${T.pending ? `, ${T.pending} newer events not shown` : ""}: Resume shows the newest` : " · newest first, updating") + ` (at most ${MAX_ROWS} kept)`;
  }
  function setPaused(p) {
    const T = S.tail;
    T.paused = p;
    $("#log-pause").setAttribute("aria-pressed", String(p));
    $("#log-pause").textContent = p ? "Resume" : "Pause";
    if (!p) { T.pending = 0; resetTail(); catchUpTail(); }
    tailState();
  }
  function logQuery(extra) {
    const q = new URLSearchParams(extra);
    for (const [k, v] of Object.entries(S.tail.filter)) if (v) q.set(k, v);
    return "/api/log?" + q.toString();
  }
  function resetTail() {
    S.tail.rows.clear(); S.tail.scanned = 0;
    $("#live-tail tbody").replaceChildren();
  }
  // the newest rows (first time), or what came while the live view was away
  async function catchUpTail() {
    try {
      if (!S.tail.scanned) {
        const r = await api(logQuery({ direction: "backward", limit: 100 }));
        S.tail.scanned = Math.max(S.tail.scanned, r.head || 0);
        addTail(r.events, "backfill");
      } else await pollTail();
    } catch (e) { fail("Log")(e); }
  }
  async function pollTail() {
    if (!S.tail.scanned) return catchUpTail();
    for (let i = 0; i < 5; i++) {
      const r = await api(logQuery({ from: S.tail.scanned + 1, direction: "forward", limit: 200 }));
      addTail(r.events, "poll");
      if (r.next == null) { S.tail.scanned = Math.max(S.tail.scanned, r.head || 0); break; }
      S.tail.scanned = Math.max(S.tail.scanned, r.next - 1);
    }
  }
  async function olderTail() {
    const positions = [...S.tail.rows.keys()];
    const oldest = positions.length ? Math.min(...positions) : (S.tail.scanned || 0) + 1;
    if (oldest <= 1) { $("#log-state").textContent = "That is the start of the log."; return; }
    try {
      const r = await api(logQuery({ from: oldest - 1, direction: "backward", limit: 50 }));
      addTail(r.events, "older");
      if (!r.events.length || r.next == null) $("#log-older").disabled = true;
    } catch (e) { fail("Log")(e); }
  }
  function applyFilter(ev) {
    if (ev) ev.preventDefault();
    S.tail.filter = { stream: $("#log-stream").value.trim(), category: $("#log-category").value.trim(), type: $("#log-type").value.trim() };
    $("#log-older").disabled = false;
    resetTail();
    startLive();  // reconnect with the filter query (falls back to polling the log with it)
    catchUpTail();
  }
  function enterLog() { tailState(); }

  // ---- projections ----
  let projTimer = null, projDebounce = null, projAbort = null;
  function enterProjections(name) {
    loadProjections();
    clearInterval(projTimer);
    projTimer = setInterval(() => { if (S.tab === "projections") loadProjections(); else clearInterval(projTimer); }, 5000);
    if (name) { if (!S.proj || S.proj.id !== name) openProjection(name); } else { S.proj = null; $("#proj-detail").hidden = true; }
  }
  async function loadProjections() {
    try {
      const r = await api("/api/projections");
      S.projections = r.projections || [];
      const rows = S.projections.map((p) => h("tr" + (S.proj && S.proj.id === projId(p) ? ".selected" : ""), { dataset: { projection: p.name, node: p.node || "" } },
        h("td", {}, h("a.trunc", { href: "#/projections/" + enc(projId(p)), title: p.name }, p.name)),
        td(p.node ? p.node + (p.local ? " (this node)" : "") : "—", "mono.trunc", { title: p.node || "" }),
        h("td", {}, badge(p.status || "?")),
        td(num(p.position), "num"), td(num(p.head), "num"), td(num(p.lag), "num"),
        td(p.error ? p.error + (p.error_position != null ? ` (at position ${p.error_position})` : "") : "—", p.error ? "" : "muted")));
      $("#projections-table tbody").replaceChildren(...(rows.length ? rows : [h("tr.empty", {}, h("td", { colspan: 7 }, "No projections in this cluster."))]));
      if (S.proj) {
        const p = S.projections.find((x) => projId(x) === S.proj.id);
        if (p) setSliderMax(p.head ?? p.position);
      }
    } catch (e) { fail("Projections")(e); }
  }
  function setSliderMax(head) {
    const sl = $("#proj-at");
    const atMax = S.proj.at == null;
    sl.max = String(head || 0);
    if (atMax) sl.value = sl.max;
  }
  // A projection's id in the address: NAME for this node's, NAME@NODE for another node's.
  function projId(p) { return p.local === false ? p.name + "@" + p.node : p.name; }
  function openProjection(id) {
    const at = id.indexOf("@");
    const name = at < 0 ? id : id.slice(0, at), node = at < 0 ? null : id.slice(at + 1);
    S.proj = { id, name, node, at: null };
    $("#tab-projections").setAttribute("href", "#/projections/" + enc(id));
    $("#proj-detail").hidden = false;
    $("#proj-name").textContent = node ? `${name} on ${node}` : name;
    const p = (S.projections || []).find((x) => projId(x) === id);
    setSliderMax(p ? p.head ?? p.position : S.status ? S.status.head : 0);
    $("#proj-at-out").textContent = "current";
    loadStates();
  }
  async function loadStates() {
    if (!S.proj) return;
    if (projAbort) projAbort.abort();
    projAbort = new AbortController();
    const key = $("#proj-key").value.trim();
    const q = new URLSearchParams();
    if (S.proj.at != null) q.set("at", S.proj.at);
    if (S.proj.node) q.set("node", S.proj.node);
    if (key) q.set("key", key);
    $("#proj-info").textContent = "Loading…";
    try {
      const r = await api(`/api/projections/${enc(S.proj.name)}/states${q.toString() ? "?" + q : ""}`, { signal: projAbort.signal });
      const rows = (r.states || []).map((st) => h("tr", { dataset: { key: st.key } }, td(st.key, "trunc", { title: st.key }), h("td", {}, h("pre", {}, JSON.stringify(st.state, null, 2)))));
      $("#proj-states tbody").replaceChildren(...(rows.length ? rows : [h("tr.empty", {}, h("td", { colspan: 2 }, "No states at this position."))]));
      $("#proj-info").textContent = `${rows.length} keys as of position ${num(r.position)}.${S.proj.at == null ? " The current states." : ""}${r.more ? " More keys than shown." : ""}`;
    } catch (e) {
      if (e.name === "AbortError") return;
      $("#proj-info").textContent = "";
      $("#proj-states tbody").replaceChildren(h("tr.empty", {}, h("td", { colspan: 2 }, "Could not read the states: " + e.message)));
    }
  }

  // ---- wiring ----
  function setToken(t) {
    token = t;
    try { if (t) sessionStorage.setItem("esd.token", t); else sessionStorage.removeItem("esd.token"); } catch (e) { /* memory only */ }
    $("#token-state").textContent = t ? "token set" : "no token";
    $("#token-input").value = "";
    $("#token-input").placeholder = t ? "•••••• (set)" : "DATA/http.token";
    $("#token-input").removeAttribute("aria-invalid");
  }
  function init() {
    setToken(token);
    $("#token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      setToken($("#token-input").value.trim());
      announce(token ? "Admin token set for this tab." : "Admin token cleared.");
      if (!loopback) startLive();
    });
    $("#insert-form").addEventListener("submit", submitInsert);
    $("#insert-data").addEventListener("input", () => { clearTimeout(dataTimer); dataTimer = setTimeout(checkData, 250); });
    $("#insert-format").addEventListener("click", () => { const d = checkData(); if (d.ok) $("#insert-data").value = JSON.stringify(d.value, null, 2); });
    $("#insert-expected").addEventListener("change", () => { $("#insert-expected-number-wrap").hidden = $("#insert-expected").value !== "number"; });
    $("#streams-more").addEventListener("click", () => loadStreams(true));
    $("#stream-pager").addEventListener("click", (e) => { const b = e.target.closest("[data-page]"); if (b) pageStream(b.dataset.page); });
    $("#log-filter").addEventListener("submit", applyFilter);
    $("#log-clear").addEventListener("click", () => { for (const id of ["#log-stream", "#log-category", "#log-type"]) $(id).value = ""; applyFilter(); });
    $("#log-pause").addEventListener("click", () => setPaused(!S.tail.paused));
    $("#log-older").addEventListener("click", olderTail);
    $("#proj-at").addEventListener("input", () => {
      const sl = $("#proj-at");
      S.proj.at = Number(sl.value);
      $("#proj-at-out").textContent = sl.value;
      clearTimeout(projDebounce);
      projDebounce = setTimeout(loadStates, 300);
    });
    $("#proj-key").addEventListener("input", () => { clearTimeout(projDebounce); projDebounce = setTimeout(loadStates, 400); });
    $("#proj-current").addEventListener("click", () => { S.proj.at = null; $("#proj-at").value = $("#proj-at").max; $("#proj-at-out").textContent = "current"; loadStates(); });
    $("#event-close").addEventListener("click", () => $("#event-dialog").close());
    $("#event-dialog").addEventListener("click", (e) => { if (e.target === e.currentTarget) e.currentTarget.close(); });
    window.addEventListener("hashchange", route);
    route();
    api("/api/status").then(onStatus).catch(fail("Status"));
    api("/api/nodes").then(onNodes).catch(() => {});
    startLive();
    setInterval(() => { if (S.tab === "cluster" && S.history.length) renderChart(); }, 5000);
  }
  init();
})();
