// The run viewer. It talks to this server only, through the protocol's own
// routes (and `ui/diagram/{name}` for the drawn graph): no CDN, no build step.
'use strict';

// The page is `{base}/ui/`: the API is at `{base}`.
const base = location.pathname.replace(/\/ui\/?$/, '');
const $ = (id) => document.getElementById(id);

async function api(path, options) {
  const response = await fetch(base + path, options);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!response.ok && response.status !== 500) {
    throw new Error((body && body.detail) || response.statusText);
  }
  return body;
}

function post(path, body) {
  return api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

function say(message) { $('status').textContent = message || ''; }

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// ---- Forms from JSON Schema ----------------------------------------------

// Follows `$ref`s into the root's `$defs` (schemars writes them so).
function resolve(schema, root) {
  let seen = 0;
  while (schema && schema.$ref && seen++ < 32) {
    const name = decodeURIComponent(schema.$ref.replace(/^#\/(\$defs|definitions)\//, ''));
    schema = (root.$defs || root.definitions || {})[name];
  }
  return schema || {};
}

// `T | null` (`anyOf`/`oneOf` with a null, or `type: [T, "null"]`): T, nullable.
function nonNull(schema, root) {
  schema = resolve(schema, root);
  const variants = schema.anyOf || schema.oneOf;
  if (variants) {
    const rest = variants.filter((v) => resolve(v, root).type !== 'null');
    if (rest.length === 1 && rest.length < variants.length) return [resolve(rest[0], root), true];
  }
  if (Array.isArray(schema.type) && schema.type.includes('null')) {
    const types = schema.type.filter((t) => t !== 'null');
    return [{ ...schema, type: types.length === 1 ? types[0] : types }, true];
  }
  return [schema, false];
}

// The choices of an enum: `enum`, or `oneOf` of `const`s (schemars' unit variants).
function choices(schema, root) {
  if (Array.isArray(schema.enum)) return schema.enum;
  const variants = schema.oneOf || schema.anyOf;
  if (variants && variants.every((v) => 'const' in resolve(v, root))) return variants.map((v) => resolve(v, root).const);
  return null;
}

// An input for `schema`: `{ node, read }`; `read()` gives its value (or
// throws on bad JSON). Unknown shapes fall back to a JSON text box.
function input(schema, root, name) {
  const [resolved] = nonNull(schema, root);
  const options = choices(resolved, root);
  if (options) {
    const select = element('select', { name },
      ...options.map((o) => element('option', { value: JSON.stringify(o) }, String(o))));
    return { node: select, read: () => JSON.parse(select.value) };
  }
  const type = resolved.type;
  if (type === 'object' && resolved.properties) {
    const set = element('fieldset', { 'data-field': name });
    const required = new Set(resolved.required || []);
    const fields = Object.entries(resolved.properties).map(([key, sub]) => {
      const f = field(sub, root, key, !required.has(key) || nonNull(sub, root)[1]);
      set.append(f.node);
      return [key, f];
    });
    return {
      node: set,
      read: () => {
        const value = {};
        for (const [key, f] of fields) {
          const v = f.read();
          if (v !== undefined) value[key] = v;
        }
        return value;
      },
    };
  }
  if (type === 'array') {
    const items = element('div', { class: 'items', 'data-field': name });
    const rows = [];
    const add = () => {
      const item = input(resolved.items || {}, root, name + '[]');
      const row = element('div', {}, item.node,
        element('button', { type: 'button', class: 'secondary', onclick: () => { row.remove(); rows.splice(rows.indexOf(item), 1); } }, '−'));
      rows.push(item);
      items.insertBefore(row, more);
    };
    const more = element('button', { type: 'button', class: 'secondary add', onclick: add }, '+ item');
    items.append(more);
    return { node: items, read: () => rows.map((r) => r.read()) };
  }
  if (type === 'boolean') {
    const box = element('input', { type: 'checkbox', name });
    return { node: box, read: () => box.checked };
  }
  if (type === 'integer' || type === 'number') {
    const number = element('input', { type: 'number', name, step: type === 'integer' ? '1' : 'any' });
    return { node: number, read: () => (number.value === '' ? 0 : Number(number.value)) };
  }
  if (type === 'string') {
    const text = element('input', { type: 'text', name });
    return { node: text, read: () => text.value };
  }
  const raw = element('textarea', { name, rows: '3', placeholder: 'JSON' });
  return { node: raw, read: () => (raw.value.trim() ? JSON.parse(raw.value) : null) };
}

// A labelled input; an optional one has a box that leaves it out.
function field(schema, root, name, optional) {
  const inner = input(schema, root, name);
  const label = element('label', {}, name);
  const node = element('div', { class: 'field' }, label);
  if (!optional) {
    node.append(inner.node);
    return { node, read: inner.read };
  }
  const include = element('input', { type: 'checkbox', class: 'include', title: 'include ' + name });
  label.append(' ', element('span', { class: 'optional' }, '(optional) '), include);
  inner.node.hidden = true;
  include.addEventListener('change', () => { inner.node.hidden = !include.checked; });
  node.append(inner.node);
  return { node, read: () => (include.checked ? inner.read() : undefined) };
}

// A form for `schema` in `container`, with a raw JSON fallback when `raw`
// (a checkbox) is ticked or the schema is not an object.
function schemaForm(schema, container, raw, text) {
  container.replaceChildren();
  const root = schema || {};
  const form = input(root, root, 'value');
  container.append(form.node);
  if (raw) {
    raw.checked = false;
    text.hidden = true;
    raw.onchange = () => {
      if (raw.checked) {
        try { text.value = JSON.stringify(form.read(), null, 2); } catch (_) { /* keep what was typed */ }
      }
      text.hidden = !raw.checked;
      container.hidden = raw.checked;
    };
    container.hidden = false;
  }
  return () => (raw && raw.checked ? JSON.parse(text.value) : form.read());
}

// ---- Workflows, runs -------------------------------------------------------

const view = { workflow: null, run: null, source: null, readStart: null, readAnswer: null, answers: [], steps: {} };

async function loadWorkflows() {
  const { workflows } = await api('/workflows');
  $('workflows').replaceChildren(...workflows.map((name) =>
    element('li', {}, element('button', { type: 'button', 'data-workflow': name, onclick: () => showWorkflow(name) }, name))));
}

async function loadRuns() {
  try {
    const { handlers } = await api('/handlers');
    $('runs').replaceChildren(...handlers.slice().reverse().map((h) =>
      element('li', {}, element('button', {
        type: 'button', 'data-run': h.handler_id, class: h.handler_id === view.run ? 'selected' : '',
        onclick: () => showRun(h.handler_id, h.workflow_name),
      }, h.workflow_name + ' ', element('span', { class: 'badge ' + h.status }, h.status)))));
    say('');
  } catch (error) {
    say('cannot list runs: ' + error.message);
  }
}

async function drawGraph(name) {
  const response = await fetch(base + '/ui/diagram/' + encodeURIComponent(name));
  $('graph').innerHTML = response.ok ? await response.text() : '';
  view.steps = {};
}

async function showWorkflow(name) {
  view.workflow = name;
  $('workflow').hidden = false;
  $('workflow-name').textContent = name;
  document.querySelectorAll('[data-workflow]').forEach((b) => b.classList.toggle('selected', b.dataset.workflow === name));
  await drawGraph(name);
  const { start } = await api('/workflows/' + encodeURIComponent(name) + '/schema');
  view.readStart = schemaForm(start, $('start-fields'), $('start-raw'), $('start-json'));
}

$('start-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const handler = await post('/workflows/' + encodeURIComponent(view.workflow) + '/run-nowait', { start_event: view.readStart() });
    await loadRuns();
    showRun(handler.handler_id, view.workflow);
  } catch (error) {
    say('cannot start: ' + error.message);
  }
});

// ---- One run -----------------------------------------------------------------

function stepGroup(name) {
  return [...document.querySelectorAll('#graph g.wf-step')].find((g) => g.querySelector('text') && g.querySelector('text').textContent === name);
}

// Shows a step's state and how often it was invoked on the graph.
function markStep(name, state) {
  const group = stepGroup(name);
  const step = view.steps[name] || (view.steps[name] = { runs: 0 });
  if (state === 'running') step.runs += 1;
  step.state = state;
  if (!group) return;
  group.classList.remove('state-queued', 'state-running', 'state-done', 'state-failed', 'state-stopped');
  group.classList.add('state-' + state);
  group.setAttribute('data-state', state);
  let count = group.querySelector('text.wf-count');
  const rect = group.querySelector('rect');
  if (!count && rect) {
    count = document.createElementNS('http://www.w3.org/2000/svg', 'text');
    count.setAttribute('class', 'wf-count');
    count.setAttribute('x', Number(rect.getAttribute('x')) + Number(rect.getAttribute('width')) - 4);
    count.setAttribute('y', Number(rect.getAttribute('y')) - 3);
    count.setAttribute('text-anchor', 'end');
    group.append(count);
  }
  if (count) count.textContent = '×' + step.runs;
}

const TERMINAL = ['StopEvent', 'WorkflowFailedEvent', 'WorkflowCancelledEvent', 'WorkflowTimedOutEvent'];

function isTerminal(envelope) {
  return TERMINAL.includes(envelope.type) || (envelope.types || []).includes('StopEvent');
}

function logEvent(sequence, envelope) {
  const internal = (envelope.types || []).includes('InternalDispatchEvent');
  const summary = element('summary', {}, '#' + sequence + ' ' + envelope.type);
  const body = element('pre', {}, JSON.stringify(envelope.value, null, 2));
  $('log').append(element('li', { class: internal ? 'internal' : '', 'data-type': envelope.type }, element('details', {}, summary, body)));
}

async function showRun(id, workflow) {
  if (view.source) view.source.close();
  view.run = id;
  document.querySelectorAll('[data-run]').forEach((b) => b.classList.toggle('selected', b.dataset.run === id));
  if (workflow !== view.workflow) await showWorkflow(workflow);
  else await drawGraph(workflow);
  $('run').hidden = false;
  $('run-id').textContent = id;
  $('log').replaceChildren();
  $('answer-form').hidden = true;
  $('result').hidden = true;
  await refreshRecord();
  const representation = await api('/workflows/' + encodeURIComponent(workflow) + '/representation');
  const answerTypes = representation.graph.edges.filter((e) => e.source === 'external_step').map((e) => e.target);
  const { events } = await api('/workflows/' + encodeURIComponent(workflow) + '/events');
  view.answers = events.filter((schema) => answerTypes.includes(schema.title));
  const source = new EventSource(base + '/events/' + encodeURIComponent(id) + '?include_internal=true&after_sequence=-1');
  view.source = source;
  source.onmessage = (message) => {
    if (view.source !== source) return;
    const envelope = JSON.parse(message.data);
    logEvent(message.lastEventId, envelope);
    if (envelope.type === 'StepStateChanged') {
      const states = { preparing: 'queued', running: 'running', not_running: 'done' };
      markStep(envelope.value.name, states[envelope.value.step_state] || 'done');
    } else if (envelope.type === 'WorkflowFailedEvent' && envelope.value.step_name) {
      markStep(envelope.value.step_name, 'failed');
    }
    if ((envelope.types || []).includes('InputRequiredEvent')) askForAnswer(envelope);
    if (isTerminal(envelope)) {
      // What was still going when the run ended (a cancel, a timeout) stopped there.
      for (const [name, step] of Object.entries(view.steps)) {
        if (step.state === 'running' || step.state === 'queued') markStep(name, 'stopped');
      }
      source.close();
      $('answer-form').hidden = true;
      refreshRecord();
      loadRuns();
    }
  };
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) refreshRecord(); };
}

async function refreshRecord() {
  const record = await api('/handlers/' + encodeURIComponent(view.run));
  const badge = $('run-status');
  badge.textContent = record.status;
  badge.className = 'badge ' + record.status;
  $('cancel').hidden = record.status !== 'running';
  if (record.status !== 'running') {
    $('result').hidden = false;
    $('result-json').textContent = record.status === 'completed'
      ? JSON.stringify(record.result ? record.result.value : null, null, 2)
      : record.status === 'cancelled' ? 'The run was cancelled.' : 'The run failed: ' + record.error;
  }
}

function askForAnswer(request) {
  if (!view.answers.length) return;
  $('request-text').textContent = JSON.stringify(request.value);
  const select = $('answer-type');
  select.replaceChildren(...view.answers.map((schema) => element('option', { value: schema.title }, schema.title)));
  const build = () => {
    const schema = view.answers.find((s) => s.title === select.value);
    view.readAnswer = schemaForm(schema, $('answer-fields'));
  };
  select.onchange = build;
  build();
  $('answer-form').hidden = false;
}

$('answer-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await post('/events/' + encodeURIComponent(view.run), { event: { type: $('answer-type').value, value: view.readAnswer() } });
    $('answer-form').hidden = true;
  } catch (error) {
    say('cannot answer: ' + error.message);
  }
});

$('cancel').addEventListener('click', async () => {
  try {
    await post('/handlers/' + encodeURIComponent(view.run) + '/cancel', {});
    await refreshRecord();
    loadRuns();
  } catch (error) {
    say('cannot cancel: ' + error.message);
  }
});

loadWorkflows().catch((error) => say('cannot list workflows: ' + error.message));
loadRuns();
setInterval(loadRuns, 1000);
