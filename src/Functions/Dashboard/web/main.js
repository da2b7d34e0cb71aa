// The Keybrake dashboard: every number comes from the operator API, called with the token the operator
// pasted (kept in sessionStorage only). The page itself is static and holds no data.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { ApiError, call, limited, query } from './api.js';
import { exactUsd, formatMicros, formatUsd, micros } from './money.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

const TOKEN_KEY = 'keybrake.operatorToken';
const LEVELS = ['tenant', 'agent_type', 'feature', 'run'];
const LEVEL_TITLES = { tenant: 'Top tenants', agent_type: 'Top agent types', feature: 'Top features', run: 'Top runs' };
const VENDOR_ORDER = ['stripe', 'twilio', 'resend'];
const VENDOR_COLORS = { stripe: '#635bff', twilio: '#f22f46', resend: '#0f766e' };
const SPARE_COLORS = ['#f59e0b', '#64748b', '#a855f7', '#0ea5e9'];
const MAX_DAYS = 92; // the API's longest spend window
const NEAR_CAP = 0.8;
const TOP_BARS = 15;
const AUDIT_TAIL = 50;

const $ = (id) => document.getElementById(id);
let chart = null;
let generation = 0;

/** An element with attributes and children; text always goes in as text, never as HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'className') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function money(usd, attrs = {}) {
  return el('td', { className: 'num', 'data-usd': exactUsd(usd), title: `$${exactUsd(usd)}`, ...attrs }, formatUsd(usd));
}

function moneyMicros(m, attrs = {}) {
  return money(m / 1e6, attrs);
}

function table(id, head, rows, foot) {
  const t = $(id);
  t.replaceChildren(
    el('thead', {}, el('tr', {}, head.map((h) => el('th', { className: h.num ? 'num' : null }, h.text ?? h)))),
    el('tbody', {}, rows),
    foot ? el('tfoot', {}, foot) : '');
}

function setState(panel, kind, text) {
  const node = document.querySelector(`.state[data-for="${panel}"]`);
  node.className = `state ${kind}`;
  node.textContent = text;
  node.closest('section').setAttribute('aria-busy', kind === 'loading' ? 'true' : 'false');
}

function showStatus(text, kind = 'error') {
  const status = $('status');
  status.className = kind;
  status.textContent = text;
  status.hidden = !text;
}

// ---- the selection: UTC days and a label prefix, kept in the URL fragment so a view can be shared (never the token)

const isDay = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s ?? '') && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));
const todayUtc = () => new Date().toISOString().slice(0, 10);

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function readSelection() {
  const h = new URLSearchParams(location.hash.slice(1));
  const until = isDay(h.get('until')) ? h.get('until') : todayUtc();
  const since = isDay(h.get('since')) ? h.get('since') : addDays(until, -6);
  return { since, until, prefix: h.get('prefix') ?? '' };
}

function select(sel) {
  const h = new URLSearchParams({ since: sel.since, until: sel.until });
  if (sel.prefix) h.set('prefix', sel.prefix);
  const next = `#${h}`;
  if (location.hash === next) refresh();
  else location.hash = next; // the hashchange listener refreshes
}

const dayStart = (day) => `${day}T00:00:00Z`;
const dayEnd = (day) => `${day}T23:59:59.9999999Z`;

function daysOf(sel) {
  const days = [];
  for (let d = sel.since; d <= sel.until && days.length <= MAX_DAYS; d = addDays(d, 1)) days.push(d);
  return days;
}

/** How deep the prefix reaches into tenant:agent_type:feature:run, counted in complete parts. */
function depthOf(prefix) {
  return Math.min((prefix.match(/:/g) ?? []).length, 3);
}

function baseOf(prefix, depth) {
  return depth === 0 ? '' : `${prefix.split(':').slice(0, depth).join(':')}:`;
}

// ---- token handling

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function signedIn(yes) {
  $('token-form').hidden = yes;
  $('session').hidden = !yes;
  $('main').hidden = !yes;
}

function forget(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  generation++; // drop whatever is still loading for the old token
  signedIn(false);
  showStatus(message, message ? 'error' : '');
  $('token-input').focus();
}

/** Shows a panel's failure; a refused token ends the session for every panel at once. */
function failed(panel, e) {
  if (!(e instanceof ApiError)) {
    setState(panel, 'error', `Could not show this view: ${e.message}`);
    throw e;
  }
  if (e.kind === 'unauthorized') {
    forget(`The API refused this token (401 ${e.code}): it is invalid, expired or revoked. Paste a valid operator token.`);
    return;
  }
  if (e.kind === 'unreachable') {
    showStatus('The Keybrake API cannot be reached: is the app running? Press Apply to retry.');
  } else if (e.kind === 'unavailable') {
    showStatus(`The Keybrake API is unavailable (${e.status} ${e.code}): ${e.message} Press Apply to retry.`);
  }
  setState(panel, 'error', `${e.status ? `${e.status} ${e.code}: ` : ''}${e.message}`);
}

/** Runs one panel: loading state, the API calls, then render unless a newer refresh started meanwhile. */
async function panel(name, gen, load, render) {
  setState(name, 'loading', 'Loading…');
  try {
    const data = await load();
    if (gen !== generation) return;
    setState(name, '', '');
    render(data);
  } catch (e) {
    if (gen === generation) failed(name, e);
  }
}

// ---- views

async function refresh() {
  const t = token();
  if (!t) {
    signedIn(false);
    return;
  }
  signedIn(true);
  showStatus('');
  const gen = ++generation;
  const sel = readSelection();
  $('since').value = sel.since;
  $('until').value = sel.until;
  $('prefix').value = sel.prefix;
  crumbs(sel);

  const span = (Date.parse(dayStart(sel.until)) - Date.parse(dayStart(sel.since))) / 86_400_000 + 1;
  if (span < 1 || span > MAX_DAYS) {
    showStatus(`Choose a period of 1 to ${MAX_DAYS} days, with From not after To.`);
    return;
  }

  const api = (path) => call(t, path);
  await Promise.all([
    panel('spend', gen, () => loadSpend(api, sel), (d) => renderSpend(d)),
    panel('breakdown', gen, () => loadBreakdown(api, sel), (d) => renderBreakdown(d, sel)),
    panel('budgets', gen, () => loadBudgets(api, sel), renderBudgets),
    panel('keys', gen, () => loadKeys(api, sel), (d) => renderKeys(d, t)),
    panel('alerts', gen, () => loadAlerts(api, sel), renderAlerts),
    panel('audit', gen, () => loadAudit(api, sel), renderAudit),
  ]);
}

function crumbs(sel) {
  const nav = $('crumbs');
  const parts = sel.prefix.split(':');
  const depth = depthOf(sel.prefix);
  const items = [el('button', { type: 'button', onclick: () => select({ ...sel, prefix: '' }) }, 'All tenants')];
  for (let i = 0; i < depth; i++) {
    const target = `${parts.slice(0, i + 1).join(':')}:`;
    items.push(el('span', { className: 'sep' }, '›'), el('button', { type: 'button', onclick: () => select({ ...sel, prefix: target }) }, parts[i]));
  }
  const rest = parts.slice(depth).join(':');
  if (rest) items.push(el('span', { className: 'sep' }, '›'), el('span', {}, depth === 3 ? rest : `${rest}…`));
  nav.replaceChildren(...items);
}

const spendPath = (params) => `/v1/spend${query(params)}`;

function sum(groups, field) {
  return groups.reduce((total, g) => total + micros(g[field]), 0);
}

function vendorsOf(reports) {
  const seen = new Set(reports.flatMap((r) => r.groups.map((g) => g.key)));
  return [...seen].sort((a, b) => {
    const ia = VENDOR_ORDER.indexOf(a);
    const ib = VENDOR_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
}

async function loadSpend(api, sel) {
  const days = daysOf(sel);
  // One query per UTC day (the API groups, it does not bucket by time) and one for the whole period,
  // whose totals are shown as the API gives them rather than re-added here.
  const [period, perDay] = await Promise.all([
    api(spendPath({ group_by: 'vendor', label_prefix: sel.prefix, since: dayStart(sel.since), until: dayEnd(sel.until) })),
    limited(days, 4, (day) => api(spendPath({ group_by: 'vendor', label_prefix: sel.prefix, since: dayStart(day), until: dayEnd(day) }))),
  ]);
  return { days, period, perDay };
}

function renderSpend({ days, period, perDay }) {
  const groups = period.groups;
  const totals = [
    ['Net spend', 'total-net', moneyCell(sum(groups, 'cost_usd'))],
    ['Gross', 'total-gross', moneyCell(sum(groups, 'gross_usd'))],
    ['Refunds', 'total-refunds', moneyCell(sum(groups, 'refunds_usd'))],
    ['Vendor fees', 'total-fees', moneyCell(sum(groups, 'fee_usd'))],
    ['Calls', 'total-calls', groups.reduce((n, g) => n + g.calls, 0)],
    ['Denied', 'total-denied', groups.reduce((n, g) => n + g.denied, 0)],
  ];
  $('spend-totals').replaceChildren(...totals.map(([label, id, value]) =>
    el('div', {}, el('dt', {}, label), typeof value === 'number'
      ? el('dd', { id }, value.toLocaleString('en-US'))
      : el('dd', { id, 'data-usd': value.exact, title: `$${value.exact}` }, value.text))));

  const vendors = vendorsOf([period, ...perDay]);
  const cell = (report, vendor) => micros(report.groups.find((g) => g.key === vendor)?.cost_usd ?? 0);

  if (chart) chart.destroy();
  chart = new Chart($('spend-chart'), {
    type: 'bar',
    data: {
      labels: days,
      datasets: vendors.map((vendor, i) => ({
        label: vendor,
        data: perDay.map((report) => cell(report, vendor) / 1e6),
        backgroundColor: VENDOR_COLORS[vendor] ?? SPARE_COLORS[i % SPARE_COLORS.length],
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true },
        y: { stacked: true, ticks: { callback: (v) => formatMicros(Math.round(v * 1e6)) } },
      },
      plugins: {
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatMicros(Math.round(ctx.parsed.y * 1e6))}` } },
      },
    },
  });

  const rows = days.map((day, i) => el('tr', { 'data-day': day }, el('td', {}, day),
    vendors.map((v) => moneyMicros(cell(perDay[i], v), { 'data-vendor': v })),
    moneyMicros(sum(perDay[i].groups, 'cost_usd'), { 'data-vendor': 'total' })));
  const foot = el('tr', { 'data-day': 'period' }, el('td', {}, 'Period'),
    vendors.map((v) => moneyMicros(cell(period, v), { 'data-vendor': v })),
    moneyMicros(sum(groups, 'cost_usd'), { 'data-vendor': 'total' }));
  table('spend-table', ['Day (UTC)', ...vendors.map((v) => ({ text: `${v} (net)`, num: true })), { text: 'Total (net)', num: true }], rows, foot);
  if (groups.length === 0) setState('spend', 'empty', 'No spend in this period for this selection.');
}

function moneyCell(m) {
  return { text: formatMicros(m), exact: exactUsd(m / 1e6) };
}

async function loadBreakdown(api, sel) {
  const depth = depthOf(sel.prefix);
  const level = LEVELS[depth];
  const report = await api(spendPath({ group_by: level, label_prefix: sel.prefix, since: dayStart(sel.since), until: dayEnd(sel.until) }));
  return { level, depth, groups: report.groups };
}

function renderBreakdown({ level, depth, groups }, sel) {
  $('breakdown-title').textContent = LEVEL_TITLES[level];
  const top = groups.slice(0, TOP_BARS);
  const max = Math.max(0, ...top.map((g) => micros(g.cost_usd)));
  const base = baseOf(sel.prefix, depth);
  $('breakdown').replaceChildren(...top.map((g) => {
    const target = level === 'run' ? base + g.key : `${base}${g.key}:`;
    // "unknown" stands for labels that stop before this level: there is no prefix to drill into.
    const drillable = g.key !== 'unknown' && target !== sel.prefix;
    const fill = el('span', { className: 'fill' });
    fill.style.width = `${max > 0 ? Math.max(0, (micros(g.cost_usd) / max) * 100) : 0}%`;
    return el('li', { 'data-key': g.key },
      el('button', {
        type: 'button', className: 'bar', disabled: !drillable,
        title: drillable ? `Show ${target}` : null,
        onclick: () => select({ ...sel, prefix: target }),
      }, el('span', { className: 'name' }, g.key), el('span', { className: 'track' }, fill),
      el('span', { className: 'value', 'data-usd': exactUsd(g.cost_usd), title: `$${exactUsd(g.cost_usd)}` }, formatUsd(g.cost_usd))),
      el('div', { className: 'bar-meta' },
        `gross ${formatUsd(g.gross_usd)} · refunds ${formatUsd(g.refunds_usd)} · ${g.calls} calls · ${g.denied} denied`));
  }));
  if (groups.length === 0) setState('breakdown', 'empty', 'No spend in this period for this selection.');
  else if (groups.length > TOP_BARS) setState('breakdown', 'note', `The top ${TOP_BARS} of ${groups.length}, by net spend.`);
}

async function loadBudgets(api, sel) {
  const { budgets } = await api('/v1/budgets');
  // The budgets that cover the selection or lie inside it.
  const relevant = budgets.filter((b) => b.label_prefix === '*' || !sel.prefix
    || sel.prefix.startsWith(b.label_prefix) || b.label_prefix.startsWith(sel.prefix));
  const monthStart = `${todayUtc().slice(0, 7)}-01T00:00:00Z`;
  return limited(relevant, 4, async (b) => {
    const prefix = b.label_prefix === '*' ? '' : b.label_prefix;
    // Caps count gross spend (refunds never free budget); without since/until the API reports the server's UTC today.
    const [today, month] = await Promise.all([
      b.daily_usd === null ? null : api(spendPath({ label_prefix: prefix })),
      b.monthly_usd === null ? null : api(spendPath({ label_prefix: prefix, since: monthStart })),
    ]);
    return { budget: b, today: today && sum(today.groups, 'gross_usd'), month: month && sum(month.groups, 'gross_usd') };
  });
}

function gauge(usedMicros, capMicros, thresholds) {
  const ratio = capMicros > 0 ? usedMicros / capMicros : 0;
  const fill = el('span', { className: `fill${ratio >= 1 ? ' over' : ratio >= NEAR_CAP ? ' warn' : ''}` });
  fill.style.width = `${Math.min(100, ratio * 100)}%`;
  const ticks = thresholds.filter((x) => x < 1).map((x) => {
    const tick = el('span', { className: 'tick', title: `${Math.round(x * 100)}%` });
    tick.style.left = `${x * 100}%`;
    return tick;
  });
  return el('div', { className: 'gauge', role: 'meter', 'aria-valuenow': Math.round(ratio * 100), 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill, ticks);
}

function renderBudgets(rows) {
  const lines = rows.flatMap(({ budget, today, month }) => [
    ['today (UTC)', budget.daily_usd, today],
    ['this month', budget.monthly_usd, month],
  ].filter(([, amount]) => amount !== null).map(([period, amount, usedMicros]) => {
    const cap = micros(amount);
    const crossed = budget.alert_thresholds.filter((x) => usedMicros >= x * cap);
    const ratio = cap > 0 ? usedMicros / cap : 0;
    const tag = ratio >= 1 ? el('span', { className: 'tag bad' }, 'at cap')
      : crossed.length ? el('span', { className: 'tag warn' }, `past ${Math.round(Math.max(...crossed) * 100)}%`)
      : el('span', { className: 'tag ok' }, 'ok');
    return el('tr', { 'data-prefix': budget.label_prefix, 'data-period': period === 'this month' ? 'monthly' : 'daily' },
      el('td', {}, el('code', {}, budget.label_prefix)), el('td', {}, period), money(amount), moneyMicros(usedMicros),
      el('td', {}, gauge(usedMicros, cap, budget.alert_thresholds)),
      el('td', {}, budget.alert_thresholds.map((x) => `${Math.round(x * 100)}%`).join(' · ') || 'none'), el('td', {}, tag));
  }));
  table('budgets-table', ['Prefix', 'Period', { text: 'Budget', num: true }, { text: 'Spent (gross)', num: true }, 'Use', 'Alert thresholds', ''], lines);
  if (lines.length === 0) setState('budgets', 'empty', 'No budget covers this selection.');
}

async function loadKeys(api, sel) {
  const list = await api(`/v1/keys${query({ status: 'active', label_prefix: sel.prefix, limit: 1000 })}`);
  // The list has no spend; a key's own read has today's spend and remaining cap.
  const keys = await limited(list.keys, 6, (k) => api(`/v1/keys/${encodeURIComponent(k.id)}`));
  const near = keys
    .filter((k) => micros(k.spent_today_usd) >= NEAR_CAP * micros(k.daily_usd_cap))
    .sort((a, b) => micros(b.spent_today_usd) / micros(b.daily_usd_cap) - micros(a.spent_today_usd) / micros(a.daily_usd_cap));
  return { near, active: keys.length, more: list.next_cursor !== null };
}

function renderKeys({ near, active, more }, t) {
  const rows = near.map((k) => {
    const action = el('td', {});
    const revoke = el('button', { type: 'button', className: 'revoke' }, 'Revoke');
    revoke.addEventListener('click', () => {
      const confirm = el('button', { type: 'button', className: 'confirm-revoke' }, 'Confirm revoke');
      const cancel = el('button', { type: 'button', className: 'secondary', onclick: () => action.replaceChildren(revoke) }, 'Cancel');
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        try {
          await call(t, `/v1/keys/${encodeURIComponent(k.id)}`, 'DELETE');
          action.replaceChildren(el('span', { className: 'tag bad' }, 'revoked'));
        } catch (e) {
          if (e instanceof ApiError && e.kind === 'unauthorized') failed('keys', e);
          else action.replaceChildren(revoke, el('span', { className: 'tag bad' }, `revoke failed: ${e.message}`));
        }
      });
      action.replaceChildren(confirm, ' ', cancel);
    });
    action.append(revoke);
    const used = micros(k.spent_today_usd);
    const cap = micros(k.daily_usd_cap);
    return el('tr', { 'data-key-id': k.id },
      el('td', {}, el('code', {}, k.label)), el('td', {}, k.vendor), el('td', {}, el('code', {}, k.id)),
      money(k.spent_today_usd), money(k.daily_usd_cap), money(k.remaining_usd), el('td', {}, gauge(used, cap, [NEAR_CAP])), action);
  });
  table('keys-table', ['Label', 'Vendor', 'Key', { text: 'Spent today', num: true }, { text: 'Daily cap', num: true }, { text: 'Remaining', num: true }, 'Use', ''], rows);
  const scope = `${active} active key${active === 1 ? '' : 's'}${more ? ' (the first 1000)' : ''}`;
  setState('keys', near.length ? 'note' : 'empty',
    near.length ? `${near.length} of ${scope} at ${NEAR_CAP * 100}% of their daily cap or more (UTC day).` : `None of ${scope} is at ${NEAR_CAP * 100}% of its daily cap.`);
}

async function loadAlerts(api, sel) {
  const { alerts } = await api(`/v1/alerts${query({ since: dayStart(sel.since) })}`);
  const end = Date.parse(dayEnd(sel.until).replace('9999999Z', '999Z'));
  const tenant = sel.prefix.includes(':') ? sel.prefix.split(':')[0] : null;
  return alerts.filter((a) => Date.parse(a.fired_at) <= end && (!tenant || a.tenant === tenant));
}

function renderAlerts(alerts) {
  const rows = alerts.slice(0, 50).map((a) => el('tr', { 'data-alert-id': a.id, 'data-kind': a.kind },
    el('td', {}, shortTime(a.fired_at)),
    el('td', {}, el('span', { className: `tag ${a.kind === 'loop_detected' ? 'bad' : 'warn'}` }, a.kind)),
    el('td', {}, a.tenant), el('td', {}, el('code', {}, a.subject)), el('td', {}, a.message),
    el('td', {}, el('span', { className: `tag ${a.delivery_state === 'delivered' ? 'ok' : ''}` }, a.delivery_state))));
  table('alerts-table', ['Fired (UTC)', 'Kind', 'Tenant', 'Subject', 'Message', 'Webhook'], rows);
  if (alerts.length === 0) setState('alerts', 'empty', 'No alert fired in this period.');
}

async function loadAudit(api, sel) {
  return api(`/v1/audit${query({
    since: dayStart(sel.since), until: dayEnd(sel.until), label_prefix: sel.prefix,
    outcome: $('denied-only').checked ? 'denied' : '', limit: AUDIT_TAIL,
  })}`);
}

function renderAudit(page) {
  const rows = page.entries.map((e) => el('tr', { className: e.outcome === 'denied' ? 'denied' : null, 'data-audit-id': e.id },
    el('td', {}, shortTime(e.ts)), el('td', {}, el('code', {}, e.label)), el('td', {}, e.vendor),
    el('td', {}, e.operation ?? `${e.method} ${e.path}`), el('td', { className: 'num' }, e.status ?? ''),
    el('td', {}, e.outcome), money(e.cost_usd), el('td', { className: 'reason' }, e.reason ?? '')));
  table('audit-table', ['Time (UTC)', 'Label', 'Vendor', 'Operation', { text: 'Status', num: true }, 'Outcome', { text: 'Cost', num: true }, 'Reason'], rows);
  if (page.entries.length === 0) setState('audit', 'empty', 'No call in this period for this selection.');
  else setState('audit', 'note', `The latest ${page.entries.length} calls${page.next_cursor ? ' (older ones in GET /v1/audit)' : ''}.`);
}

function shortTime(iso) {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

// ---- wiring

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('token-input').value.trim();
  $('token-input').value = '';
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  refresh();
});
$('forget-token').addEventListener('click', () => forget(''));
$('selection').addEventListener('submit', (event) => {
  event.preventDefault();
  select({ since: $('since').value, until: $('until').value, prefix: $('prefix').value.trim() });
});
$('denied-only').addEventListener('change', () => refresh());
window.addEventListener('hashchange', () => refresh());
refresh();
