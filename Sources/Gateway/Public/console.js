// Netra operations console: the queue, tenants, workers, failures and dead letters of the whole deployment, refreshed
// every two seconds from the admin API. Signs in with the operator token, kept in this tab's session storage only.

import { el } from './dom.js';

const TOKEN_KEY = 'netra.adminToken';
const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);

const state = { token: sessionStorage.getItem(TOKEN_KEY), timer: null, failuresShown: 10 };

const count = (n) => Number(n || 0).toLocaleString('en-US');
const age = (ms) => {
  if (ms == null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
};
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');
const errorText = (error) => (error == null ? '' : typeof error === 'string' ? error : error.message || JSON.stringify(error));

async function api(method, path) {
  const response = await fetch(path, { method, headers: { Authorization: 'Bearer ' + state.token } });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(data?.error?.message || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// ---------- Sign-in ----------

$('console-login').addEventListener('submit', async (event) => {
  event.preventDefault();
  state.token = $('console-token').value.trim();
  $('console-error').textContent = '';
  try {
    await refresh(true);
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $('console-token').value = '';
  } catch (error) {
    state.token = null;
    $('console-error').textContent = error.status === 401 ? 'That token is not the operator token.' : `Could not load: ${error.message}`;
  }
});

$('console-signout').addEventListener('click', signedOut);

function signedOut() {
  clearTimeout(state.timer);
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('console-view').hidden = true;
  $('console-signin').hidden = false;
  $('console-token').focus();
}

// ---------- Refresh ----------

/** Loads both figures; on the first call a failure is the caller's (the sign-in form shows it). */
async function refresh(first = false) {
  clearTimeout(state.timer);
  try {
    const [queue, failures] = await Promise.all([api('GET', '/api/admin/queue'), api('GET', '/api/admin/failures?limit=50')]);
    renderQueue(queue);
    renderFailures(failures.runs);
    $('console-signin').hidden = true;
    $('console-view').hidden = false;
    setStatus('connected', `Updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    if (first) throw error;
    if (error.status === 401) { signedOut(); $('console-error').textContent = 'The operator token was refused; sign in again.'; return; }
    setStatus('reconnecting', `Refresh failed (${error.message}); retrying`);
  }
  state.timer = setTimeout(() => refresh(), REFRESH_MS);
}

function setStatus(kind, text) {
  const status = $('console-status');
  status.dataset.state = kind;
  status.textContent = text;
}

function figure(name, value) {
  document.querySelector(`#queue-summary [data-figure="${name}"]`).textContent = value;
}

function rows(table, items, render, emptyNote) {
  const body = $(table).querySelector('tbody');
  body.replaceChildren(...items.map(render));
  if (emptyNote) $(emptyNote).hidden = items.length > 0;
}

const cell = (text, className) => el('td', className ? { className, text } : { text });

function renderQueue(queue) {
  figure('length', count(queue.streams.reduce((sum, stream) => sum + stream.length, 0)));
  figure('lag', count(queue.lag));
  figure('pending', count(queue.pending));
  figure('oldest', age(queue.oldest_waiting_ms));
  figure('rate', queue.runs_per_second.toFixed(1));
  figure('delayed', count(queue.delayed));
  figure('dead', count(queue.dead_letters));
  // The key without the deployment's prefix ("runs:high"; the whole key on hover), so that the table fits its panel.
  rows('streams', queue.streams, (stream) => el('tr', { title: stream.name },
    cell(stream.name.slice(stream.name.lastIndexOf(':runs') + 1)), cell(count(stream.length), 'num'), cell(count(stream.lag), 'num'),
    cell(count(stream.pending), 'num'), cell(age(stream.oldest_waiting_ms), 'num')));
  rows('tenants', queue.tenants, (tenant) => el('tr', {},
    cell(tenant.tenant_id, 'id'), cell(count(tenant.in_flight), 'num'), cell(count(tenant.backlog), 'num')), 'tenants-empty');
  rows('workers', queue.workers, (worker) => el('tr', { 'data-worker': worker.name, className: worker.slots == null ? 'gone' : '' },
    cell(worker.name, 'id'), cell(worker.slots == null ? 'gone' : count(worker.slots), 'num'), cell(count(worker.pending), 'num'),
    cell(age(worker.idle_ms), 'num')), 'workers-empty');
}

function renderFailures(runs) {
  const failures = $('failures');
  failures.replaceChildren(...runs.slice(0, state.failuresShown).map((run) => el('li', { 'data-run-id': run.run_id },
    el('span', { className: 'when', text: time(run.finished_at) }), ' ',
    el('span', { className: `status ${run.status}`, text: run.status }), ' ',
    el('code', { text: run.run_id }), ` ${run.pipeline}, attempt ${run.attempt}: `,
    el('span', { className: 'reason', text: errorText(run.error) }))));
  $('failures-empty').hidden = runs.length > 0;
  rows('dead', runs, (run) => el('tr', { 'data-run-id': run.run_id },
    cell(run.run_id, 'id'), cell(run.tenant_id, 'id'), cell(run.pipeline), cell(run.status), cell(String(run.attempt), 'num'),
    cell(time(run.finished_at)),
    el('td', {}, el('button', {
      type: 'button', className: 'retry', 'data-run-id': run.run_id, 'aria-label': `Retry run ${run.run_id}`, text: 'Retry',
      onclick: (event) => retry(run.run_id, event.currentTarget),
    }))));
}

async function retry(runID, button) {
  button.disabled = true;
  try {
    await api('POST', `/api/admin/runs/${encodeURIComponent(runID)}/retry`);
    $('retry-result').textContent = `Run ${runID} is queued again.`;
  } catch (error) {
    $('retry-result').textContent = `Retry of ${runID} failed: ${error.message}`;
  }
  refresh();
}

if (state.token) {
  refresh(true).catch(() => signedOut());
} else {
  signedOut();
}
