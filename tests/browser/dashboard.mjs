// tests/browser/dashboard.mjs: esd's dashboard in a real browser (headless
// Chromium through playwright-core), with axe-core's accessibility checks.
//
//   DASH_URL=http://127.0.0.1:PORT/ DASH_TOKEN=... REPLICA=tcp://127.0.0.1:7152 \
//   RESTART_CMD='...' EXPECT_NODES=3 ARTIFACTS=/tmp/dash node dashboard.mjs
//
// DASH_URL     the dashboard (esd --http-listen), ending in /
// DASH_TOKEN   the admin token (DATA/http.token)
// REPLICA      the request endpoint of a replica the test stops and restarts
// RESTART_CMD  a shell command that starts that replica again (run detached, not waited for)
// EXPECT_NODES how many nodes the cluster view shows (default 3)
// ARTIFACTS    where the screenshots go (default ./artifacts)
// DASH_STREAM  the stream the test appends to (default dash-1; it must not exist yet)
// CHROMIUM     the browser (default /usr/bin/chromium)
//
// Prints "-- NN step" per step and "PASS dashboard: N screenshots in DIR"
// at the end; on a failure, the reason, a screenshot fail.png and exit 1.
// Everything is bounded: each wait has its timeout, the whole run 150 s.

import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const env = process.env;
const need = (k) => {
  if (!env[k]) { console.error(`dashboard.mjs: ${k} is not set (see the head of this file)`); process.exit(2); }
  return env[k];
};
const DASH_URL = need('DASH_URL');
const TOKEN = need('DASH_TOKEN');
const REPLICA = need('REPLICA');
const RESTART_CMD = need('RESTART_CMD');
const EXPECT_NODES = Number(env.EXPECT_NODES || 3);
const STREAM = env.DASH_STREAM || 'dash-1';
const ART = path.resolve(env.ARTIFACTS || 'artifacts');
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const W = 1280, H = 800;

fs.mkdirSync(ART, { recursive: true });
let browser = null, page = null, shots = 0, stepName = 'start';
const pageErrors = [];

async function failNow(msg) {
  console.error(`FAIL dashboard: step "${stepName}": ${msg}`);
  if (page) {
    try { await page.screenshot({ path: path.join(ART, 'fail.png'), timeout: 5000 }); console.error(`  screenshot: ${path.join(ART, 'fail.png')}`); } catch (e) { console.error(`  no screenshot: ${e.message}`); }
  }
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(1);
}
const globalTimer = setTimeout(() => failNow('the whole test took more than 150 s'), 150_000);

async function shot(name) {
  shots++;
  const file = path.join(ART, `${String(shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, timeout: 10_000 });
}
let stepNo = 0;
async function step(name, fn) {
  stepNo++;
  stepName = name;
  console.log(`-- ${String(stepNo).padStart(2, '0')} ${name}`);
  await fn();
}
// Waits until fn(arg) is truthy in the page; else fails saying what was awaited and what the element `diag` showed.
async function until(what, fn, arg, timeoutMs, diag) {
  try {
    return await (await page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 200 })).jsonValue();
  } catch (e) {
    let seen = '';
    if (diag) { try { seen = await page.evaluate(showText, diag); } catch (e2) { seen = `(could not read the page: ${e2.message})`; } }
    throw new Error(`no ${what} within ${timeoutMs / 1000} s${seen ? `; the page shows: ${seen}` : ''}`);
  }
}
// What the element `sel` shows, for a failure's message (until's last argument).
const text = (sel) => sel;
const showText = (sel) => { const e = document.querySelector(sel); return e ? e.innerText.replace(/\s+/g, ' ').trim().slice(0, 600) : `(no ${sel})`; };

async function tab(name) {
  await page.click(`nav a[data-tab="${name}"]`, { timeout: 5000 });
  await until(`${name} view`, (n) => { const v = document.querySelector(`[data-view="${n}"]`); return v && !v.hidden; }, name, 5000);
}
async function noHorizontalScroll(where) {
  const sw = await page.evaluate(() => document.documentElement.scrollWidth);
  if (sw > W) throw new Error(`${where}: the page scrolls horizontally (scrollWidth ${sw} > ${W})`);
}
async function axe(where) {
  if (!(await page.evaluate(() => !!window.axe))) {
    // Served from the page's own origin, so that its Content-Security-Policy (script-src 'self') lets it run.
    try { await page.addScriptTag({ url: '/__axe.min.js' }); } catch (e) { /* below */ }
    if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ path: AXE });
    if (!(await page.evaluate(() => !!window.axe))) throw new Error('could not load axe-core into the page');
  }
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\s+/g, ' ')}`) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of violations) {
    console.log(`   axe ${where}: ${v.impact} ${v.id}: ${v.help}`);
    for (const n of v.nodes) console.log(`     ${n}`);
  }
  if (bad.length) throw new Error(`axe on ${where}: ${bad.length} serious or critical violations: ${bad.map((v) => v.id).join(', ')}`);
  console.log(`   axe ${where}: no serious or critical violations (${violations.length} lesser)`);
}
// Fills the insert form and appends; returns the event's position.
async function insert(data, expected) {
  await page.fill('#insert-stream', STREAM);
  await page.fill('#insert-type', 'Clicked');
  await page.fill('#insert-data', JSON.stringify(data));
  await page.selectOption('#insert-expected', expected);
  const before = await page.evaluate(() => document.querySelector('#insert-result').dataset.position || '');
  await page.click('#insert-submit');
  const r = await until('append result', (b) => {
    const e = document.querySelector('#insert-result');
    if (e.dataset.state === 'error') return { error: e.innerText };
    return e.dataset.state === 'ok' && e.dataset.position !== b && { position: Number(e.dataset.position), text: e.innerText };
  }, before, 10_000, text('#insert-result'));
  if (r.error) throw new Error(`the append failed: ${r.error.replace(/\s+/g, ' ')}`);
  return r;
}
const nodeRow = (n) => `#nodes-table tr[data-node="${n}"]`;

async function main() {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'], timeout: 30_000 });
  const context = await browser.newContext({ viewport: { width: W, height: H } });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  await page.route('**/__axe.min.js', (route) => route.fulfill({ path: AXE, contentType: 'text/javascript' }));
  page.on('pageerror', (e) => { pageErrors.push(e.message); console.error(`   page error: ${e.message}`); });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`   console: ${m.text()}`); });
  page.on('dialog', async (d) => { console.log(`   dialog (${d.type()}): ${d.message().split('\n')[0]} -> accept`); await d.accept(); });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  });

  await step('open', async () => {
    await page.goto(DASH_URL + '#token=' + encodeURIComponent(TOKEN), { waitUntil: 'load', timeout: 15_000 });
    await until('live or polling connection', () => /live|polling/.test(document.querySelector('#conn')?.textContent || ''), null, 10_000, text('#conn'));
    await until('nodes in the page', () => document.querySelector('#here').textContent.includes('head'), null, 10_000, text('header'));
    const { hash, stored } = await page.evaluate(() => ({ hash: location.hash, stored: sessionStorage.getItem('esd.token') }));
    if (hash.includes('token') || (TOKEN && hash.includes(TOKEN))) throw new Error(`the token is still in the address bar: ${hash}`);
    if (stored !== TOKEN) throw new Error('the token was not kept in sessionStorage');
    await noHorizontalScroll('insert');
    await shot('open');
    await axe('insert');
  });

  let first;
  await step('insert', async () => {
    await tab('insert');
    // the page checks the JSON before sending it
    await page.fill('#insert-data', '{"n":');
    await until('JSON error next to the data field', () => /JSON/.test(document.querySelector('#insert-data-error').textContent), null, 3000);
    first = await insert({ n: 1 }, 'no_stream');
    if (!first.text.includes(`"last_position":${first.position}`)) throw new Error(`the result does not show the JSON line: ${first.text}`);
    console.log(`   appended at position ${first.position}`);
    await shot('insert');
  });

  await step('stream-and-tail', async () => {
    await tab('streams');
    const link = `#streams-list a[href="#/streams/${encodeURIComponent(STREAM)}"]`;
    try { await page.click(link, { timeout: 5000 }); } catch (e) { await page.evaluate((s) => { location.hash = '#/streams/' + encodeURIComponent(s); }, STREAM); }
    await until(`position ${first.position} in the stream view`, (p) => !!document.querySelector(`#stream-events tr[data-position="${p}"]`), first.position, 10_000, text('#stream-events'));
    await shot('stream');
    await page.click(`#stream-events tr[data-position="${first.position}"] button`);
    await until('the event in full', () => /"n": 1/.test(document.querySelector('#event-detail').innerText), null, 5000, text('#event-detail'));
    await shot('event');
    await axe('event dialog');
    await page.click('#event-close');
    await tab('log');
    await until(`position ${first.position} in the live tail`, (p) => !!document.querySelector(`#live-tail tr[data-position="${p}"]`), first.position, 10_000, text('#live-tail'));
    await noHorizontalScroll('log');
    await shot('log');
  });

  await step('read-your-writes', async () => {
    await tab('insert');
    await until('every node with the event (read your writes)', () => {
      const rows = [...document.querySelectorAll('#ryw tr[data-node]')];
      return rows.length > 0 && rows.every((r) => r.dataset.has === 'yes');
    }, null, 20_000, text('#ryw'));
    await shot('ryw');
    await tab('cluster');
    await until(`${EXPECT_NODES} nodes in the cluster view`, (n) => document.querySelectorAll('#nodes-table tbody tr[data-node]').length === n, EXPECT_NODES, 10_000, text('#nodes-table'));
    await until('digests that agree', () => {
      const v = [...document.querySelectorAll('#nodes-table [data-field="digest"]')].map((c) => c.dataset.value);
      return v.filter((x) => x === 'agrees').length >= Math.min(2, v.length) && v.every((x) => x === 'agrees' || x === '—');
    }, null, 10_000, text('#nodes-table'));
    await noHorizontalScroll('cluster');
    await shot('cluster');
  });

  await step('stop-replica', async () => {
    await tab('cluster');
    const stopBtn = `button[data-stop="${REPLICA}"]`;
    await until(`Stop button for ${REPLICA}`, (s) => !!document.querySelector(s), stopBtn, 10_000, text('#nodes-table'));
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/stop'), { timeout: 15_000 }),
      page.click(stopBtn),
    ]);
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok()) throw new Error(`POST /api/stop answered ${resp.status()}: ${JSON.stringify(body)}`);
    console.log(`   stopped at ${body.stopped_at}; restart: ${body.restart}`);
    await until('the restart text', (r) => document.querySelector('#stop-result').innerText.includes(r), body.restart || 'How it comes back', 5000, text('#stop-result'));
    await until(`${REPLICA} marked stopped`, (s) => /stopped|unreachable/.test(document.querySelector(s + ' [data-field="state"]')?.innerText || ''),
      nodeRow(REPLICA), 10_000, text(nodeRow(REPLICA)));
    await shot('stopped');
  });

  await step('insert-while-stopped', async () => {
    await tab('insert');
    let last;
    for (let i = 2; i <= 6; i++) last = await insert({ n: i }, 'any');
    console.log(`   appended up to position ${last.position}`);
    await until(`${REPLICA} without the event in read your writes`, (n) => document.querySelector(`#ryw tr[data-node="${n}"]`)?.dataset.has === 'no', REPLICA, 10_000, text('#ryw'));
    await shot('ryw-lagging');
    await tab('cluster');
    await until(`${REPLICA} lagging or stopped`, (s) => {
      const row = document.querySelector(s);
      if (!row) return false;
      const lag = Number(row.querySelector('[data-field="lag"]').dataset.value || 0);
      return lag > 0 || /stopped|unreachable/.test(row.querySelector('[data-field="state"]').innerText);
    }, nodeRow(REPLICA), 10_000, text(nodeRow(REPLICA)));
    await shot('cluster-lagging');
  });

  await step('restart-replica', async () => {
    console.log(`   running: ${RESTART_CMD}`);
    const child = spawn('bash', ['-c', RESTART_CMD], { detached: true, stdio: 'ignore' });
    child.on('error', (e) => console.error(`   RESTART_CMD: ${e.message}`));
    child.unref();
    await tab('cluster');
    await until(`${REPLICA} up again with lag 0 and a digest that agrees`, (s) => {
      const row = document.querySelector(s);
      if (!row) return false;
      const f = (k) => row.querySelector(`[data-field="${k}"]`);
      return !/stopped|unreachable/.test(f('state').innerText) && f('lag').dataset.value === '0' && f('digest').dataset.value === 'agrees';
    }, nodeRow(REPLICA), 30_000, text(nodeRow(REPLICA)));
    await shot('restarted');
    await tab('insert');
    await until('every node with the last event', () => [...document.querySelectorAll('#ryw tr[data-node]')].every((r) => r.dataset.has === 'yes'), null, 10_000, text('#ryw'));
    await shot('ryw-caught-up');
  });

  await step('accessibility', async () => {
    for (const name of ['streams', 'log', 'projections', 'cluster']) {
      await tab(name);
      if (name === 'projections') {
        await until('the projections table', () => document.querySelector('#projections-table tbody tr'), null, 5000);
        const link = await page.$('#projections-table a');
        if (link) {
          await link.click();
          await until('projection states', () => /keys|Could not/.test(document.querySelector('#proj-info').textContent + document.querySelector('#proj-states').innerText), null, 5000, text('#proj-detail'));
          // the slider: the states as they were at an earlier position
          await page.focus('#proj-at');
          for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
          const at = await page.$eval('#proj-at', (e) => e.value);
          await until(`states as of position ${at} (GET .../states?at=${at})`, (v) => document.querySelector('#proj-info').textContent.includes(`as of position ${v}.`), at, 5000, text('#proj-info'));
        }
      }
      await page.waitForTimeout(300);
      await noHorizontalScroll(name);
      await shot(`a11y-${name}`);
      await axe(name);
    }
    const csp = await page.evaluate(() => window.__csp.filter((v) => !v.includes('__axe')));
    if (csp.length) throw new Error(`Content-Security-Policy violations: ${csp.join('; ')}`);
    if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join('; ')}`);
  });

  clearTimeout(globalTimer);
  await browser.close();
  console.log(`PASS dashboard: ${shots} screenshots in ${ART}`);
}

main().catch((e) => failNow(e && e.message ? e.message : String(e)));
