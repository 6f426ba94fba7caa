// marketsim dashboard: one ES module, no build step. It talks to the same
// JSON API and event stream as any client. The API key lives in this tab's
// session storage and goes out as a bearer header, never in a URL.

const LC = window.LightweightCharts;

// ---------------------------------------------------------------- helpers

/** Build an element: h('td', {class: 'gain'}, 'text', child, ...). */
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) {
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A decimal string with its sign shown: "+1.20", "-0.40", "0.00". */
function signed(s) {
  if (s === null || s === undefined) return '';
  return /^-/.test(s) || /^[0.]+%?$/.test(s) ? s : `+${s}`;
}

/** 'gain', 'loss' or '' for a decimal string. */
function tone(s) {
  if (!s || /^[+]?[0.]+%?$/.test(s)) return '';
  return s.startsWith('-') ? 'loss' : 'gain';
}

/** Minor units (integer cents) of a decimal string, as a BigInt-free number. */
function cents(s) {
  const neg = s.startsWith('-');
  const [w, f = ''] = s.replace(/^[-+]/, '').split('.');
  const v = Number(w) * 100 + Number((f + '00').slice(0, 2));
  return neg ? -v : v;
}

/** A decimal string of minor units. */
function money(c) {
  const neg = c < 0;
  const a = Math.abs(Math.round(c));
  return `${neg ? '-' : ''}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

const seconds = (rfc3339) => Math.floor(Date.parse(rfc3339) / 1000);
const clock = (rfc3339) => new Date(rfc3339).toLocaleTimeString();

// ---------------------------------------------------------------- session

const session = {
  get key() { return sessionStorage.getItem('marketsim.key'); },
  set key(v) { v ? sessionStorage.setItem('marketsim.key', v) : sessionStorage.removeItem('marketsim.key'); },
  get admin() { return sessionStorage.getItem('marketsim.admin'); },
  set admin(v) { v ? sessionStorage.setItem('marketsim.admin', v) : sessionStorage.removeItem('marketsim.admin'); },
};

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Call the API; a problem body becomes an ApiError with its detail. */
async function api(method, path, { body, key = session.key, form } = {}) {
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: payload });
  if (!r.ok) {
    let p = {};
    try { p = await r.json(); } catch { /* not JSON */ }
    throw new ApiError(r.status, p);
  }
  if (r.status === 204) return null;
  const type = r.headers.get('content-type') || '';
  return type.includes('json') ? r.json() : r.text();
}

function notify(msg, error = false) {
  const n = document.getElementById('notice');
  n.textContent = msg;
  n.className = error ? 'error' : '';
}

// ---------------------------------------------------------------- stream

/** Market events: 'tick', 'trade', 'order', 'task', 'live'. */
const bus = new EventTarget();
let streamAbort = null;

function on(kind, fn) {
  const f = (e) => fn(e.detail);
  bus.addEventListener(kind, f);
  return () => bus.removeEventListener(kind, f);
}

function dispatchBlock(block) {
  let kind = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let v = c < 0 ? '' : line.slice(c + 1);
    if (v.startsWith(' ')) v = v.slice(1);
    if (field === 'event') kind = v;
    else if (field === 'data') data.push(v);
  }
  if (!data.length) return;
  let detail = data.join('\n');
  try { detail = JSON.parse(detail); } catch { /* plain text (lagged) */ }
  bus.dispatchEvent(new CustomEvent(kind, { detail }));
}

function setLive(live) {
  const el = document.getElementById('live');
  el.textContent = live ? 'live' : 'offline';
  el.className = `live ${live ? 'on' : 'off'}`;
  bus.dispatchEvent(new CustomEvent('live', { detail: live }));
}

/** Follow GET /v1/stream (fetch, so the key goes in a header); reconnect with back-off. */
async function openStream() {
  closeStream();
  const key = session.key;
  if (!key) return;
  const ctl = new AbortController();
  streamAbort = ctl;
  let delay = 500;
  while (!ctl.signal.aborted) {
    try {
      const r = await fetch('/v1/stream', {
        headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' },
        signal: ctl.signal,
      });
      if (r.ok) {
        setLive(true);
        delay = 500;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            dispatchBlock(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } else if (r.status === 401) {
        signOut('That API key is not known here: sign in again.');
        return;
      }
    } catch {
      if (ctl.signal.aborted) return;
    }
    setLive(false);
    await sleep(delay);
    delay = Math.min(delay * 2, 10000);
  }
}

function closeStream() {
  if (streamAbort) streamAbort.abort();
  streamAbort = null;
  setLive(false);
}

// ---------------------------------------------------------------- sign in

async function showWho() {
  const who = document.getElementById('who');
  const signin = document.getElementById('signin');
  who.replaceChildren();
  if (!session.key) {
    signin.hidden = false;
    who.append(h('span', { class: 'muted' }, 'not signed in'));
    return;
  }
  signin.hidden = true;
  try {
    const a = await api('GET', '/v1/account');
    who.append(
      h('span', { id: 'who-name' }, a.name),
      h('span', { class: 'muted', id: 'who-cash' }, `cash ${a.available_cash}`),
      h('button', { class: 'secondary', type: 'button', onclick: () => signOut('Signed out.') }, 'Sign out'),
    );
  } catch (e) {
    if (e.status === 401) signOut('That API key is not known here.');
    else notify(`Account: ${e.message}`, true);
  }
}

function signIn(key, msg) {
  session.key = key.trim();
  notify(msg);
  showWho();
  openStream();
  route();
}

function signOut(msg) {
  session.key = null;
  closeStream();
  notify(msg);
  showWho();
  route();
}

document.getElementById('signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = document.getElementById('signin-key');
  signIn(input.value, 'Signed in.');
  input.value = '';
});

document.getElementById('register-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = document.getElementById('register-name').value.trim();
  try {
    const u = await api('POST', '/v1/users', { body: { name }, key: null });
    signIn(u.api_key, `Registered ${u.name} with ${u.cash}. Your API key (shown once; kept in this tab only): ${u.api_key}`);
  } catch (err) {
    notify(`Registration refused: ${err.message}`, true);
  }
});

/** A note in place of a view that needs a signed-in user. */
function needsUser(root, what) {
  if (session.key) return false;
  root.append(h('p', {}, `Sign in or register (above) to see ${what}.`));
  return true;
}

// ---------------------------------------------------------------- tables

/**
 * A table whose columns sort on click. columns: [{key, label, num, cell(row)}].
 * Returns {el, set(rows)}.
 */
function sortableTable(id, columns, { sortKey, dir = -1, limit = 500, rowAttrs } = {}) {
  let rows = [];
  let key = sortKey ?? columns[0].key;
  let order = dir;
  const head = h('tr');
  const body = h('tbody');
  const note = h('p', { class: 'muted' });
  const el = h('div', {}, h('table', { id }, h('thead', {}, head), body), note);
  function drawHead() {
    head.replaceChildren(...columns.map((c) => h('th', {
      scope: 'col',
      'aria-sort': c.key === key ? (order > 0 ? 'ascending' : 'descending') : 'none',
    }, h('button', { type: 'button', onclick: () => { order = c.key === key ? -order : (c.num ? -1 : 1); key = c.key; draw(); } }, c.label))));
  }
  function draw() {
    drawHead();
    const col = columns.find((c) => c.key === key);
    const val = (r) => (col.num ? Number(String(r[key]).replace('%', '')) : String(r[key]));
    const sorted = [...rows].sort((a, b) => (val(a) < val(b) ? -order : val(a) > val(b) ? order : 0));
    body.replaceChildren(...sorted.slice(0, limit).map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
      ...columns.map((c) => (c.cell ? c.cell(r) : h('td', {}, r[c.key] ?? ''))))));
    note.textContent = sorted.length > limit ? `Showing ${limit} of ${sorted.length}; filter to narrow.` : '';
  }
  return { el, set(r) { rows = r; draw(); } };
}

// ---------------------------------------------------------------- market

async function allStocks() {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const p = await api('GET', `/v1/stocks?limit=1000&offset=${offset}`, { key: null });
    out.push(...p.items);
    if (out.length >= p.total || !p.items.length) return out;
  }
}

function viewMarket(root) {
  const stocks = new Map();
  let filter = '';
  const search = h('input', { id: 'search', type: 'search', placeholder: 'e.g. ACME', oninput: (e) => { filter = e.target.value.trim().toUpperCase(); draw(); } });
  const table = sortableTable('stocks', [
    { key: 'symbol', label: 'Symbol', cell: (s) => h('td', {}, h('a', { href: `#stock/${s.symbol}` }, s.symbol)) },
    { key: 'last', label: 'Last', num: true, cell: (s) => h('td', { class: `last ${s.flash || ''}`, 'data-symbol': s.symbol }, s.last) },
    { key: 'change', label: 'Change', num: true, cell: (s) => h('td', { class: `change ${tone(s.change)}` }, signed(s.change)) },
    { key: 'change_pct', label: 'Change %', num: true, cell: (s) => h('td', { class: tone(s.change_pct) }, `${signed(s.change_pct)}%`) },
    { key: 'volume', label: 'Volume', num: true },
    { key: 'bid', label: 'Bid', num: true },
    { key: 'ask', label: 'Ask', num: true },
  ], { sortKey: 'symbol', dir: 1, rowAttrs: (s) => ({ 'data-symbol': s.symbol }) });
  const gainers = h('ol', { id: 'gainers' });
  const losers = h('ol', { id: 'losers' });
  root.append(
    h('h1', {}, 'Market'),
    h('div', { class: 'grid movers' },
      h('section', { class: 'panel', 'aria-labelledby': 'g-h' }, h('h2', { id: 'g-h' }, 'Top gainers today'), gainers),
      h('section', { class: 'panel', 'aria-labelledby': 'l-h' }, h('h2', { id: 'l-h' }, 'Top losers today'), losers)),
    h('h2', {}, 'All stocks'),
    h('form', { role: 'search', onsubmit: (e) => e.preventDefault() }, h('div', { class: 'field' }, h('label', { for: 'search' }, 'Search symbols'), search)),
    table.el,
  );
  let pending = false;
  function draw() {
    pending = false;
    table.set([...stocks.values()].filter((s) => s.symbol.includes(filter)));
  }
  const later = () => { if (!pending) { pending = true; setTimeout(draw, 250); } };
  async function load() {
    try {
      for (const s of await allStocks()) {
        stocks.set(s.symbol, { ...s, change: s.change, base: cents(s.last) - cents(s.change) });
      }
      draw();
    } catch (e) { notify(`Stocks: ${e.message}`, true); }
  }
  async function movers() {
    try {
      const m = await api('GET', '/v1/market/movers?limit=5', { key: null });
      const item = (x) => h('li', {}, h('a', { href: `#stock/${x.symbol}` }, x.symbol), ` ${x.last} `, h('span', { class: tone(x.change_pct) }, `${signed(x.change_pct)}%`));
      gainers.replaceChildren(...(m.gainers.length ? m.gainers.map(item) : [h('li', { class: 'muted' }, 'none yet')]));
      losers.replaceChildren(...(m.losers.length ? m.losers.map(item) : [h('li', { class: 'muted' }, 'none yet')]));
    } catch (e) { notify(`Movers: ${e.message}`, true); }
  }
  function price(symbol, p, volume = 0) {
    const s = stocks.get(symbol);
    if (!s) return;
    const c = cents(p);
    s.flash = c > cents(s.last) ? 'flash-up' : c < cents(s.last) ? 'flash-down' : '';
    s.last = p;
    s.volume += volume;
    const ch = c - s.base;
    s.change = money(ch);
    s.change_pct = s.base ? ((ch * 100) / s.base).toFixed(2) : '0.00';
    later();
  }
  load();
  movers();
  // Signed in, the stream keeps prices live; signed out, polling does.
  const timers = [setInterval(load, session.key ? 10000 : 3000), setInterval(movers, 3000)];
  const offs = [
    on('tick', (t) => price(t.symbol, t.price)),
    on('trade', (t) => price(t.symbol, t.price, t.quantity)),
  ];
  return () => { timers.forEach(clearInterval); offs.forEach((f) => f()); };
}

// ---------------------------------------------------------------- one stock

const INTERVALS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600 };

/** Charts fill their container (its CSS gives the height) and follow its size. */
function chartOptions() {
  return {
    autoSize: true,
    layout: { background: { color: '#ffffff' }, textColor: '#1b1f24' },
    grid: { vertLines: { color: '#eef1f4' }, horzLines: { color: '#eef1f4' } },
    timeScale: { timeVisible: true, secondsVisible: false },
    localization: { timeFormatter: (t) => new Date(t * 1000).toLocaleTimeString() },
  };
}

function tradeTicket(symbol) {
  const result = h('p', { id: 'ticket-result', role: 'alert' });
  const limit = h('input', { id: 't-limit', name: 'limit_price', inputmode: 'decimal', disabled: true, placeholder: 'market' });
  const type = h('select', { id: 't-type', name: 'type', onchange: () => { limit.disabled = type.value === 'market'; limit.required = !limit.disabled; } },
    h('option', { value: 'market' }, 'Market'), h('option', { value: 'limit' }, 'Limit'));
  const side = h('select', { id: 't-side', name: 'side' }, h('option', { value: 'buy' }, 'Buy'), h('option', { value: 'sell' }, 'Sell'));
  const qty = h('input', { id: 't-qty', name: 'quantity', type: 'number', min: '1', step: '1', value: '1', required: true });
  const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
  const form = h('form', {
    id: 'ticket', 'aria-label': `Trade ${symbol}`,
    onsubmit: async (e) => {
      e.preventDefault();
      if (!session.key) { result.className = 'error'; result.textContent = 'Sign in to trade.'; return; }
      const body = { symbol, side: side.value, type: type.value, quantity: Number(qty.value) };
      if (type.value === 'limit') body.limit_price = limit.value.trim();
      result.className = '';
      result.textContent = 'Sending…';
      try {
        const o = await api('POST', '/v1/orders', { body });
        const avg = o.average_price ? ` at ${o.average_price}` : '';
        result.textContent = `Order ${o.id}: ${o.side} ${o.quantity} ${o.symbol}: ${o.status.replace('_', ' ')}, ${o.filled_quantity} filled${avg}.`;
        showWho();
      } catch (err) {
        result.className = 'error';
        const reason = err.problem && err.problem.reason ? ` (${err.problem.reason.replaceAll('_', ' ')})` : '';
        result.textContent = `Refused: ${err.message}${reason}`;
      }
    },
  },
  field('t-side', 'Side', side), field('t-type', 'Type', type), field('t-qty', 'Quantity', qty), field('t-limit', 'Limit price', limit),
  h('button', { type: 'submit', id: 't-submit' }, 'Place order'));
  return h('section', { class: 'panel', 'aria-labelledby': 'ticket-h' }, h('h2', { id: 'ticket-h' }, 'Trade ticket'), form, result);
}

function viewStock(root, symbol) {
  let interval = '1m';
  const head = h('p', { id: 'stock-head', class: 'metric-value' });
  const select = h('select', { id: 'interval', onchange: () => { interval = select.value; loadCandles(); } },
    ...Object.keys(INTERVALS).map((k) => h('option', { value: k }, k)));
  const chartEl = h('div', { class: 'chart', id: 'chart' });
  const bids = h('tbody');
  const asks = h('tbody');
  const tape = h('tbody', { id: 'tape' });
  root.append(
    h('h1', {}, symbol), head,
    h('div', { class: 'field' }, h('label', { for: 'interval' }, 'Candle interval'), select),
    chartEl,
    h('div', { class: 'grid' },
      tradeTicket(symbol),
      h('section', { class: 'panel depth', 'aria-labelledby': 'book-h' }, h('h2', { id: 'book-h' }, 'Order book'),
        h('div', { class: 'grid' },
          h('table', { id: 'bids' }, h('caption', {}, 'Bids'), h('thead', {}, h('tr', {}, h('th', {}, 'Price'), h('th', {}, 'Shares'), h('th', {}, 'Orders'))), bids),
          h('table', { id: 'asks' }, h('caption', {}, 'Asks'), h('thead', {}, h('tr', {}, h('th', {}, 'Price'), h('th', {}, 'Shares'), h('th', {}, 'Orders'))), asks))),
      h('section', { class: 'panel', 'aria-labelledby': 'tape-h' }, h('h2', { id: 'tape-h' }, 'Recent trades'),
        h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Price'), h('th', {}, 'Shares'), h('th', {}, 'Taker'))), tape))),
  );
  const chart = LC.createChart(chartEl, chartOptions());
  const candles = chart.addSeries(LC.CandlestickSeries, {
    upColor: '#0a7a32', downColor: '#b3261e', borderVisible: false, wickUpColor: '#0a7a32', wickDownColor: '#b3261e',
  });
  const volume = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: 'volume', color: '#9aa4af' });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
  let last = null;
  async function loadCandles() {
    try {
      const cs = await api('GET', `/v1/stocks/${symbol}/candles?interval=${interval}`, { key: null });
      const bars = cs.map((c) => ({ time: seconds(c.start), open: +c.open, high: +c.high, low: +c.low, close: +c.close, volume: c.volume }));
      candles.setData(bars.map(({ volume: _, ...b }) => b));
      volume.setData(bars.map((b) => ({ time: b.time, value: b.volume, color: b.close >= b.open ? '#8fd1a5' : '#eba59f' })));
      last = bars.length ? bars[bars.length - 1] : null;
      chart.timeScale().fitContent();
    } catch (e) { notify(`Candles: ${e.message}`, true); }
  }
  function live(price, ts, qty) {
    const t = Math.floor(seconds(ts) / INTERVALS[interval]) * INTERVALS[interval];
    const p = +price;
    if (!last || t > last.time) last = { time: t, open: p, high: p, low: p, close: p, volume: 0 };
    else if (t < last.time) return;
    last.high = Math.max(last.high, p);
    last.low = Math.min(last.low, p);
    last.close = p;
    last.volume += qty;
    const { volume: v, ...bar } = last;
    candles.update(bar);
    volume.update({ time: last.time, value: v, color: last.close >= last.open ? '#8fd1a5' : '#eba59f' });
  }
  async function loadQuote() {
    try {
      const s = await api('GET', `/v1/stocks/${symbol}`, { key: null });
      head.replaceChildren(`${s.last} `, h('span', { class: tone(s.change) }, `${signed(s.change)} (${signed(s.change_pct)}%)`),
        h('span', { class: 'muted' }, ` · bid ${s.bid ?? '—'} · ask ${s.ask ?? '—'} · volume ${s.volume}`));
    } catch (e) { notify(e.status === 404 ? `No stock ${symbol}.` : `Quote: ${e.message}`, true); }
  }
  async function loadBook() {
    try {
      const b = await api('GET', `/v1/stocks/${symbol}/book?depth=10`, { key: null });
      const row = (l) => h('tr', {}, h('td', {}, l.price), h('td', {}, l.quantity), h('td', {}, l.orders));
      bids.replaceChildren(...b.bids.map(row));
      asks.replaceChildren(...b.asks.map(row));
    } catch { /* the next poll tries again */ }
  }
  const tapeRow = (t) => h('tr', {}, h('td', {}, clock(t.timestamp)), h('td', {}, t.price), h('td', {}, t.quantity),
    h('td', { class: t.taker_side === 'buy' ? 'gain' : 'loss' }, t.taker_side));
  async function loadTape() {
    try {
      const ts = await api('GET', `/v1/stocks/${symbol}/trades?limit=30`, { key: null });
      tape.replaceChildren(...ts.map(tapeRow));
    } catch { /* shown empty */ }
  }
  loadCandles(); loadQuote(); loadBook(); loadTape();
  const timers = [setInterval(loadBook, 1000), setInterval(loadQuote, 2000)];
  const offs = [
    on('tick', (t) => { if (t.symbol === symbol) live(t.price, t.timestamp, 0); }),
    on('trade', (t) => {
      if (t.symbol !== symbol) return;
      live(t.price, t.timestamp, t.quantity);
      tape.prepend(tapeRow(t));
      while (tape.children.length > 30) tape.lastChild.remove();
    }),
  ];
  return () => { timers.forEach(clearInterval); offs.forEach((f) => f()); chart.remove(); };
}

// ---------------------------------------------------------------- orders

const OPEN = new Set(['accepted', 'partially_filled']);
const PRESET = { status: 'accepted', created_from: 'today', combine: 'or', exclude_status: 'denied', exclude_quantity_below: '10', sort: '-created_at' };

function viewOrders(root) {
  if (needsUser(root, 'your orders')) return null;
  const fields = {
    status: h('input', { id: 'o-status', placeholder: 'accepted,filled' }),
    symbol: h('input', { id: 'o-symbol', placeholder: 'any' }),
    created_from: h('input', { id: 'o-from', placeholder: 'today or 2026-01-05' }),
    combine: h('select', { id: 'o-combine' }, h('option', { value: 'and' }, 'and'), h('option', { value: 'or' }, 'or')),
    exclude_status: h('input', { id: 'o-exclude', placeholder: 'denied' }),
    exclude_quantity_below: h('input', { id: 'o-below', type: 'number', min: '0' }),
    sort: h('select', { id: 'o-sort' }, ...['-created_at', 'created_at', '-quantity', 'quantity'].map((s) => h('option', { value: s }, s))),
  };
  const labels = { status: 'Statuses', symbol: 'Symbol', created_from: 'Created from', combine: 'Statuses and time combine with', exclude_status: 'Leave out statuses…', exclude_quantity_below: '…under this many shares', sort: 'Sort' };
  const body = h('tbody');
  const total = h('p', { class: 'muted', id: 'orders-total' });
  const query = () => {
    const q = new URLSearchParams({ limit: '200' });
    for (const [k, el] of Object.entries(fields)) if (el.value.trim()) q.set(k, el.value.trim());
    if (!fields.status.value.trim() && !fields.created_from.value.trim()) q.delete('combine');
    return q;
  };
  async function load() {
    try {
      const p = await api('GET', `/v1/orders?${query()}`);
      total.textContent = `${p.total} order${p.total === 1 ? '' : 's'}`;
      body.replaceChildren(...p.items.map((o) => h('tr', { 'data-order': o.id },
        h('td', {}, o.id), h('td', {}, clock(o.created_at)), h('td', {}, o.symbol), h('td', {}, o.side), h('td', {}, o.type ?? o.order_type),
        h('td', {}, o.quantity), h('td', {}, o.filled_quantity), h('td', {}, o.limit_price ?? ''), h('td', {}, o.average_price ?? ''),
        h('td', { class: 'status' }, o.status.replace('_', ' ')), h('td', {}, o.reason ?? ''),
        h('td', {}, OPEN.has(o.status) ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Cancel order ${o.id}`, onclick: () => cancel(o.id) }, 'Cancel') : ''))));
    } catch (e) { notify(`Orders: ${e.message}`, true); }
  }
  async function cancel(id) {
    try {
      await api('DELETE', `/v1/orders/${id}`);
      notify(`Order ${id} cancelled.`);
    } catch (e) { notify(`Cancel refused: ${e.message}`, true); }
    load();
  }
  const form = h('form', { id: 'orders-filter', onsubmit: (e) => { e.preventDefault(); load(); } },
    ...Object.entries(fields).map(([k, el]) => h('div', { class: 'field' }, h('label', { for: el.id }, labels[k]), el)),
    h('button', { type: 'submit' }, 'Apply'),
    h('button', { type: 'button', class: 'secondary', id: 'o-preset', onclick: () => { for (const [k, v] of Object.entries(PRESET)) fields[k].value = v; load(); } },
      'Preset: accepted or today, no denied under 10 shares, newest first'),
    h('button', { type: 'button', class: 'secondary', onclick: () => { for (const el of Object.values(fields)) el.value = el.tagName === 'SELECT' ? el.options[0].value : ''; load(); } }, 'Clear'));
  root.append(h('h1', {}, 'My orders'), form, total,
    h('table', { id: 'orders' }, h('thead', {}, h('tr', {}, ...['Id', 'Created', 'Symbol', 'Side', 'Type', 'Quantity', 'Filled', 'Limit', 'Average', 'Status', 'Reason', ''].map((c) => h('th', { scope: 'col' }, c)))), body));
  load();
  let pending = false;
  const off = on('order', () => { if (!pending) { pending = true; setTimeout(() => { pending = false; load(); }, 300); } });
  const timer = setInterval(load, 5000);
  return () => { off(); clearInterval(timer); };
}

// ---------------------------------------------------------------- portfolio

function viewPortfolio(root) {
  if (needsUser(root, 'your portfolio')) return null;
  const body = h('tbody');
  const foot = h('tfoot');
  const cash = h('p', { id: 'cash' });
  root.append(h('h1', {}, 'Portfolio'), cash,
    h('table', { id: 'portfolio' }, h('thead', {}, h('tr', {}, ...['Symbol', 'Quantity', 'Average cost', 'Invested', 'Price', 'Current value', 'P&L', 'P&L %'].map((c) => h('th', { scope: 'col' }, c)))), body, foot));
  async function load() {
    try {
      const p = await api('GET', '/v1/portfolio');
      cash.textContent = `Cash ${p.cash}`;
      body.replaceChildren(...(p.holdings.length ? p.holdings.map((x) => h('tr', { class: x.result, 'data-symbol': x.symbol },
        h('td', {}, h('a', { href: `#stock/${x.symbol}` }, x.symbol)), h('td', {}, x.quantity), h('td', {}, x.average_cost), h('td', {}, x.invested),
        h('td', {}, x.current_price), h('td', {}, x.current_value),
        h('td', { class: `pnl ${x.result === 'flat' ? '' : x.result}` }, signed(x.unrealized_pnl)),
        h('td', { class: x.result === 'flat' ? '' : x.result }, `${signed(x.unrealized_pnl_pct)}%`))) : [h('tr', {}, h('td', { colspan: '8' }, 'No holdings yet: buy from a stock\'s page.'))]));
      const t = tone(p.total_unrealized_pnl);
      foot.replaceChildren(h('tr', { class: t, id: 'portfolio-total' }, h('th', { scope: 'row' }, 'Total'), h('td'), h('td'), h('td', {}, p.total_invested), h('td'), h('td', {}, p.total_value),
        h('td', { class: `pnl ${t}` }, signed(p.total_unrealized_pnl)), h('td', { class: t }, `${signed(p.total_unrealized_pnl_pct)}%`)));
    } catch (e) { notify(`Portfolio: ${e.message}`, true); }
  }
  load();
  const timer = setInterval(load, 2000);
  const off = on('order', load);
  return () => { clearInterval(timer); off(); };
}

// ---------------------------------------------------------------- admin

function viewAdmin(root) {
  const keyInput = h('input', { id: 'admin-key', type: 'password', autocomplete: 'off' });
  const out = h('p', { id: 'admin-result', role: 'alert' });
  const say = (msg, err = false) => { out.textContent = msg; out.className = err ? 'error' : ''; };
  const admin = async (method, path, body) => api(method, path, { body, key: session.admin });
  const act = (label, fn) => async (e) => {
    if (e) e.preventDefault();
    if (!session.admin) { say('Enter the admin key first.', true); return; }
    try { say(await fn()); } catch (err) { say(`${label} refused: ${err.message}`, true); }
    loadTasks();
  };
  const field = (id, label, attrs = {}) => h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, ...attrs }));
  const list = h('form', { id: 'list-stock', onsubmit: act('Listing', async () => {
    const s = await admin('POST', '/v1/admin/stocks', { symbol: list.querySelector('#ls-symbol').value.trim(), initial_price: list.querySelector('#ls-price').value.trim(), float: Number(list.querySelector('#ls-float').value) || undefined });
    return `Listed ${s.symbol} at ${s.last}.`;
  }) }, field('ls-symbol', 'Symbol', { required: true }), field('ls-price', 'Initial price', { required: true, inputmode: 'decimal' }), field('ls-float', 'Shares offered', { type: 'number', min: '1' }), h('button', { type: 'submit' }, 'List stock'));
  const price = h('form', { id: 'set-price', onsubmit: act('Price', async () => {
    const sym = price.querySelector('#sp-symbol').value.trim();
    await admin('POST', `/v1/admin/stocks/${encodeURIComponent(sym)}/price`, { price: price.querySelector('#sp-price').value.trim() });
    return `Price of ${sym.toUpperCase()} set.`;
  }) }, field('sp-symbol', 'Symbol', { required: true }), field('sp-price', 'New price', { required: true, inputmode: 'decimal' }), h('button', { type: 'submit' }, 'Set price'));
  const shares = h('form', { id: 'new-task', onsubmit: act('Task', async () => {
    const kind = shares.querySelector('#nt-kind').value;
    const n = Number(shares.querySelector('#nt-count').value);
    const body = kind === 'create_shares' ? { kind, count: n } : { kind, symbols: 'all' };
    const t = await admin('POST', '/v1/tasks', body);
    return `Task ${t.id} (${t.kind}) ${t.state}.`;
  }) }, h('div', { class: 'field' }, h('label', { for: 'nt-kind' }, 'Task'), h('select', { id: 'nt-kind' }, h('option', { value: 'create_shares' }, 'create shares'), h('option', { value: 'update_prices' }, 'update all prices'))),
  field('nt-count', 'Shares to create', { type: 'number', min: '1', max: '100000', value: '1000' }), h('button', { type: 'submit' }, 'Start task'));
  const tasks = h('tbody');
  let seen = 0;
  const ticks = h('p', { id: 'ticks-seen', class: 'muted' }, session.key ? 'Ticks seen: 0' : 'Sign in as a user to follow the ticks.');
  root.append(
    h('h1', {}, 'Admin'),
    h('form', { id: 'admin-signin', onsubmit: (e) => { e.preventDefault(); session.admin = keyInput.value.trim() || null; keyInput.value = ''; say(session.admin ? 'Admin key kept for this tab.' : 'Admin key forgotten.'); loadTasks(); } },
      h('div', { class: 'field' }, h('label', { for: 'admin-key' }, 'Admin key'), keyInput), h('button', { type: 'submit' }, 'Use admin key')),
    out,
    h('div', { class: 'grid' },
      h('section', { class: 'panel', 'aria-labelledby': 'a-list' }, h('h2', { id: 'a-list' }, 'List a stock'), list),
      h('section', { class: 'panel', 'aria-labelledby': 'a-price' }, h('h2', { id: 'a-price' }, 'Set a price'), price),
      h('section', { class: 'panel', 'aria-labelledby': 'a-gen' }, h('h2', { id: 'a-gen' }, 'Price generator'),
        h('button', { type: 'button', id: 'gen-pause', onclick: act('Pause', async () => { await admin('POST', '/v1/admin/generator/pause'); return 'Generator paused: prices hold until resumed.'; }) }, 'Pause generator'), ' ',
        h('button', { type: 'button', id: 'gen-resume', onclick: act('Resume', async () => { await admin('POST', '/v1/admin/generator/resume'); return 'Generator resumed.'; }) }, 'Resume generator'),
        ticks),
      h('section', { class: 'panel', 'aria-labelledby': 'a-task' }, h('h2', { id: 'a-task' }, 'Start a task'), shares)),
    h('h2', {}, 'Tasks'),
    h('table', { id: 'tasks' }, h('thead', {}, h('tr', {}, ...['Id', 'Kind', 'State', 'Progress', 'Done', 'Items/s', 'ETA', 'Started by', ''].map((c) => h('th', { scope: 'col' }, c)))), tasks),
  );
  const control = (t, verb) => h('button', { type: 'button', class: 'secondary', 'aria-label': `${verb} task ${t.id}`, onclick: act(verb, async () => { await admin('POST', `/v1/tasks/${t.id}/${verb}`); return `Task ${t.id}: ${verb} sent.`; }) }, verb);
  async function loadTasks() {
    if (!session.admin) { tasks.replaceChildren(h('tr', {}, h('td', { colspan: '9' }, 'Enter the admin key to see every task.'))); return; }
    try {
      const p = await admin('GET', '/v1/tasks?limit=50');
      tasks.replaceChildren(...p.items.map((t) => h('tr', { 'data-task': t.id },
        h('td', {}, t.id), h('td', {}, t.kind), h('td', { class: 'state' }, t.state),
        h('td', {}, h('progress', { max: String(Math.max(t.progress.total, 1)), value: String(t.progress.done), 'aria-label': `task ${t.id} progress` })),
        h('td', {}, `${t.progress.done} / ${t.progress.total}`),
        h('td', {}, t.progress.items_per_second ? Math.round(t.progress.items_per_second) : ''),
        h('td', {}, t.progress.eta_seconds ? `${t.progress.eta_seconds.toFixed(1)} s` : ''),
        h('td', {}, t.owner ?? 'admin'),
        h('td', {}, ...(t.state === 'running' || t.state === 'queued' ? [control(t, 'pause'), ' ', control(t, 'revoke')] : t.state === 'paused' ? [control(t, 'resume'), ' ', control(t, 'revoke')] : [])))));
    } catch (e) { say(`Tasks: ${e.message}`, true); }
  }
  loadTasks();
  const timer = setInterval(loadTasks, 1500);
  const offs = [
    on('task', loadTasks),
    on('tick', (t) => { seen += 1; ticks.textContent = `Ticks seen: ${seen} (last: ${t.symbol} ${t.price} at ${clock(t.timestamp)})`; }),
  ];
  return () => { clearInterval(timer); offs.forEach((f) => f()); };
}

// ---------------------------------------------------------------- system

/** Prometheus text to [{name, labels, value}]. */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

const sum = (ms, name) => ms.filter((m) => m.name === name).reduce((a, m) => a + m.value, 0);
const has = (ms, name) => ms.some((m) => m.name === name);
const max = (ms, name) => ms.filter((m) => m.name === name).reduce((a, m) => Math.max(a, m.value), 0);

/** Cumulative bucket counts by `le`, summed over every other label. */
function buckets(ms, name) {
  const b = new Map();
  for (const m of ms) if (m.name === name) b.set(m.labels.le, (b.get(m.labels.le) || 0) + m.value);
  return [...b.entries()].map(([le, n]) => [le === '+Inf' ? Infinity : Number(le), n]).sort((a, c) => a[0] - c[0]);
}

/** The q-quantile of the requests between two bucket snapshots (as Prometheus' histogram_quantile). */
function quantile(q, now, before) {
  const d = now.map(([le, n], i) => [le, n - (before[i] ? before[i][1] : 0)]);
  const total = d.length ? d[d.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0; let prevN = 0;
  for (const [le, n] of d) {
    if (n >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevN)) / Math.max(n - prevN, 1e-9);
    }
    prevLe = le; prevN = n;
  }
  return prevLe;
}

const SYSTEM = [
  { id: 'orders', label: 'Orders/s', unit: '/s' },
  { id: 'trades', label: 'Trades/s', unit: '/s' },
  { id: 'p50', label: 'HTTP p50', unit: ' ms' },
  { id: 'p99', label: 'HTTP p99', unit: ' ms' },
  { id: 'mailbox', label: 'Largest actor mailbox', unit: '' },
  { id: 'persist', label: 'Persistence lag (facts)', unit: '', needs: 'marketsim_persistence_lag_facts', off: 'no PostgreSQL configured' },
  { id: 'kafka', label: 'Kafka consumer lag (messages)', unit: '', needs: 'marketsim_kafka_consumer_lag_messages', off: 'no Kafka configured' },
  { id: 'redis', label: 'Redis errors/s', unit: '/s' },
];

function viewSystem(root) {
  const cards = new Map();
  const grid = h('div', { class: 'grid' });
  root.append(h('h1', {}, 'System'), h('p', { class: 'muted' }, 'From /metrics every 2 seconds.'), grid);
  for (const s of SYSTEM) {
    const value = h('span', { class: 'metric-value', id: `m-${s.id}` }, '…');
    const el = h('div', { class: 'spark' });
    grid.append(h('section', { class: 'panel', 'aria-labelledby': `mh-${s.id}` }, h('h2', { id: `mh-${s.id}` }, s.label), value, el));
    const chart = LC.createChart(el, { ...chartOptions(), timeScale: { timeVisible: true, secondsVisible: true } });
    const line = chart.addSeries(LC.LineSeries, { color: '#0b57d0', lineWidth: 2, priceLineVisible: false });
    cards.set(s.id, { s, value, chart, line, points: [] });
  }
  let prev = null;
  async function scrape() {
    let text;
    try { text = await api('GET', '/metrics', { key: null }); } catch (e) { notify(`Metrics: ${e.message}`, true); return; }
    const ms = parseMetrics(text);
    const now = { t: Date.now() / 1000, ms, http: buckets(ms, 'marketsim_http_request_duration_seconds_bucket') };
    if (prev) {
      const dt = Math.max(now.t - prev.t, 1e-3);
      const rate = (name, keep = () => true) => Math.max(sum(ms.filter(keep), name) - sum(prev.ms.filter(keep), name), 0) / dt;
      const p50 = quantile(0.5, now.http, prev.http);
      const p99 = quantile(0.99, now.http, prev.http);
      const values = {
        orders: rate('marketsim_orders_total', (m) => m.labels.status !== 'cancelled'),
        trades: rate('marketsim_trades_total'),
        p50: p50 === null ? null : p50 * 1000,
        p99: p99 === null ? null : p99 * 1000,
        mailbox: max(ms, 'marketsim_actor_mailbox_depth'),
        persist: has(ms, 'marketsim_persistence_lag_facts') ? sum(ms, 'marketsim_persistence_lag_facts') : null,
        kafka: has(ms, 'marketsim_kafka_consumer_lag_messages') ? sum(ms, 'marketsim_kafka_consumer_lag_messages') : null,
        redis: rate('marketsim_redis_errors_total'),
      };
      const t = Math.floor(now.t);
      for (const c of cards.values()) {
        const v = values[c.s.id];
        if (v === null || Number.isNaN(v)) {
          c.value.textContent = c.s.needs && !has(ms, c.s.needs) ? c.s.off : 'no requests';
          continue;
        }
        c.value.textContent = `${Number.isInteger(v) || v >= 10 ? Math.round(v) : v.toFixed(2)}${c.s.unit}`;
        if (c.points.length && c.points[c.points.length - 1].time >= t) continue;
        c.points.push({ time: t, value: v });
        if (c.points.length > 300) c.points.shift();
        c.line.update({ time: t, value: v });
      }
    }
    prev = now;
  }
  scrape();
  const timer = setInterval(scrape, 2000);
  return () => { clearInterval(timer); for (const c of cards.values()) c.chart.remove(); };
}

// ---------------------------------------------------------------- routing

let cleanup = null;

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const root = document.getElementById('view');
  root.replaceChildren();
  const [name, arg] = (location.hash.slice(1) || 'market').split('/');
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === `#${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const views = { market: viewMarket, orders: viewOrders, portfolio: viewPortfolio, admin: viewAdmin, system: viewSystem };
  if (name === 'stock' && arg) cleanup = viewStock(root, decodeURIComponent(arg).toUpperCase());
  else if (views[name]) cleanup = views[name](root);
  else root.append(h('p', {}, 'No such view. ', h('a', { href: '#market' }, 'Back to the market.')));
  document.title = `marketsim · ${name === 'stock' ? arg : name}`;
}

window.addEventListener('hashchange', () => { notify(''); route(); });
showWho();
openStream();
route();
