// Netra chat page. Plain ES module: no framework, no build step, no external URLs.
// Every text that comes from the user or the server is put in the DOM with textContent / createTextNode.

import { el, svg } from './dom.js';

const TOKEN_KEY = 'netra.token';
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  threads: [],
  threadId: null,
  ws: null,
  attempt: 0,
  reconnectTimer: null,
  lastMessageAt: 0,
  heartbeatMs: 15000,
  run: null, // {id, threadId, lastSeq, stages, view, done, pending, sentAt}
};

// ---------- DOM helpers ----------

const usd = (n) => '$' + Number(n || 0).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const seconds = (ms) => (ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s');

// ---------- REST ----------

async function api(method, path, body, contentType = 'application/json') {
  const headers = {};
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = contentType;
    payload = contentType === 'application/json' ? JSON.stringify(body) : body;
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && path !== '/api/auth/login') signedOut();
    const error = new Error(data?.error?.message || `${response.status} ${response.statusText}`);
    error.status = response.status;
    error.body = data;
    throw error;
  }
  return data;
}

// ---------- Login ----------

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  try {
    const answer = await api('POST', '/api/auth/login', { email: $('login-email').value, password: $('login-password').value });
    state.token = answer.access_token;
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $('login-password').value = '';
    start();
  } catch (error) {
    $('login-error').textContent = error.message;
  }
});

$('logout').addEventListener('click', async () => {
  try { await api('POST', '/api/auth/logout'); } catch { /* the token is dropped anyway */ }
  signedOut();
});

function signedOut() {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.reconnectTimer);
  if (state.ws) { detach(state.ws); state.ws.close(); state.ws = null; }
  state.run = null;
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  $('login-email').focus();
}

function start() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  connect();
  loadThreads().catch(showError);
}

// ---------- Threads ----------

async function loadThreads() {
  const { threads } = await api('GET', '/api/threads');
  state.threads = threads;
  if (!threads.some((t) => t.id === state.threadId)) {
    const active = threads.find((t) => t.active) || threads[0];
    state.threadId = null;
    if (active) await selectThread(active.id);
  }
  renderThreads();
}

function renderThreads() {
  const list = $('thread-list');
  list.replaceChildren();
  for (const thread of state.threads) {
    const current = thread.id === state.threadId;
    list.append(el('li', { className: current ? 'current' : '' },
      el('button', { type: 'button', className: 'thread-title', 'aria-current': current ? 'true' : 'false', onclick: () => selectThread(thread.id) }, thread.title),
      el('button', { type: 'button', 'aria-label': `Rename “${thread.title}”`, onclick: () => renameThread(thread) }, 'Rename'),
      el('button', { type: 'button', 'aria-label': `Delete “${thread.title}”`, onclick: () => deleteThread(thread) }, 'Delete')));
  }
}

async function createThread(title) {
  const thread = await api('POST', '/api/threads', title ? { title } : {});
  state.threads.unshift(thread);
  await selectThread(thread.id);
  return thread;
}

async function selectThread(id) {
  state.threadId = id;
  const thread = state.threads.find((t) => t.id === id);
  $('thread-title').textContent = thread ? thread.title : 'Conversation';
  renderThreads();
  api('PUT', `/api/threads/${id}/switch`).catch(() => {});
  const { messages } = await api('GET', `/api/threads/${id}/messages`);
  if (state.threadId !== id) return;
  const list = $('messages');
  list.replaceChildren();
  for (const message of messages) list.append(renderMessage(message));
  const run = state.run;
  if (run && run.threadId === id && !run.done) list.append(run.view.item);
  $('agent-panel').hidden = !(run && run.threadId === id);
  list.lastElementChild?.scrollIntoView({ block: 'end' });
  if (!run || run.done) await adoptRunningRun(id);
}

// After a reload the page knows no run: if the thread has one going, follow it from its first event (the gateway
// replays the stored events, then relays live ones), so the stages, tool lines and report appear as if never left.
async function adoptRunningRun(threadId) {
  let runs;
  try { ({ runs } = await api('GET', '/api/agent/history?limit=20')); } catch { return; }
  const going = runs.find((r) => r.thread_id === threadId && ['queued', 'running', 'scheduled'].includes(r.status));
  if (!going || state.threadId !== threadId || (state.run && !state.run.done)) return;
  state.run = newRun(threadId);
  state.run.id = going.run_id;
  $('messages').append(state.run.view.item);
  $('agent-stages').replaceChildren();
  $('agent-panel').hidden = false;
  $('thinking').hidden = false;
  $('stop').disabled = false;
  resumeRun();
}

async function renameThread(thread) {
  const title = window.prompt('New title', thread.title);
  if (!title || !title.trim()) return;
  try {
    Object.assign(thread, await api('PATCH', `/api/threads/${thread.id}`, { title: title.trim() }));
    if (thread.id === state.threadId) $('thread-title').textContent = thread.title;
    renderThreads();
  } catch (error) { showError(error); }
}

async function deleteThread(thread) {
  if (!window.confirm(`Delete “${thread.title}” and its messages?`)) return;
  try {
    await api('DELETE', `/api/threads/${thread.id}`);
    state.threads = state.threads.filter((t) => t.id !== thread.id);
    if (thread.id === state.threadId) {
      state.threadId = null;
      $('messages').replaceChildren();
      $('thread-title').textContent = 'No conversation selected';
      if (state.threads[0]) await selectThread(state.threads[0].id);
    }
    renderThreads();
  } catch (error) { showError(error); }
}

$('new-thread-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await createThread($('new-thread-title').value.trim());
    $('new-thread-title').value = '';
  } catch (error) { showError(error); }
});

// ---------- Messages ----------

function renderMessage(message) {
  const item = el('li', { className: 'msg ' + message.role });
  item.append(el('p', { className: 'who', text: message.role === 'user' ? 'You' : 'Netra' }));
  if (message.role === 'user') {
    item.append(el('p', { className: 'plain', text: message.content }));
  } else {
    item.append(renderAssistantText(message.content));
    if (message.run_id && message.content.startsWith('# ')) attachChartsFromStatus(item, message.run_id);
  }
  return item;
}

function renderAssistantText(content) {
  const trimmed = content.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try { return el('pre', { text: JSON.stringify(JSON.parse(trimmed), null, 2) }); } catch { /* Markdown */ }
  }
  return renderMarkdown(content);
}

// Past reports: the messages carry only Markdown, the charts come from the run's stored result.
async function attachChartsFromStatus(item, runID) {
  try {
    const run = await api('GET', `/api/agent/status/${runID}`);
    const report = run?.result?.report;
    if (report) item.append(renderCharts(report));
  } catch { /* charts are optional */ }
}

function showError(error) {
  $('messages').append(el('li', { className: 'msg system', role: 'alert' }, error.message || String(error)));
}

// ---------- Markdown (safe: DOM nodes only) ----------

const ENTITIES = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&#39;': "'" };

function renderMarkdown(text) {
  const root = el('div', { className: 'markdown' });
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    if (line.startsWith('```')) {
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
      i++;
      root.append(el('pre', {}, el('code', { text: code.join('\n') })));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const level = Math.min(heading[1].length + 2, 6); // the page already uses h1/h2
      root.append(el('h' + level, {}, ...inline(heading[2])));
      i++;
      continue;
    }
    if (line.trim().startsWith('|') && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1])) {
      const align = splitRow(lines[i + 1]).map((c) => (c.endsWith(':') ? 'right' : 'left'));
      const head = el('tr', {}, ...splitRow(line).map((c, n) => el('th', { scope: 'col', className: align[n] || 'left' }, ...inline(c))));
      const body = el('tbody');
      for (i += 2; i < lines.length && lines[i].trim().startsWith('|'); i++) {
        body.append(el('tr', {}, ...splitRow(lines[i]).map((c, n) => el('td', { className: align[n] || 'left' }, ...inline(c)))));
      }
      root.append(el('div', { className: 'table-wrap' }, el('table', {}, el('thead', {}, head), body)));
      continue;
    }
    if (line.startsWith('>')) {
      const quote = [];
      for (; i < lines.length && lines[i].startsWith('>'); i++) quote.push(lines[i].replace(/^>\s?/, ''));
      root.append(el('blockquote', {}, el('p', {}, ...inline(quote.join(' ')))));
      continue;
    }
    const bullet = /^\s*([-*+]|\d+\.)\s+/;
    if (bullet.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const list = el(ordered ? 'ol' : 'ul');
      for (; i < lines.length && bullet.test(lines[i]); i++) list.append(el('li', {}, ...inline(lines[i].replace(bullet, ''))));
      root.append(list);
      continue;
    }
    const paragraph = [];
    for (; i < lines.length && lines[i].trim() && !/^(#{1,6}\s|```|>|\s*\||\s*([-*+]|\d+\.)\s)/.test(lines[i]); i++) paragraph.push(lines[i]);
    if (!paragraph.length) paragraph.push(lines[i++]);
    root.append(el('p', {}, ...inline(paragraph.join(' '))));
  }
  return root;
}

// Splits a table row on unescaped pipes.
function splitRow(line) {
  const cells = [];
  let cell = '';
  const text = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length) { cell += text[i] + text[i + 1]; i++; } else if (text[i] === '|') { cells.push(cell.trim()); cell = ''; } else cell += text[i];
  }
  cells.push(cell.trim());
  return cells;
}

// Inline Markdown → array of nodes: \escapes, `code`, **bold**, *italic* / _italic_, HTML entities as text.
function inline(text) {
  const nodes = [];
  let buffer = '';
  const flush = () => { if (buffer) nodes.push(document.createTextNode(buffer)); buffer = ''; };
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) { buffer += text[i + 1]; i += 2; continue; }
    if (c === '&') {
      const entity = /^&(lt|gt|amp|quot|#39);/.exec(text.slice(i));
      if (entity) { buffer += ENTITIES[entity[0]]; i += entity[0].length; continue; }
    }
    if (c === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i) { flush(); nodes.push(el('code', { text: text.slice(i + 1, end) })); i = end + 1; continue; }
    }
    if (c === '*' && text[i + 1] === '*') {
      const end = findClosing(text, '**', i + 2);
      if (end > i + 2) { flush(); nodes.push(el('strong', {}, ...inline(text.slice(i + 2, end)))); i = end + 2; continue; }
    }
    if (c === '*' || (c === '_' && !/\w/.test(text[i - 1] || ''))) {
      const end = findClosing(text, c, i + 1);
      if (end > i + 1) { flush(); nodes.push(el('em', {}, ...inline(text.slice(i + 1, end)))); i = end + 1; continue; }
    }
    buffer += c;
    i++;
  }
  flush();
  return nodes;
}

function findClosing(text, marker, from) {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') { i++; continue; }
    if (text.startsWith(marker, i) && (marker !== '*' || text[i + 1] !== '*')) return i;
    if (marker === '*' && text.startsWith('**', i)) i++;
  }
  return -1;
}

// ---------- Charts (SVG, from the report JSON) ----------

function renderCharts(report) {
  const box = el('div', { className: 'charts' });
  const byModel = report.charts?.cost_by_model?.length
    ? report.charts.cost_by_model
    : (report.cost_by_model || []).map((r) => ({ label: r.model, value: r.monthly_cost_usd }));
  if (byModel.length) box.append(barChart('Monthly cost by model', byModel.slice(0, 10)));
  const savings = report.charts?.savings_by_opportunity || [];
  if (savings.length) box.append(barChart('Monthly savings by opportunity', savings.slice(0, 8)));
  return box;
}

function barChart(title, points) {
  const width = 640, row = 26, labelWidth = 230, valueWidth = 90;
  const height = points.length * row + 8;
  const max = Math.max(...points.map((p) => p.value), 0.01);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'chart' });
  chart.append(svg('title', {}, title));
  points.forEach((point, n) => {
    const y = n * row + 4;
    const barWidth = Math.max(1, ((width - labelWidth - valueWidth) * point.value) / max);
    const label = point.label.length > 34 ? point.label.slice(0, 33) + '…' : point.label;
    const text = svg('text', { x: labelWidth - 6, y: y + 16, 'text-anchor': 'end', class: 'chart-label' }, label);
    text.append(svg('title', {}, point.label));
    chart.append(text);
    chart.append(svg('rect', { x: labelWidth, y: y + 3, width: barWidth.toFixed(1), height: row - 8, rx: 3, class: 'chart-bar' }));
    chart.append(svg('text', { x: labelWidth + barWidth + 6, y: y + 16, class: 'chart-value' }, usd(point.value)));
  });
  return el('figure', {}, chart, el('figcaption', { text: title }));
}

// ---------- WebSocket ----------

function connect() {
  if (!state.token) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  setBanner(state.attempt ? 'reconnecting' : 'connecting');
  ws.onopen = () => {
    state.attempt = 0;
    state.lastMessageAt = Date.now();
    setBanner('connected');
    resumeRun();
  };
  ws.onmessage = (event) => {
    state.lastMessageAt = Date.now();
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    handleEvent(message);
  };
  ws.onclose = () => { if (state.ws === ws) scheduleReconnect(); };
}

function detach(ws) { ws.onopen = ws.onmessage = ws.onclose = null; }

function scheduleReconnect() {
  state.ws = null;
  if (!state.token) return;
  const delay = Math.min(10000, 500 * 2 ** state.attempt) * (0.8 + Math.random() * 0.4);
  state.attempt++;
  setBanner('reconnecting', delay);
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(async () => {
    // A refused token makes the upgrade fail like a network error: ask REST whether it still works.
    if (state.attempt >= 3) { try { await api('GET', '/api/auth/me'); } catch (error) { if (error.status === 401) return; } }
    connect();
  }, delay);
}

// A socket that stopped hearing heartbeats is dead even if the browser has not noticed.
setInterval(() => {
  const ws = state.ws;
  if (ws && ws.readyState === WebSocket.OPEN && Date.now() - state.lastMessageAt > state.heartbeatMs * 2.5) {
    detach(ws);
    ws.close();
    scheduleReconnect();
  }
}, 5000);

function setBanner(status, delay) {
  const banner = $('conn-banner');
  banner.dataset.state = status;
  banner.textContent = status === 'connected' ? 'Connected'
    : status === 'connecting' ? 'Connecting…'
      : `Reconnecting${delay ? ` in ${seconds(delay)}` : ''}…`;
  $('send').disabled = status !== 'connected';
}

function send(action, data) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify({ action, data }));
  return true;
}

async function resumeRun() {
  const run = state.run;
  if (!run || run.done) return;
  if (!run.id) {
    // The socket closed before agent_started told us the run's id: find it in the history.
    try {
      const { runs } = await api('GET', '/api/agent/history?limit=10');
      const found = runs.find((r) => r.thread_id === run.threadId && Date.parse(r.created_at) >= run.sentAt - 5000);
      if (!found) { finishRun('lost', 'The connection dropped before the run started; send the message again.'); return; }
      run.id = found.run_id;
    } catch (error) { showError(error); return; }
  }
  send('subscribe_run', { run_id: run.id, last_seq: run.lastSeq });
}

// ---------- Runs ----------

$('composer').addEventListener('submit', (event) => { event.preventDefault(); sendMessage(); });
$('composer-input').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendMessage(); }
});
$('stop').addEventListener('click', () => {
  const run = state.run;
  if (!run || run.done) return;
  if (run.id) send('stop_agent', { run_id: run.id });
  else run.stopRequested = true; // sent as soon as agent_started names the run
});

async function sendMessage() {
  const input = $('composer-input');
  const text = input.value.trim();
  if (!text) return;
  if (state.run && !state.run.done) {
    if (state.run.threadId !== state.threadId) showError(new Error('A run is still going in another conversation; wait for it or stop it there.'));
    return;
  }
  try {
    if (!state.threadId) await createThread(text.length > 60 ? text.slice(0, 57) + '…' : text);
  } catch (error) { showError(error); return; }
  state.run = newRun(state.threadId);
  if (!send('start_agent', { message: text, thread_id: state.threadId })) { state.run = null; showError(new Error('Not connected; try again in a moment.')); return; }
  input.value = '';
  $('messages').append(renderMessage({ role: 'user', content: text }), state.run.view.item);
  state.run.view.item.scrollIntoView({ block: 'end' });
  $('stop').disabled = false;
  $('thinking').hidden = false;
  $('agent-panel').hidden = false;
  $('agent-stages').replaceChildren();
}

function newRun(threadId) {
  const log = el('div', { className: 'run-log' });
  const result = el('div', { className: 'run-result' });
  const item = el('li', { className: 'msg assistant' }, el('p', { className: 'who', text: 'Netra' }), log, result);
  return { id: null, threadId, lastSeq: 0, stages: [], view: { item, log, result }, done: false, sentAt: Date.now() };
}

function handleEvent(message) {
  const { type, data = {}, metadata = {} } = message;
  if (type === 'connection_established') {
    if (data.heartbeat_interval_ms) state.heartbeatMs = data.heartbeat_interval_ms;
    return;
  }
  if (type === 'heartbeat') return;
  const run = state.run;
  if (type === 'error' && !metadata.run_id) { showError(new Error(`${data.code}: ${data.message}`)); if (run && !run.id && !run.done) finishRun('failed'); return; }
  if (!run) return;
  // The id arrives with start_agent's acknowledgement (agent_log, no seq), or at the latest with agent_started.
  const names = type === 'agent_started' || (type === 'agent_log' && metadata.seq == null && data.run_id);
  if (!run.id && names && metadata.thread_id === run.threadId) {
    run.id = metadata.run_id;
    if (run.stopRequested) send('stop_agent', { run_id: run.id });
  }
  if (metadata.run_id !== run.id) return;
  if (metadata.seq != null) {
    if (metadata.seq <= run.lastSeq) return; // replayed after a reconnect: already shown
    run.lastSeq = metadata.seq;
  }
  const at = Date.parse(metadata.timestamp) || Date.now();
  switch (type) {
    case 'agent_started':
      for (const name of data.stages || []) if (!run.stages.some((s) => s.name === name)) run.stages.push({ name, status: 'waiting' });
      break;
    case 'sub_agent_update': {
      const stage = stageFor(run, metadata.agent_name, data.stage_index);
      if (data.status === 'started') Object.assign(stage, { status: 'thinking', startedAt: at });
      if (data.status === 'completed') Object.assign(stage, { status: 'done', durationMs: data.duration_ms, summary: data.summary });
      break;
    }
    case 'tool_call':
      run.view.log.append(detailsLine('call', `${metadata.agent_name || 'agent'} → ${data.tool}`, data));
      break;
    case 'tool_result':
      run.view.log.append(detailsLine('result', `${data.tool}: ${data.summary || 'done'}`, data));
      break;
    case 'agent_log':
      if (metadata.seq == null && data.run_id && data.message === 'run accepted') break; // the acknowledgement
      run.view.log.append(el('p', { className: 'log' }, data.message || JSON.stringify(data)));
      if (data.cancelled === true && data.status === 'cancelled') finishRun('cancelled');
      break;
    case 'agent_completed':
      renderResult(run, data);
      finishRun(data.status);
      break;
    case 'error':
      if (data.code === 'relay_failed') resumeRun();
      else run.view.log.append(el('p', { className: 'error' }, `${data.code}: ${data.message}`));
      break;
  }
  renderStages();
  if (run.threadId === state.threadId) run.view.item.scrollIntoView({ block: 'end' });
}

function stageFor(run, name, index) {
  let stage = run.stages.find((s) => s.name === name) || run.stages[index];
  if (!stage) { stage = { name: name || `stage ${index + 1}`, status: 'waiting' }; run.stages.push(stage); }
  return stage;
}

function detailsLine(kind, summary, data) {
  let body = JSON.stringify(data, null, 2);
  if (body.length > 20000) body = body.slice(0, 20000) + '\n…';
  return el('details', { className: 'tool ' + kind }, el('summary', { text: summary }), el('pre', { text: body }));
}

function renderResult(run, data) {
  const box = run.view.result;
  box.replaceChildren();
  if (data.status === 'succeeded') {
    const result = data.result;
    if (result && typeof result.markdown === 'string') {
      box.append(renderMarkdown(result.markdown));
      if (result.report) box.append(renderCharts(result.report));
    } else box.append(el('pre', { text: JSON.stringify(result, null, 2) }));
  } else if (data.status === 'cancelled') {
    box.append(el('p', { className: 'log', text: 'The run was cancelled.' }));
  } else {
    const error = data.error;
    box.append(el('p', { className: 'error', role: 'alert' }, 'The run failed: ' + (error?.message || (typeof error === 'string' ? error : JSON.stringify(error)))));
  }
}

function finishRun(status, note) {
  const run = state.run;
  if (!run || run.done) return;
  run.done = true;
  const ended = status === 'succeeded' ? 'done' : status === 'cancelled' ? 'cancelled' : 'failed';
  for (const stage of run.stages) {
    if (stage.status === 'thinking') stage.status = ended;
    else if (stage.status === 'waiting' && status !== 'succeeded') stage.status = 'skipped';
  }
  $('run-status').textContent = status === 'succeeded' ? 'The run finished; its report is below.' : `The run ended: ${status}.`;
  if (note) run.view.result.append(el('p', { className: 'error', text: note }));
  $('stop').disabled = true;
  $('thinking').hidden = true;
  renderStages();
  api('GET', '/api/threads').then(({ threads }) => { state.threads = threads; renderThreads(); }).catch(() => {});
}

function renderStages() {
  const run = state.run;
  const list = $('agent-stages');
  if (!run) { list.replaceChildren(); return; }
  list.replaceChildren(...run.stages.map((stage) => {
    let time = '';
    if (stage.status === 'done' && stage.durationMs != null) time = seconds(stage.durationMs);
    else if (stage.status === 'thinking' && stage.startedAt) time = seconds(Math.max(0, Date.now() - stage.startedAt));
    const item = el('li', { className: 'stage ' + stage.status },
      el('span', { className: 'stage-name', text: stage.name }),
      el('span', { className: 'stage-status', text: stage.status }),
      el('span', { className: 'stage-time', text: time }));
    if (stage.summary) item.title = stage.summary;
    return item;
  }));
}

setInterval(() => { if (state.run && !state.run.done) renderStages(); }, 1000);

// ---------- Workload upload and demo data ----------

const CONTENT_TYPES = { json: 'application/json', ndjson: 'application/x-ndjson', jsonl: 'application/x-ndjson', csv: 'text/csv' };

$('upload-button').addEventListener('click', async () => {
  const file = $('upload-file').files[0];
  const out = $('upload-result');
  if (!file) { out.textContent = 'Choose a file first.'; return; }
  const type = CONTENT_TYPES[file.name.split('.').pop().toLowerCase()] || 'application/json';
  out.textContent = `Uploading ${file.name}…`;
  try {
    const answer = await api('POST', '/api/workloads/events', file, type);
    out.textContent = `Accepted ${answer.accepted.toLocaleString()} calls, rejected ${answer.rejected.toLocaleString()}`
      + (answer.unpriced ? `, ${answer.unpriced} with unknown models (stored at $0)` : '') + '.';
  } catch (error) {
    const rows = error.body?.error?.rows || [];
    out.textContent = error.message + rows.slice(0, 3).map((r) => ` Row ${r.index}: ${r.reason}.`).join('');
  }
});

$('demo-button').addEventListener('click', async () => {
  const button = $('demo-button');
  const bar = $('demo-progress');
  const out = $('demo-result');
  button.disabled = true;
  bar.value = 0;
  try {
    const { job_id: job } = await api('POST', '/api/generation/start', { events: 20000 });
    out.textContent = 'Generating…';
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const status = await api('GET', `/api/generation/status/${job}`);
      bar.value = status.progress;
      out.textContent = `${status.status}: ${status.events_written.toLocaleString()} events written (${status.progress}%)`;
      if (['succeeded', 'failed', 'cancelled', 'dead'].includes(status.status)) {
        if (status.error) out.textContent += ` ${status.error.message || JSON.stringify(status.error)}`;
        break;
      }
    }
  } catch (error) {
    out.textContent = error.message;
  } finally {
    button.disabled = false;
  }
});

// ---------- Boot ----------

// Single sign-on lands here as /#access_token=…: keep the token for this tab and take it out of the address bar
// (and so out of the history) before anything else runs.
const signedInWith = new URLSearchParams(location.hash.slice(1)).get('access_token');
if (signedInWith) {
  state.token = signedInWith;
  sessionStorage.setItem(TOKEN_KEY, signedInWith);
  history.replaceState(null, '', location.pathname + location.search);
}

if (state.token) start(); else signedOut();
