// canaryd's dashboard (SPEC §10): polls the admin API once a second and draws each route.
// Reads /status, /events and /series (same origin, nothing else is ever fetched); acts through
// POST /rollback|pause|resume|promote|weight with the operator's token, which is kept in
// sessionStorage so it dies with the browser tab. Text is only ever set with textContent and
// handlers only attached with addEventListener, as the Content-Security-Policy demands.
'use strict';

const POLL_MS = 1000;
const EVENTS_PER_ROUTE = 12;
const TOKEN_KEY = 'canaryd.admin-token';
const SVG = 'http://www.w3.org/2000/svg';
const VERSIONS = ['stable', 'canary'];

// --- formatting -------------------------------------------------------------------------

function fixed(value, digits) {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}
const percent = (fraction) => (fraction === null || fraction === undefined ? '—' : `${fixed(fraction * 100, 2)} %`);
const ms = (value) => (value === null || value === undefined ? '—' : `${fixed(value, value < 10 ? 2 : 1)} ms`);
const cores = (value) => (value === null || value === undefined ? '—' : `${fixed(value, 3)} cores`);
function bytes(value) {
  if (value === null || value === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${fixed(value, unit === 0 ? 0 : 1)} ${units[unit]}`;
}

// --- the token ----------------------------------------------------------------------------

const token = {
  get() { return sessionStorage.getItem(TOKEN_KEY) || ''; },
  set(value) { if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY); },
};

// --- messages -----------------------------------------------------------------------------

function say(text, kind) {
  const box = document.getElementById('message');
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
}

// --- charts -------------------------------------------------------------------------------

// One chart per signal; value(point) is null where the second has no evidence (a gap).
const CHARTS = [
  { key: 'rate', title: 'requests / s', value: (p) => p.requests, format: (v) => fixed(v, 0) },
  { key: 'success', title: 'success rate', value: (p) => (p.success_rate === null ? null : p.success_rate * 100),
    format: (v) => `${fixed(v, 1)} %`, ceiling: 100 },
  { key: 'p50', title: 'p50 latency', value: (p) => (p.requests ? p.p50_ms : null), format: ms },
  { key: 'p99', title: 'p99 latency', value: (p) => (p.requests ? p.p99_ms : null), format: ms },
  { key: 'cpu', title: 'CPU', value: (p) => p.cpu_cores, format: (v) => fixed(v, 2) },
  { key: 'memory', title: 'memory', value: (p) => p.memory_bytes, format: bytes },
];
const WIDTH = 300;
const HEIGHT = 90;

function svg(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function buildChart(spec) {
  const figure = document.createElement('figure');
  figure.className = 'chart';
  figure.dataset.chart = spec.key;
  const caption = document.createElement('figcaption');
  caption.textContent = spec.title;
  const drawing = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img' });
  drawing.setAttribute('aria-label', spec.title);
  drawing.append(svg('line', { x1: 0, y1: HEIGHT, x2: WIDTH, y2: HEIGHT, class: 'axis' }));
  for (const version of VERSIONS) {
    const line = svg('path', { class: `line ${version}`, d: '' });
    line.dataset.version = version;
    drawing.append(line);
  }
  // The caption carries the top of the scale; the row below the time span and the bottom.
  const top = document.createElement('span');
  top.className = 'top';
  caption.append(top);
  const scale = document.createElement('div');
  scale.className = 'scale';
  const span = document.createElement('span');
  const bottom = document.createElement('span');
  const now = document.createElement('span');
  now.textContent = 'now';
  scale.append(span, bottom, now);
  figure.append(caption, drawing, scale);
  return { figure, drawing, top, bottom, span };
}

// A path with one segment per run of seconds that have values: a gap stays a gap.
function pathOf(points, spec, windowSeconds, low, high) {
  let d = '';
  let drawing = false;
  for (const point of points) {
    const value = spec.value(point);
    if (value === null || value === undefined || !Number.isFinite(value)) { drawing = false; continue; }
    const x = ((windowSeconds - point.age) / windowSeconds) * WIDTH;
    const y = HEIGHT - ((value - low) / (high - low)) * HEIGHT;
    d += `${drawing ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    drawing = true;
  }
  return d;
}

function drawChart(chart, spec, series) {
  const windowSeconds = Math.max(series.window_seconds, 1);
  const values = [];
  for (const version of VERSIONS)
    for (const point of (series[version] && series[version].points) || []) {
      const value = spec.value(point);
      if (value !== null && value !== undefined && Number.isFinite(value)) values.push(value);
    }
  let low = 0;
  let high = values.length ? Math.max(...values) * 1.1 : 1;
  if (spec.ceiling !== undefined) {
    // Success lives near 100 %: zoom on the range that holds the data.
    high = spec.ceiling;
    low = values.length ? Math.max(0, Math.floor(Math.min(...values) / 5) * 5 - 5) : 0;
    if (low >= high) low = high - 5;
  }
  if (high <= low) high = low + 1;
  for (const line of chart.drawing.querySelectorAll('path.line')) {
    const data = series[line.dataset.version];
    line.setAttribute('d', data ? pathOf(data.points, spec, windowSeconds, low, high) : '');
  }
  chart.top.textContent = `max ${spec.format(high)}`;
  chart.bottom.textContent = `min ${spec.format(low)}`;
  chart.span.textContent = `−${windowSeconds} s`;
}

// --- one route ----------------------------------------------------------------------------

const VERSION_ROWS = [
  ['release', (v) => v.release],
  ['requests (window)', (v) => String(v.requests)],
  ['success rate', (v) => percent(v.success_rate)],
  ['p50 latency', (v) => ms(v.latency_p50_ms)],
  ['p99 latency', (v) => ms(v.latency_p99_ms)],
  ['traffic share', (v) => `${fixed(v.traffic_share, 2)} %`],
  ['in flight', (v) => String(v.in_flight)],
  ['CPU', (v) => cores(v.cpu_cores)],
  ['memory', (v) => bytes(v.memory_bytes)],
];
const STATE_TEXT = { progressing: 'progressing', paused: 'paused', rolled_back: 'rolled back', promoted: 'promoted', steady: 'steady' };

const cards = new Map();  // route name -> { root, field(name), charts }

function field(root, name) { return root.querySelector(`[data-field="${name}"]`); }

function buildCard(name) {
  const template = document.getElementById('route-template');
  const root = template.content.firstElementChild.cloneNode(true);
  root.dataset.route = name;
  const rows = field(root, 'versions');
  for (const [label] of VERSION_ROWS) {
    const row = document.createElement('tr');
    const head = document.createElement('th');
    head.textContent = label;
    row.append(head);
    for (const version of VERSIONS) {
      const cell = document.createElement('td');
      cell.dataset.version = version;
      cell.dataset.metric = label;
      row.append(cell);
    }
    rows.append(row);
  }
  const charts = {};
  const area = field(root, 'charts');
  for (const spec of CHARTS) {
    charts[spec.key] = buildChart(spec);
    area.append(charts[spec.key].figure);
  }
  for (const button of root.querySelectorAll('button[data-action]'))
    button.addEventListener('click', () => act(name, button.dataset.action, root));
  document.getElementById('routes').append(root);
  const card = { root, charts };
  cards.set(name, card);
  return card;
}

function drawVersions(root, route) {
  for (const cell of field(root, 'versions').querySelectorAll('td')) {
    const version = route[cell.dataset.version];
    const row = VERSION_ROWS.find(([label]) => label === cell.dataset.metric);
    cell.textContent = version ? row[1](version) : '—';
    if (version && row[0] === 'CPU' && version.signal_error) cell.title = version.signal_error;
  }
}

function drawGuardrails(root, route) {
  const list = field(root, 'guardrails');
  list.replaceChildren();
  if (!route.guardrails.length) {
    const item = document.createElement('li');
    item.className = 'muted';
    item.textContent = route.canary ? 'not evaluated yet' : 'no canary';
    list.append(item);
    return;
  }
  for (const g of route.guardrails) {
    const item = document.createElement('li');
    item.dataset.guardrail = g.guardrail;
    item.dataset.verdict = g.verdict;
    const label = document.createElement('span');
    label.className = 'guardrail-name';
    label.textContent = `${g.guardrail}${g.dry_run ? ' (dry run)' : ''}`;
    const verdict = document.createElement('span');
    verdict.className = `verdict ${g.verdict}`;
    verdict.textContent = g.verdict;
    // The bar: how far the evidence has come towards the value at which the guardrail fails.
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    fill.className = `fill ${g.verdict}`;
    const share = g.threshold > 0 ? Math.min(Math.max(g.statistic / g.threshold, 0), 1) : 0;
    fill.style.width = `${(share * 100).toFixed(1)}%`;
    bar.append(fill);
    const detail = document.createElement('span');
    detail.className = 'muted evidence';
    detail.textContent = `evidence ${fixed(g.statistic, 2)} of ${fixed(g.threshold, 2)} · canary ${fixed(g.canary_value, 4)} vs stable ${fixed(g.stable_value, 4)}`;
    item.append(label, verdict, bar, detail);
    list.append(item);
  }
}

function drawEvents(root, name, events) {
  const body = field(root, 'events');
  body.replaceChildren();
  const mine = events.filter((e) => e.route === name).slice(-EVENTS_PER_ROUTE).reverse();
  if (!mine.length) {
    const row = document.createElement('tr');
    const cell = document.createElement('td');
    cell.colSpan = 5;
    cell.className = 'muted';
    cell.textContent = 'no events yet';
    row.append(cell);
    body.append(row);
    return;
  }
  for (const e of mine) {
    const row = document.createElement('tr');
    row.dataset.event = e.event;
    for (const text of [e.time, e.event, e.actor, `${fixed(e.canary_weight, 2)} %`, e.reason || '']) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
}

function drawRoute(route, events, series, canAct) {
  const card = cards.get(route.name) || buildCard(route.name);
  const { root } = card;
  field(root, 'name').textContent = route.name;
  const state = field(root, 'state');
  state.textContent = STATE_TEXT[route.state] || route.state;
  state.dataset.state = route.state;
  field(root, 'step').textContent = route.step === null ? '' : `step ${route.step}`;
  field(root, 'weight').textContent = route.canary
    ? `canary weight ${fixed(route.canary_weight, 2)} % (configured ${fixed(route.configured_weight, 2)} %)`
    : 'no canary';
  field(root, 'state-reason').textContent = route.state_reason || '';
  const d = route.last_decision;
  field(root, 'last-decision').textContent = d ? `last decision ${d.time}: ${d.verdict}${d.guardrail ? ` (${d.guardrail})` : ''}${d.detail ? ` — ${d.detail}` : ''}` : '';
  drawVersions(root, route);
  drawGuardrails(root, route);
  drawEvents(root, route.name, events);
  if (series) for (const spec of CHARTS) drawChart(card.charts[spec.key], spec, series);
  for (const control of root.querySelectorAll('.actions button, .actions input'))
    control.disabled = !canAct || !route.canary;
}

// --- talking to the admin API ------------------------------------------------------------

let tokenRequired = true;

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${(await response.text()).trim()}`);
  return response.json();
}

async function act(route, action, root) {
  let path = `/${action}?route=${encodeURIComponent(route)}`;
  if (action === 'weight') {
    const value = field(root, 'weight-input').value.trim();
    if (value === '') { say('Give the canary weight in percent first.', 'error'); return; }
    path += `&canary=${encodeURIComponent(value)}`;
  }
  if (action === 'rollback' && !window.confirm(`Roll back ${route}? The canary's weight goes to 0 until someone resumes.`)) return;
  const headers = {};
  if (token.get()) headers.Authorization = `Bearer ${token.get()}`;
  let response;
  try {
    response = await fetch(path, { method: 'POST', headers, cache: 'no-store' });
  } catch (error) {
    say(`${action} ${route}: the admin listener did not answer (${error.message}).`, 'error');
    return;
  }
  const body = (await response.text()).trim();
  if (response.ok) {
    say(`${action} ${route}: done.`, 'ok');
  } else if (response.status === 401) {
    say(`${action} ${route}: refused — the token is missing or wrong (HTTP 401). Paste the admin token above.`, 'error');
  } else if (response.status === 403) {
    say(`${action} ${route}: forbidden (HTTP 403): ${body}`, 'error');
  } else {
    say(`${action} ${route}: HTTP ${response.status}: ${body}`, 'error');
  }
  refresh();
}

function showTokenState() {
  const stateLine = document.getElementById('token-state');
  if (!tokenRequired) stateLine.textContent = 'This admin listener needs no token: the buttons act directly.';
  else if (token.get()) stateLine.textContent = 'A token is set for this browser tab; the buttons act with it.';
  else stateLine.textContent = 'Read-only: paste the admin token to act.';
}

function setConnection(ok, text) {
  const badge = document.getElementById('connection');
  badge.dataset.state = ok ? 'live' : 'down';
  badge.textContent = text;
}

let timer = null;
let polling = false;

async function refresh() {
  if (polling) return;
  polling = true;
  clearTimeout(timer);
  try {
    const [status, events] = await Promise.all([getJson('/status'), getJson('/events?limit=200')]);
    tokenRequired = status.token_required;
    const canAct = !tokenRequired || token.get() !== '';
    const seriesList = await Promise.all(status.routes.map((r) =>
      getJson(`/series?route=${encodeURIComponent(r.name)}`).catch(() => null)));
    document.getElementById('version').textContent = `${status.canaryd_version} · config generation ${status.config_generation}${status.draining ? ' · draining' : ''}`;
    status.routes.forEach((route, i) => drawRoute(route, events.events, seriesList[i], canAct));
    const names = new Set(status.routes.map((r) => r.name));
    for (const [name, card] of cards)
      if (!names.has(name)) { card.root.remove(); cards.delete(name); }
    showTokenState();
    setConnection(true, `live · ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    setConnection(false, `disconnected: ${error.message}`);
  } finally {
    polling = false;
    timer = setTimeout(refresh, POLL_MS);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const input = document.getElementById('token');
  document.getElementById('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    input.value = '';
    say(token.get() ? 'Token set for this browser tab.' : 'Token cleared: read-only.', 'ok');
    refresh();
  });
  document.getElementById('forget-token').addEventListener('click', () => {
    token.set('');
    say('Token forgotten: read-only.', 'ok');
    refresh();
  });
  refresh();
});
