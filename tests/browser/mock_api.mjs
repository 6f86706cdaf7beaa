// tests/browser/mock_api.mjs: a small stand-in for esd's dashboard API
// (/work/notes/dashboard-api.md), with in-memory data, for developing
// daemon/web without a cluster and for running dashboard.mjs against it.
//
//   node mock_api.mjs [PORT]        (default 8099; 0 picks a free port)
//
// It serves daemon/web/index.html at /, /app.js and /app.css, and the API
// under /api. It simulates three nodes: a primary (tcp://127.0.0.1:7150),
// a replica (tcp://127.0.0.1:7152) that follows 0.3 s behind, and a read
// node (tcp://127.0.0.1:7154) hosting two projections. POST /api/stop stops
// a node; POST /mock/restart (body {"node":...} optional, default: every
// stopped node) brings it back, connecting for a second and then catching up.
//
// Environment: MOCK_TOKEN (the admin token, default "mock-token"),
// MOCK_TRAFFIC=N (append N background events a second, default 0),
// MOCK_LIVE_CAP (SSE connections at once before 503 busy, default 4; 0:
// always busy, to see the page fall back to polling).
// It prints "mock listening on http://127.0.0.1:PORT/" once it listens.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '../../daemon/web');
const TOKEN = process.env.MOCK_TOKEN || 'mock-token';
const TRAFFIC = Number(process.env.MOCK_TRAFFIC || 0);
const LIVE_CAP = Number(process.env.MOCK_LIVE_CAP ?? 4);
const started = Date.now();

// ---- the log ----
const log = [];                 // log[i].position === i + 1
const commitTimes = [];         // when each was appended (ms)
const liveClients = new Set();  // open /api/live streams
const streams = new Map();      // name -> {last_version, last_position}
const nowIso = () => {
  const d = new Date();
  return d.toISOString().replace(/\.(\d{3})Z$/, (_, ms) => `.${ms}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}Z`);
};
const head = () => log.length;
const category = (s) => { const i = s.indexOf('-'); return i < 0 ? s : s.slice(0, i); };

function appendEvents(stream, items) {
  const st = streams.get(stream) || { last_version: -1, last_position: 0 };
  const first_version = st.last_version + 1;
  const first_position = head() + 1;
  for (const it of items) {
    const ev = { position: head() + 1, stream, version: st.last_version + 1, id: crypto.randomUUID(), type: it.type, time: nowIso(), data: it.data };
    if (it.metadata) ev.metadata = it.metadata;
    log.push(ev);
    st.last_version = ev.version;
    st.last_position = ev.position;
    commitTimes.push(Date.now());
    for (const s of liveClients) if (matches(ev, s.filter)) sse(s.res, 'event', ev);
  }
  streams.set(stream, st);
  return { stream, count: items.length, first_version, last_version: st.last_version, first_position, last_position: st.last_position };
}

// seed: users, orders, a long stream name, some ticks
const products = ['apple', 'pear', 'plum'];
for (let i = 1; i <= 6; i++) appendEvents(`user-${i}`, [{ type: 'UserRegistered', data: { name: `user ${i}`, email: `u${i}@example.com` } }]);
for (let i = 1; i <= 12; i++) {
  const p = products[i % 3];
  appendEvents(`order-${i}`, [{ type: 'OrderPlaced', data: { product: p, quantity: i % 4 + 1, unit_price: 0.5 + (i % 3) * 0.25 }, metadata: { user: `user-${i % 6 + 1}` } }]);
  if (i % 2 === 0) appendEvents(`order-${i}`, [{ type: 'OrderPaid', data: {} }]);
}
appendEvents('ticks', Array.from({ length: 45 }, (_, i) => ({ type: 'Tick', data: { n: i + 1 } })));
appendEvents('tenant-acme-corporation-eu-west-1-billing-reconciliation-batch-2026-11-22T23:59:59Z-very-long-stream-name', [{ type: 'Reconciled', data: { note: 'a stream name long enough to need truncating in any table of the dashboard' } }]);

// ---- projections (on the read node) ----
const projDefs = [
  { name: 'totals', from: (e) => e.type === 'OrderPlaced', key: (e) => e.data.product, init: () => ({ quantity: 0, total: 0 }),
    step: (s, e) => ({ quantity: s.quantity + e.data.quantity, total: Math.round((s.total + e.data.quantity * e.data.unit_price) * 100) / 100 }) },
  { name: 'builtin:by-category', from: () => true, key: (e) => category(e.stream), init: () => ({ events: 0, last_position: 0 }),
    step: (s, e) => ({ events: s.events + 1, last_position: e.position }) },
];
function statesAt(def, at, key) {
  const m = new Map();
  for (let i = 0; i < Math.min(at, head()); i++) {
    const e = log[i];
    if (!def.from(e)) continue;
    const k = def.key(e);
    m.set(k, def.step(m.has(k) ? m.get(k) : def.init(), e));
  }
  let out = [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, state]) => ({ key: k, state }));
  if (key != null) out = out.filter((s) => s.key === key);
  return out;
}

// ---- nodes ----
const mkNode = (port, role, delay) => ({ node: `tcp://127.0.0.1:${port}`, role, delay, head: 0, state: role === 'primary' ? 'up' : 'following', stoppedAt: null, restartAt: null,
  data: `/var/lib/esd-mock/${role}`, listen: `tcp://127.0.0.1:${port}`, publish: `tcp://127.0.0.1:${port + 1}`, projPos: 0 });
const nodes = [mkNode(7150, 'primary', 0), mkNode(7152, 'replica', 300), mkNode(7154, 'read', 600)];
for (const n of nodes) { n.head = head(); n.projPos = head(); }
const restartText = (n) => `esd --data ${n.data} --listen ${n.listen}` +
  (n.role === 'primary' ? '' : n.role === 'replica' ? ' --role replica --follow tcp://127.0.0.1:7150' : ' --project-from tcp://127.0.0.1:7150') +
  ` (systemd: systemctl start esd@${n.role}; here: curl -s -X POST http://127.0.0.1:${port}/mock/restart)`;

function tick() {
  const now = Date.now();
  const P = nodes[0];
  P.head = head();
  for (const n of nodes.slice(1)) {
    if (n.state === 'stopped') continue;
    if (n.state === 'connecting') { if (now >= n.restartAt) n.state = 'following'; else continue; }
    // follow: has every event committed at least `delay` ms ago (a restarted node catches up 200 events per tick)
    let h = n.head;
    while (h < P.head && commitTimes[h] <= now - n.delay && h - n.head < 200) h++;
    n.head = h;
    if (n.role === 'read') n.projPos = n.head;
  }
}
setInterval(tick, 50);

function digestAt(pos) {
  const h = crypto.createHash('md5');
  for (let i = 0; i < pos; i++) h.update(log[i].id);
  return h.digest('hex');
}
// Shaped as esd's /api/nodes (lib/view/cluster.cc node_line): a node that is
// down has only node, state, role, error (and restart, from the dashboard);
// a read node has no head but its source's fields.
function nodesSnapshot() {
  tick();
  const now = Date.now();
  const P = nodes[0];
  const withLog = nodes.filter((n) => n.state !== 'stopped' && n.role !== 'read');
  const common = Math.min(...withLog.map((n) => n.head));
  const out = nodes.map((n) => {
    const o = { node: n.node, state: n.role === 'primary' ? 'up' : n.state, role: n.role };
    if (n.state === 'stopped') {
      return { ...o, error: `stopped (it told ${P.node} so)`, restart: restartText(n) };
    }
    const tHead = n.head > 0 ? commitTimes[n.head - 1] : started;
    const tPrim = P.head > 0 ? commitTimes[P.head - 1] : started;
    const contact = Math.round(Math.random() * 900) / 1000;
    if (n.role === 'read') {
      Object.assign(o, { state: n.state === 'following' ? 'connected' : n.state, source: P.node, source_state: 'connected',
        source_since: new Date(started).toISOString(), source_head: P.head, source_contact_s: contact, lag_events: P.head - n.head });
    } else {
      o.head = n.head;
    }
    if (n.role === 'replica') {
      Object.assign(o, { primary: P.node, lag_events: P.head - n.head,
        lag_s: n.state === 'connecting' ? null : Math.round(Math.max(0, tPrim - tHead)) / 1000, primary_contact_s: contact });
    }
    if (n.role !== 'read') o.digest_at = { position: common, digest: digestAt(common) };
    o.projections = n.role === 'read'
      ? projDefs.map((d) => ({ name: d.name, status: 'running', position: n.projPos, lag: P.head - n.projPos }))
      : [];
    return { ...o, data: n.data, listen: n.listen, publish: n.publish };
  });
  return { nodes: out, time_us: now * 1000 };
}
function statusObj() {
  const P = nodes[0];
  return { role: 'primary', version: '0.1.0-mock', head: head(), head_time_us: (commitTimes[head() - 1] || started) * 1000,
    streams: streams.size, store_bytes: 1048576 + head() * 512, map_bytes: 1 << 30, uptime_s: Math.round((Date.now() - started) / 100) / 10,
    clients: liveClients.size, subscribers: 0, appends: head(), conflicts: conflicts, data: P.data, listen: P.listen, publish: P.publish, durability: 'sync',
    replicas: nodes.slice(1).filter((n) => n.role === 'replica').map((n) => ({ listen: n.listen, role: n.role, head: n.head, seen_s: 0.2, stopping: false })) };
}
let conflicts = 0;

// ---- HTTP ----
function sse(res, event, obj) { res.write(`event: ${event}\ndata: ${JSON.stringify(obj)}\n\n`); }
function matches(ev, f) {
  return (!f.stream || ev.stream === f.stream) && (!f.category || category(ev.stream) === f.category) && (!f.type || ev.type === f.type);
}
function send(res, code, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(body);
}
const err = (res, code, c, msg, extra = {}) => send(res, code, { error: msg, code: c, ...extra });
const int = (v, d) => (v == null || v === '' ? d : Number.isInteger(Number(v)) ? Number(v) : NaN);

function readBody(req) {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (c) => { b += c; if (b.length > 1 << 20) req.destroy(); });
    req.on('end', () => resolve(b));
  });
}

const statics = { '/': ['index.html', 'text/html; charset=utf-8'], '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'], '/app.css': ['app.css', 'text/css; charset=utf-8'] };

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  const q = url.searchParams;
  if (req.method === 'GET' && statics[p]) {
    const [file, type] = statics[p];
    try {
      const body = fs.readFileSync(path.join(webDir, file));
      // the headers esd sends with the page (daemon/dashboard.cc)
      res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" });
      return res.end(body);
    } catch (e) { return err(res, 404, 'not_found', `no ${file} in ${webDir}`); }
  }
  if (req.method === 'POST') {
    const body = await readBody(req);
    if (p === '/mock/restart') {
      let which = null;
      try { which = body ? JSON.parse(body).node : null; } catch { /* all */ }
      const back = nodes.filter((n) => n.state === 'stopped' && (!which || n.node === which));
      for (const n of back) { n.state = 'connecting'; n.restartAt = Date.now() + 1000; n.stoppedAt = null; }
      return send(res, 200, { restarted: back.map((n) => n.node) });
    }
    if (!p.startsWith('/api/')) return err(res, 404, 'not_found', `no ${p}`);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return err(res, 401, 'unauthorized', 'a POST needs the admin token: Authorization: Bearer TOKEN');
    let b;
    try { b = JSON.parse(body); } catch (e) { return err(res, 400, 'invalid', `the body is not JSON: ${e.message}`); }
    if (p === '/api/append') {
      if (typeof b.stream !== 'string' || !b.stream) return err(res, 400, 'invalid', 'missing field "stream"');
      if (typeof b.type !== 'string' || !b.type) return err(res, 400, 'invalid', 'missing field "type"');
      if (!('data' in b)) return err(res, 400, 'invalid', 'missing field "data"');
      const ev = b.expected_version ?? 'any';
      const st = streams.get(b.stream);
      const cur = st ? st.last_version : null;
      const bad = ev === 'any' ? false : ev === 'no_stream' ? cur !== null : ev === 'exists' ? cur === null
        : Number.isInteger(ev) ? cur !== ev : 'invalid';
      if (bad === 'invalid') return err(res, 400, 'invalid', 'field "expected_version": "any", "no_stream", "exists" or a version number');
      if (bad) {
        conflicts++;
        return err(res, 409, 'conflict', `stream ${b.stream}: expected ${typeof ev === 'number' ? `version ${ev}` : ev.replace('_', ' ')}, but it is ${cur === null ? 'not there' : `at version ${cur}`}`, { current_version: cur });
      }
      return send(res, 200, appendEvents(b.stream, [{ type: b.type, data: b.data, metadata: b.metadata }]));
    }
    if (p === '/api/stop') {
      const n = nodes.find((x) => x.node === b.node);
      if (!n) return err(res, 404, 'not_found', `no node ${b.node} in this cluster`);
      if (n.role === 'primary') return err(res, 400, 'invalid', 'the mock does not stop its primary (it serves this page)');
      if (n.state === 'stopped') return err(res, 409, 'unavailable', `${n.node} is already stopped`);
      n.state = 'stopped';
      n.stoppedAt = n.head;
      return send(res, 200, { node: n.node, stopped_at: n.head, restart: restartText(n) });
    }
    return err(res, 404, 'not_found', `no POST ${p}`);
  }
  if (req.method !== 'GET') return err(res, 405, 'invalid', `${req.method} is not allowed`);

  if (p === '/api/status') return send(res, 200, statusObj());
  if (p === '/api/nodes') return send(res, 200, nodesSnapshot());
  if (p === '/api/streams') {
    const limit = Math.min(int(q.get('limit'), 100), 1000);
    const after = q.get('after');
    const names = [...streams.keys()].sort().filter((n) => after == null || n > after);
    const page = names.slice(0, limit).map((n) => ({ stream: n, ...streams.get(n) }));
    return send(res, 200, { streams: page, more: names.length > limit });
  }
  let m;
  if ((m = p.match(/^\/api\/streams\/(.+)$/))) {
    const name = decodeURIComponent(m[1]);
    const st = streams.get(name);
    if (!st) return err(res, 404, 'not_found', `stream ${name} has no events`);
    const limit = Math.min(int(q.get('limit'), 20), 1000);
    const dir = q.get('direction') || 'forward';
    const evs = log.filter((e) => e.stream === name);
    let from = int(q.get('from'), dir === 'backward' ? st.last_version : 0);
    if (Number.isNaN(from) || Number.isNaN(limit) || limit < 1) return err(res, 400, 'invalid', 'from and limit are numbers');
    let out;
    let next;
    if (dir === 'backward') {
      from = Math.min(from, st.last_version);
      out = evs.filter((e) => e.version <= from).reverse().slice(0, limit);
      const low = out.length ? out[out.length - 1].version : from + 1;
      next = low > 0 ? low - 1 : null;
    } else {
      out = evs.filter((e) => e.version >= from).slice(0, limit);
      const hi = out.length ? out[out.length - 1].version : from - 1;
      next = hi < st.last_version ? hi + 1 : null;
    }
    return send(res, 200, { stream: name, events: out, next });
  }
  if (p === '/api/log') {
    const limit = Math.min(int(q.get('limit'), 20), 1000);
    const dir = q.get('direction') || 'forward';
    const f = { stream: q.get('stream'), category: q.get('category'), type: q.get('type') };
    let from = int(q.get('from'), dir === 'backward' ? head() : 1);
    if (Number.isNaN(from) || Number.isNaN(limit) || limit < 1) return err(res, 400, 'invalid', 'from and limit are numbers');
    const out = [];
    let pos = from;
    if (dir === 'backward') {
      for (pos = Math.min(from, head()); pos >= 1 && out.length < limit; pos--) if (matches(log[pos - 1], f)) out.push(log[pos - 1]);
      return send(res, 200, { events: out, next: pos >= 1 ? pos : null, head: head() });
    }
    for (pos = Math.max(from, 1); pos <= head() && out.length < limit; pos++) if (matches(log[pos - 1], f)) out.push(log[pos - 1]);
    return send(res, 200, { events: out, next: pos <= head() ? pos : null, head: head() });
  }
  if ((m = p.match(/^\/api\/events\/(\d+)$/))) {
    const pos = Number(m[1]);
    if (pos < 1 || pos > head()) return err(res, 404, 'not_found', `no event at position ${pos}`);
    return send(res, 200, log[pos - 1]);
  }
  if (p === '/api/projections') {
    const X = nodes[2];
    return send(res, 200, { projections: projDefs.map((d, i) => {
      const o = { name: d.name, status: X.state === 'stopped' ? 'stopped' : 'running', position: X.projPos, head: head(), lag: head() - X.projPos };
      return o;
    }).concat([{ name: 'broken', status: 'failed', position: 9, head: head(), lag: head() - 9, error: 'jq: error (at <stdin>:0): null (null) cannot be parsed as a number', error_position: 10 }]) });
  }
  if ((m = p.match(/^\/api\/projections\/([^/]+)\/states$/))) {
    const name = decodeURIComponent(m[1]);
    const d = projDefs.find((x) => x.name === name);
    if (!d) return err(res, 404, 'not_found', `no projection ${name}`);
    const at = int(q.get('at'), nodes[2].projPos);
    if (Number.isNaN(at) || at < 0) return err(res, 400, 'invalid', 'at is a position');
    return send(res, 200, { projection: name, position: Math.min(at, head()), states: statesAt(d, at, q.get('key')) });
  }
  if (p === '/api/live') {
    if (liveClients.size >= LIVE_CAP) return err(res, 503, 'busy', `at most ${LIVE_CAP} live connections at once`);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    const c = { res, filter: { stream: q.get('stream'), category: q.get('category'), type: q.get('type') } };
    liveClients.add(c);
    res.write(': live from head ' + head() + '\n\n');
    const once = () => { sse(res, 'nodes', nodesSnapshot()); sse(res, 'status', statusObj()); };
    once();
    const t = setInterval(once, 1000);
    req.on('close', () => { clearInterval(t); liveClients.delete(c); });
    return;
  }
  return err(res, 404, 'not_found', `no ${p}`);
}

if (TRAFFIC > 0) {
  let n = 0;
  setInterval(() => { n++; appendEvents(`load-${n % 7}`, [{ type: 'Load', data: { n } }]); }, 1000 / TRAFFIC);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => { try { err(res, 500, 'internal', String(e && e.stack || e)); } catch { /* gone */ } });
});
let port = Number(process.argv[2] ?? 8099);
server.listen(port, '127.0.0.1', () => {
  port = server.address().port;
  console.log(`mock listening on http://127.0.0.1:${port}/ (token ${TOKEN}; restart: curl -s -X POST http://127.0.0.1:${port}/mock/restart)`);
});
