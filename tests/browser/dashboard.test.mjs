// The dashboard in a real browser (Debian's chromium, headless, driven by
// playwright-core): a user registers, watches a price move live, buys, sees
// the order and the portfolio row turn green then red as the admin moves the
// price, cancels a resting order; the admin pauses and resumes the
// generator. No console errors. A failing step leaves a screenshot in
// $SCREENSHOTS (default target/browser-screenshots).
//
// Needs BROWSER_TEST_BIN (the binary) and CHROMIUM (default /usr/bin/chromium);
// scripts/browser-test sets both.

import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = process.env.BROWSER_TEST_BIN ?? path.join(ROOT, 'target/debug/marketsim');
const SHOTS = process.env.SCREENSHOTS ?? path.join(ROOT, 'target/browser-screenshots');
const ADMIN = 'browser-admin-key-0123';

let server;
let base;
let browser;
let page;
const problems = [];

/** Start `marketsim serve` on a free port; resolve with its base URL. */
function serve() {
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--scenario', path.join(ROOT, 'simulations/scenarios/live.toml')], {
    // Only these settings: a stray MARKETSIM_* variable would be refused as unknown.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MARKETSIM_'))), MARKETSIM_ADMIN_KEY: ADMIN, MARKETSIM_TICK_INTERVAL_MS: '150', MARKETSIM_LOG: 'warn,marketsim=info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serve did not start within 30 s')), 30000);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    createInterface({ input: child.stderr }).on('line', (line) => {
      const m = /serving on (http:\/\/\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve([child, m[1]]); }
    });
  });
}

before(async () => {
  [server, base] = await serve();
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The one refusal the test provokes on purpose is a 422 the page shows in words.
    if (m.type() === 'error' && !/status of 422/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${base}/`);
});

/** A test that leaves a screenshot of the page when it fails. */
function test(name, fn) {
  nodeTest(name, async () => {
    try {
      await fn();
    } catch (e) {
      if (page) {
        mkdirSync(SHOTS, { recursive: true });
        const file = path.join(SHOTS, `${name.replace(/\W+/g, '-')}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`screenshot: ${file}`);
      }
      throw e;
    }
  });
}

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
});

/** The text of `selector`, trimmed. */
const text = async (selector) => (await page.locator(selector).first().textContent()).trim();

/** Set ACME's price through the admin API (what an operator's replay does). */
async function setPrice(price) {
  const r = await fetch(`${base}/v1/admin/stocks/ACME/price`, {
    method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ price }),
  });
  assert.equal(r.status, 200, await r.text());
}

test('the page and its assets come from the binary, with a strict content policy', async () => {
  const r = await fetch(`${base}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
  const js = await fetch(`${base}/assets/lightweight-charts.js`);
  assert.equal(js.status, 200);
  const missing = await fetch(`${base}/assets/nope.js`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).status, 404);
});

test('register from the page and go live', async () => {
  await page.getByLabel('New user name').fill('alice');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.locator('#who-name', { hasText: 'alice' }).waitFor();
  assert.match(await text('#notice'), /Your API key/);
  await page.locator('#live', { hasText: 'live' }).waitFor();
  // The key stays in this tab's session storage, never in the URL.
  const stored = await page.evaluate(() => sessionStorage.getItem('marketsim.key'));
  assert.ok(stored && stored.length > 16);
  assert.ok(!page.url().includes(stored));
});

test('the market table shows a price change live', async () => {
  await page.goto(`${base}/#market`);
  const cell = page.locator('#stocks tr[data-symbol="ACME"] td.last');
  await cell.waitFor();
  const first = (await cell.textContent()).trim();
  await page.waitForFunction((p) => {
    const c = document.querySelector('#stocks tr[data-symbol="ACME"] td.last');
    return c && c.textContent.trim() !== p;
  }, first, { timeout: 15000 });
  // Sorting by change puts the rows in change order.
  await page.getByRole('button', { name: 'Change %' }).click();
  await page.locator('th[aria-sort="descending"]', { hasText: 'Change %' }).waitFor();
  // Searching narrows the table.
  await page.getByLabel('Search symbols').fill('ACM');
  await page.waitForFunction(() => document.querySelectorAll('#stocks tbody tr').length === 1);
  // Gainers and losers are listed.
  await page.locator('#gainers li').first().waitFor();
});

test('buy from the ticket; a refusal is shown in words', async () => {
  await page.goto(`${base}/#stock/ACME`);
  await page.locator('#chart canvas').first().waitFor();
  await page.getByLabel('Side').selectOption('buy');
  await page.getByLabel('Type').selectOption('limit');
  await page.getByLabel('Limit price').fill('abc');
  await page.getByRole('button', { name: 'Place order' }).click();
  await page.locator('#ticket-result', { hasText: 'Refused' }).waitFor();
  assert.match(await text('#ticket-result'), /limit_price|price/i);

  // A market buy of 5, submitted from the keyboard, fills against the market makers.
  await page.getByLabel('Type').selectOption('market');
  await page.getByLabel('Quantity').fill('5');
  await page.getByLabel('Quantity').press('Enter');
  await page.locator('#ticket-result', { hasText: 'filled' }).waitFor();
  assert.match(await text('#ticket-result'), /5 filled/);
  // Our trade reaches the tape.
  await page.locator('#tape tr').first().waitFor();
  // A resting limit buy far below the market, to cancel later.
  await page.getByLabel('Type').selectOption('limit');
  await page.getByLabel('Quantity').fill('3');
  await page.getByLabel('Limit price').fill('1.00');
  await page.getByRole('button', { name: 'Place order' }).click();
  await page.locator('#ticket-result', { hasText: 'accepted' }).waitFor();
});

test('my orders: the fill is listed; a resting order is cancelled', async () => {
  await page.goto(`${base}/#orders`);
  await page.locator('#orders td.status', { hasText: 'filled' }).first().waitFor();
  const resting = page.locator('#orders tr', { hasText: 'accepted' }).first();
  await resting.getByRole('button', { name: /Cancel order/ }).click();
  await page.locator('#notice', { hasText: 'cancelled' }).waitFor();
  await page.locator('#orders td.status', { hasText: 'cancelled' }).first().waitFor();
  // The preset filter: accepted or today, without denied under 10 shares.
  await page.locator('#o-preset').click();
  assert.equal(await page.locator('#o-below').inputValue(), '10');
  await page.locator('#orders tbody tr').first().waitFor();
});

test('the portfolio row turns green, then red, as the price moves', async () => {
  await page.goto(`${base}/#portfolio`);
  const row = page.locator('#portfolio tbody tr[data-symbol="ACME"]');
  await row.waitFor();
  await setPrice('150.00');
  await page.locator('#portfolio tbody tr.gain[data-symbol="ACME"]').waitFor({ timeout: 15000 });
  assert.match((await row.locator('td.pnl').textContent()).trim(), /^\+/);
  assert.equal(await row.locator('td.pnl').evaluate((e) => getComputedStyle(e).color), 'rgb(10, 122, 50)');
  await setPrice('50.00');
  await page.locator('#portfolio tbody tr.loss[data-symbol="ACME"]').waitFor({ timeout: 15000 });
  assert.match((await row.locator('td.pnl').textContent()).trim(), /^-/);
  assert.equal(await row.locator('td.pnl').evaluate((e) => getComputedStyle(e).color), 'rgb(179, 38, 30)');
});

test('the admin pauses the generator and ticks stop', async () => {
  await page.goto(`${base}/#admin`);
  await page.getByLabel('Admin key').fill(ADMIN);
  await page.getByRole('button', { name: 'Use admin key' }).click();
  await page.locator('#admin-result', { hasText: 'kept' }).waitFor();
  const seen = async () => Number(/Ticks seen: (\d+)/.exec(await text('#ticks-seen'))[1]);
  await page.waitForFunction(() => /Ticks seen: [1-9]/.test(document.querySelector('#ticks-seen').textContent));
  await page.getByRole('button', { name: 'Pause generator' }).click();
  await page.locator('#admin-result', { hasText: 'Generator paused' }).waitFor();
  await page.waitForTimeout(500); // ticks already on their way
  const paused = await seen();
  await page.waitForTimeout(1500); // ten tick intervals
  assert.equal(await seen(), paused, 'ticks arrived while the generator was paused');
  await page.getByRole('button', { name: 'Resume generator' }).click();
  await page.waitForFunction((n) => Number(/Ticks seen: (\d+)/.exec(document.querySelector('#ticks-seen').textContent)[1]) > n, paused);
  // A task started here shows with its progress.
  await page.getByLabel('Shares to create').fill('200');
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.locator('#tasks tr', { hasText: 'create_shares' }).locator('td.state', { hasText: 'completed' }).waitFor({ timeout: 20000 });
  assert.equal(await page.locator('#tasks tr', { hasText: 'create_shares' }).locator('progress').getAttribute('value'), '200');
});

test('the system view charts live metrics', async () => {
  await page.goto(`${base}/#system`);
  await page.waitForFunction(() => /\d/.test(document.querySelector('#m-orders').textContent), null, { timeout: 10000 });
  assert.match(await text('#m-persist'), /no PostgreSQL/);
  assert.match(await text('#m-mailbox'), /^\d/);
  assert.equal(await page.locator('.spark canvas').count() > 0, true);
});

test('every form control in every view has a label and takes keyboard focus', async () => {
  for (const view of ['market', 'stock/ACME', 'orders', 'portfolio', 'admin', 'system']) {
    await page.goto(`${base}/#${view}`);
    await page.locator('main h1').waitFor();
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, button')]
      .filter((e) => !e.closest('[hidden]'))
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
      .map((e) => e.outerHTML));
    assert.deepEqual(unlabelled, [], `unlabelled controls in #${view}`);
    const unfocusable = await page.evaluate(() => [...document.querySelectorAll('main input, main select, main button')]
      .filter((e) => e.tabIndex < 0)
      .map((e) => e.outerHTML));
    assert.deepEqual(unfocusable, [], `controls out of the tab order in #${view}`);
  }
});

test('text keeps a contrast of at least 4.5:1 against its background', async () => {
  const lows = [];
  for (const view of ['market', 'portfolio', 'admin']) {
    await page.goto(`${base}/#${view}`);
    await page.locator('main h1').waitFor();
    await page.waitForTimeout(300);
    lows.push(...await page.evaluate(() => {
      const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
      const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      // The first opaque background up the tree (white at the root).
      const bg = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const c = rgb(getComputedStyle(e).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        if (!el.childNodes.length || ![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
        if (el.closest('[hidden]') || el.closest('canvas')) continue;
        const fg = rgb(getComputedStyle(el).color).slice(0, 3);
        const [a, b] = [lum(fg), lum(bg(el))].sort((x, y) => y - x);
        const ratio = (a + 0.05) / (b + 0.05);
        if (ratio < 4.5) out.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
      }
      return out;
    }));
  }
  assert.deepEqual(lows, []);
});

test('no console errors', () => {
  assert.deepEqual(problems, []);
});
