'use strict';
// Herald operator console: one page over the node's own HTTP API (/stats, /cluster/nodes, the admin POSTs
// and the /sub WebSocket). Everything shown is inserted as text nodes or attribute values through
// h(); there is no innerHTML anywhere, so names and message bodies cannot inject markup.

const REFRESH_MS = 2000;
const HISTORY_MS = 5 * 60 * 1000; // the rate chart's window
const TAIL_KEEP = 100;

const empty = () => ({
  stats: null, // last GET /stats?format=json
  nodes: null, // last GET /cluster/nodes
  errors: [], // what failed in the last refresh
  updated: null, // time of the last good /stats
  prev: null, // counters of the previous refresh, for rates
  rates: new Map(), // topic -> {in, out} per second; null when unknown
  channelOut: new Map(), // topic NUL channel -> FIN/s
  total: { in: null, out: null },
  history: new Map(), // topic -> [{t, in, out}] over HISTORY_MS
});
const state = empty();

// ---- who is using the console ----------------------------------------------------------------------
// The secret lives in this tab's sessionStorage and goes out as a header, never as a cookie: a page
// on another site cannot make the browser send it.
const auth = {
  secret: sessionStorage.getItem('herald-secret'),
  me: null, // GET /identity: {auth_required, identity, authorizations}
};

const authHeaders = () => (auth.secret ? { Authorization: 'Bearer ' + auth.secret } : {});

/**
 * A grant's pattern as this browser can read it. The node's are Java patterns (nsqd's Go ones):
 * leading inline flags such as (?i) become RegExp flags; in unicode mode RegExp refuses what it would
 * read differently from Java (\z, \A, possessive quantifiers...): null then, and the pattern counts
 * as matching. The console only chooses what to offer; the node decides, and a refusal shows its 403.
 */
const patterns = new Map();
function pattern(source) {
  if (!patterns.has(source)) {
    const flags = /^\(\?([ims]+)\)/.exec(source);
    let re = null;
    try {
      re = new RegExp(flags ? source.slice(flags[0].length) : source, 'u' + (flags ? [...new Set(flags[1])].join('') : ''));
    } catch (e) {
      re = null;
    }
    patterns.set(source, re);
  }
  return patterns.get(source);
}

/** Whether a grant's pattern matches anywhere in a name (Java's find), as far as this browser can tell. */
const matches = (source, name) => { const re = pattern(source); return re === null || re.test(name); };

/** The node's own rule (Identity.allows): stats is node-wide; else right, topic and one channel pattern. */
function can(permission, topic, channel) {
  if (!auth.me) return false;
  return (auth.me.authorizations || []).some((a) => {
    if (!(a.permissions || []).includes(permission)) return false;
    if (permission === 'stats') return true;
    return matches(a.topic, topic) && (a.channels || []).some((c) => matches(c, channel || ''));
  });
}

/** Any admin right on this topic (for any channel), or on any topic when none is given. */
const canAdminSome = (topic) => (auth.me ? (auth.me.authorizations || []).some((a) =>
  (a.permissions || []).includes('admin') && (topic === undefined || matches(a.topic, topic))) : false);

/** A browser WebSocket cannot send headers: the secret rides as a subprotocol (docs/security.md). */
function wsProtocols() {
  if (!auth.secret) return [];
  const bytes = new TextEncoder().encode(auth.secret);
  const b64 = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return ['herald', 'base64url.bearer.herald.' + b64];
}

// ---- DOM helpers ---------------------------------------------------------------------------------
const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['svg', 'polyline', 'line', 'text', 'rect']);

/** Builds an element. Attributes with null/undefined/false are left out; children are text or nodes. */
function h(tag, attrs, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * Makes the DOM under `el` look like `kids` while keeping the nodes that stay, so a refresh does
 * not swap a button away under the mouse. Live regions hold no listeners: clicks are delegated.
 */
function morphChildren(el, kids) {
  const old = [...el.childNodes];
  kids.forEach((k, i) => (i < old.length ? morph(old[i], k) : el.appendChild(k)));
  for (let i = kids.length; i < old.length; i++) old[i].remove();
}

function morph(a, b) {
  if (a.nodeName !== b.nodeName) return a.replaceWith(b);
  if (a.nodeType !== Node.ELEMENT_NODE) {
    if (a.nodeValue !== b.nodeValue) a.nodeValue = b.nodeValue;
    return;
  }
  for (const { name } of [...a.attributes]) if (!b.hasAttribute(name)) a.removeAttribute(name);
  for (const { name, value } of [...b.attributes]) if (a.getAttribute(name) !== value) a.setAttribute(name, value);
  morphChildren(a, [...b.childNodes]);
}

const enc = encodeURIComponent;
const link = (href, text) => h('a', { href }, text);
const topicHref = (t) => '#/topic/' + enc(t);
const channelHref = (t, c) => '#/topic/' + enc(t) + '/' + enc(c);

function table(cols, rows, empty) {
  const head = h('tr', {}, cols.map(([label, title]) => h('th', { title }, label)));
  const body = rows.length ? rows : [h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, empty || 'none'))];
  return h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, head), h('tbody', {}, body)));
}

const num = (col, n) => h('td', { 'data-col': col, class: 'num' }, fmtInt(n));
const cell = (col, text, cls) => h('td', { 'data-col': col, class: cls }, text);

// ---- formatting ------------------------------------------------------------------------------------
function fmtInt(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

/** What a topic keeps for replay past its slowest channel (/stats retention). */
function fmtRetention(r) {
  const parts = [];
  if (r && r.time_ms > 0) parts.push(r.time_ms % 3600000 === 0 ? `${r.time_ms / 3600000} h` : `${r.time_ms / 1000} s`);
  if (r && r.bytes > 0) parts.push(`${fmtInt(r.bytes)} bytes`);
  return parts.length ? parts.join(', ') : 'none';
}

function fmtRate(r) {
  if (r === null || r === undefined) return '—';
  return r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString('en-US');
}

function fmtNs(ns) {
  if (ns === null || ns === undefined) return '—';
  if (ns < 1e3) return ns + ' ns';
  if (ns < 1e6) return (ns / 1e3).toFixed(1) + ' µs';
  if (ns < 1e9) return (ns / 1e6).toFixed(1) + ' ms';
  return (ns / 1e9).toFixed(2) + ' s';
}

function fmtDate(ms, withMs) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const s = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return withMs ? s + '.' + p(d.getMilliseconds(), 3) : s;
}

const fmtQuantile = (q) => 'p' + String(+(q * 100).toFixed(3));

function pausedBadge(paused) {
  // A state /stats does not know (a topic or channel not running whose figures are unknown) is shown as such.
  if (paused === null || paused === undefined) return h('span', { class: 'badge' }, 'unknown');
  return paused ? h('span', { class: 'badge warn' }, 'paused') : h('span', { class: 'badge ok' }, 'active');
}

/** paused / active, marked idle when the entity stopped for idleness (its figures are the ones it left). */
function stateBadges(x) {
  if (x.state === 'unknown' || (x.running === false && x.state === undefined)) return h('span', { class: 'badge' }, 'unknown');
  return x.state === 'idle' ? h('span', {}, pausedBadge(x.paused), ' ', h('span', { class: 'badge' }, 'idle')) : pausedBadge(x.paused);
}

function statusBadge(status, reachable) {
  const ok = status === 'up' && reachable !== false;
  return h('span', { class: 'badge ' + (ok ? 'ok' : 'warn') }, status + (reachable === false ? ', unreachable' : ''));
}

// ---- data and rates --------------------------------------------------------------------------------
const topics = () => (state.stats ? state.stats.topics || [] : []);
const findTopic = (name) => topics().find((t) => t.topic_name === name);
const sumOver = (tp, key) => (tp.channels || []).reduce((s, c) => s + (c[key] || 0), 0);
const clientKey = (tp, ch, cl) => [tp.topic_name, ch.channel_name, cl.client_id, cl.remote_address, cl.connect_ts].join('\u0000');

/**
 * Rates between two /stats answers. in: growth of the topic's message_count (messages published).
 * out: growth of finish_count over the consumers connected now (FINs); a consumer that is new since
 * the last refresh counts from 0, FINs of one that left in between are missed. A counter that went
 * down (topic re-created) gives no rate for that refresh.
 */
function computeRates(stats, t) {
  const counts = new Map();
  const fins = new Map();
  for (const tp of stats.topics || []) {
    counts.set(tp.topic_name, tp.message_count);
    for (const ch of tp.channels || []) for (const cl of ch.clients || []) fins.set(clientKey(tp, ch, cl), cl.finish_count);
  }
  const prev = state.prev;
  state.prev = { t, counts, fins };
  state.rates = new Map();
  state.channelOut = new Map();
  state.total = { in: null, out: null };
  const dt = prev ? (t - prev.t) / 1000 : 0;
  if (dt <= 0) return;
  let totalIn = 0;
  let totalOut = 0;
  for (const tp of stats.topics || []) {
    const grown = tp.message_count - (prev.counts.get(tp.topic_name) ?? 0);
    const rin = grown < 0 ? null : grown / dt;
    let out = 0;
    for (const ch of tp.channels || []) {
      let finished = 0;
      for (const cl of ch.clients || []) finished += Math.max(0, cl.finish_count - (prev.fins.get(clientKey(tp, ch, cl)) ?? 0));
      state.channelOut.set(tp.topic_name + '\u0000' + ch.channel_name, finished / dt);
      out += finished;
    }
    const rate = { in: rin, out: out / dt };
    state.rates.set(tp.topic_name, rate);
    totalIn += rin ?? 0;
    totalOut += rate.out;
    const hist = state.history.get(tp.topic_name) || [];
    hist.push({ t, in: rate.in, out: rate.out });
    while (hist.length && hist[0].t < t - HISTORY_MS) hist.shift();
    state.history.set(tp.topic_name, hist);
  }
  for (const name of [...state.history.keys()]) if (!counts.has(name)) state.history.delete(name);
  state.total = { in: totalIn, out: totalOut };
}

async function errorOf(response) {
  let code = '';
  try {
    code = (await response.json()).message || '';
  } catch (e) {
    /* not JSON */
  }
  return `${response.status} ${code || response.statusText}`.trim();
}

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store', headers: authHeaders() });
  if (r.status === 401) loggedOut();
  if (!r.ok) throw new Error(`${path}: ${await errorOf(r)}`);
  return r.json();
}

async function post(path) {
  try {
    const r = await fetch(path, { method: 'POST', headers: authHeaders() });
    return r.ok ? { ok: true } : { ok: false, error: await errorOf(r) };
  } catch (e) {
    return { ok: false, error: 'network error: ' + e.message };
  }
}

let timer = null;
let running = false;
let again = false;

/** Fetches /stats and /cluster/nodes, then repaints; runs every REFRESH_MS and after each action. */
async function refresh() {
  if (running) {
    again = true;
    return;
  }
  running = true;
  clearTimeout(timer);
  const asked = auth.me;
  const [stats, nodes] = await Promise.allSettled([getJson('/stats?format=json'), getJson('/cluster/nodes')]);
  running = false;
  // Logged out meanwhile (the login form stays), or in again as someone else: this answer was not read for them.
  if (!auth.me || auth.me !== asked) {
    if (auth.me) refresh();
    return;
  }
  state.errors = [];
  if (stats.status === 'fulfilled') {
    const t = Date.now();
    computeRates(stats.value, t);
    state.stats = stats.value;
    state.updated = t;
  } else state.errors.push(stats.reason.message);
  if (nodes.status === 'fulfilled') state.nodes = nodes.value;
  else state.errors.push(nodes.reason.message);
  paint();
  if (again) {
    again = false;
    refresh();
  } else timer = setTimeout(refresh, REFRESH_MS);
}

// ---- actions ---------------------------------------------------------------------------------------
const WARNINGS = {
  'topic/empty': 'Messages kept for a first channel are dropped; channels keep theirs.',
  'topic/delete': 'The topic and all its channels are deleted; their consumers are disconnected.',
  'channel/empty': 'Every message of the channel is dropped: ready, in flight and deferred.',
  'channel/delete': 'The channel and its messages are deleted; its consumers are disconnected.',
  'topic/pause': 'No channel of the topic delivers until it is unpaused.',
  'channel/pause': 'The channel delivers nothing until it is unpaused.',
  'channel/rewind': 'Every message the topic kept from there on is delivered again, attempts from 1; what is in flight now is forgotten.',
};

/**
 * Where to rewind a channel to, as /channel/rewind's to=: earliest, latest, a message id, or a
 * time written "YYYY-MM-DD HH:MM[:SS]" in this browser's time zone (sent as unix ms). null: cancelled or not one.
 */
function askRewindTarget(what) {
  const text = window.prompt(`Rewind ${what} to: earliest, latest, a time (YYYY-MM-DD HH:MM, your time zone) or a message id`, 'earliest');
  if (text === null) return null;
  const t = text.trim();
  if (/^(earliest|latest|[0-9a-fA-F]{16})$/.test(t)) return t;
  const ms = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?$/.test(t) ? new Date(t.replace(' ', 'T')).getTime() : NaN;
  if (Number.isNaN(ms)) {
    notice(`rewind ${what}: “${t}” is not earliest, latest, a time or a message id`, 'error');
    return null;
  }
  return String(ms);
}

function notice(text, kind) {
  const el = document.getElementById('notice');
  el.hidden = false;
  el.className = kind;
  el.replaceChildren(h('span', {}, text), ' ', h('button', { type: 'button', class: 'link', 'data-dismiss': '' }, 'dismiss'));
}

function describe(kind, topic, channel) {
  return kind === 'topic' ? `topic “${topic}”` : `channel “${channel}” of topic “${topic}”`;
}

async function act(kind, op, topic, channel) {
  const what = describe(kind, topic, channel);
  const warning = WARNINGS[kind + '/' + op];
  const to = op === 'rewind' ? askRewindTarget(what) : null;
  if (op === 'rewind' && to === null) return;
  const target = to === null ? '' : ` to ${to}`;
  if (!window.confirm(`${op[0].toUpperCase() + op.slice(1)} ${what}${target}?` + (warning ? '\n\n' + warning : ''))) return;
  const query = 'topic=' + enc(topic) + (kind === 'channel' ? '&channel=' + enc(channel) : '') + (to === null ? '' : '&to=' + enc(to));
  const res = await post(`/${kind}/${op}?${query}`);
  if (res.ok) {
    notice(`${op}: ${what}: done`, 'ok');
    if (op === 'delete') location.hash = kind === 'topic' ? '#/topics' : topicHref(topic);
  } else notice(`${op} ${what} failed: ${res.error}`, 'error');
  refresh();
}

function actionButtons(kind, topic, channel, paused) {
  if (!can('admin', topic, kind === 'channel' ? channel : '')) return null;
  const b = (op, cls) => h('button', { type: 'button', class: cls, 'data-act': op, 'data-kind': kind, 'data-topic': topic, 'data-channel': channel }, op);
  return h('span', { class: 'actions' }, paused ? b('unpause') : b('pause'), kind === 'channel' ? b('rewind', 'warn') : null,
    b('empty', 'warn'), b('delete', 'danger'));
}

function createForm(kind, topic) {
  if (!canAdminSome(topic)) return null;
  const input = h('input', { id: `create-${kind}-name`, placeholder: `new ${kind} name`, required: true, autocomplete: 'off', spellcheck: 'false' });
  const form = h('form', { class: 'create', id: `create-${kind}` }, input, h('button', { type: 'submit' }, `create ${kind}`));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    const what = kind === 'topic' ? describe('topic', name) : describe('channel', topic, name);
    if (!name || !window.confirm(`Create ${what}?`)) return;
    const query = kind === 'topic' ? 'topic=' + enc(name) : 'topic=' + enc(topic) + '&channel=' + enc(name);
    const res = await post(`/${kind}/create?${query}`);
    if (res.ok) {
      input.value = '';
      notice(`created ${what}`, 'ok');
    } else notice(`create ${what} failed: ${res.error}`, 'error');
    refresh();
  });
  return form;
}

document.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-act]');
  if (b) act(b.dataset.kind, b.dataset.act, b.dataset.topic, b.dataset.channel);
  if (e.target.closest('button[data-dismiss]')) document.getElementById('notice').hidden = true;
});

// ---- tables ----------------------------------------------------------------------------------------
const TOPIC_COLS = [
  ['topic'],
  ['depth', 'messages waiting: held for a first channel plus every channel’s depth'],
  ['in flight', 'sum over channels'],
  ['deferred', 'sum over channels'],
  ['messages', 'published since the topic was (re-)created'],
  ['channels'],
  ['in msgs/s', 'published per second (growth of message_count between refreshes)'],
  ['out FIN/s', 'FINs per second from connected consumers, all channels'],
  ['state'],
  ['node', 'HTTP address of the node hosting the topic'],
];

function topicRow(tp) {
  const r = state.rates.get(tp.topic_name) || {};
  // A topic whose figures are unknown is listed by name only: /stats does not start it to count.
  const stopped = tp.state === 'unknown' || (tp.running === false && tp.state === undefined);
  return h('tr', { 'data-topic': tp.topic_name },
    h('td', {}, link(topicHref(tp.topic_name), tp.topic_name)),
    num('depth', stopped ? null : tp.depth + sumOver(tp, 'depth')),
    num('in_flight', stopped ? null : sumOver(tp, 'in_flight_count')),
    num('deferred', stopped ? null : sumOver(tp, 'deferred_count')),
    num('message_count', tp.message_count),
    num('channels', (tp.channels || []).length),
    cell('rate_in', fmtRate(r.in), 'num'),
    cell('rate_out', fmtRate(r.out), 'num'),
    cell('paused', stateBadges(tp)),
    cell('node', tp.node || '—', 'mono'));
}

const topicsTable = () => table(TOPIC_COLS, topics().map(topicRow), 'no topics yet');

const CHANNEL_COLS = [
  ['channel'],
  ['depth', 'waiting for delivery: neither in flight nor deferred'],
  ['in flight', 'delivered, not yet FINed, REQed or timed out'],
  ['deferred', 'held until a later time (defer, REQ with a delay)'],
  ['messages', 'messages of the topic from the channel’s start on'],
  ['requeued', 'REQs since the channel started'],
  ['timed out', 'in-flight messages whose msg_timeout ran out'],
  ['dead letters', 'messages sent to the dead-letter topic after max_attempts failed deliveries (POST /channel/config), and those waiting to go there'],
  ['consumers'],
  ['out FIN/s', 'FINs per second from connected consumers'],
  ['state'],
  ['node', 'HTTP address of the node hosting the channel'],
  ['actions'],
];

function channelRow(tp, ch) {
  const t = tp.topic_name;
  return h('tr', { 'data-channel': ch.channel_name },
    h('td', {}, link(channelHref(t, ch.channel_name), ch.channel_name)),
    num('depth', ch.depth),
    num('in_flight', ch.in_flight_count),
    num('deferred', ch.deferred_count),
    num('message_count', ch.message_count),
    num('requeue_count', ch.requeue_count),
    num('timeout_count', ch.timeout_count),
    deadLetterCell(ch),
    num('client_count', ch.client_count),
    cell('rate_out', fmtRate(state.channelOut.get(t + '\u0000' + ch.channel_name)), 'num'),
    cell('paused', stateBadges(ch)),
    cell('node', ch.node || '—', 'mono'),
    h('td', {}, actionButtons('channel', t, ch.channel_name, ch.paused)));
}

/**
 * The count, linked to the dead-letter topic once the channel has one (max_attempts set, or some went),
 * and those not stored there yet: they are in no other column (below --min-free-space they wait).
 */
function deadLetterCell(ch) {
  const n = ch.dead_letter_count;
  if (!ch.dead_letter_topic) return num('dead_letter_count', n);
  const limit = ch.max_attempts ? ' after ' + ch.max_attempts + ' attempts' : '';
  const waiting = ch.dead_letter_waiting_count
    ? h('span', { class: 'badge warn', 'data-col': 'dead_letter_waiting_count', title: 'not stored in ' + ch.dead_letter_topic
      + ' yet: below --min-free-space they wait for disk space (see the node log)' }, fmtInt(ch.dead_letter_waiting_count) + ' waiting')
    : null;
  return h('td', { 'data-col': 'dead_letter_count', class: 'num', title: 'to ' + ch.dead_letter_topic + limit },
    link(topicHref(ch.dead_letter_topic), fmtInt(n)), waiting ? ' ' : null, waiting);
}

/** nsqd's e2e_processing_latency per channel, when /stats has it. */
function latencyTable(tp, channels) {
  const pct = (ch) => (ch.e2e_processing_latency && ch.e2e_processing_latency.percentiles) || [];
  const qs = [...new Set(channels.flatMap((ch) => pct(ch).map((p) => p.quantile)))].sort((a, b) => a - b);
  const cols = [['channel'], ['count', 'messages measured']].concat(qs.length ? qs.map((q) => [fmtQuantile(q)]) : [['percentiles']]);
  const rows = channels.map((ch) => {
    const lat = ch.e2e_processing_latency;
    const values = qs.length
      ? qs.map((q) => { const p = pct(ch).find((x) => x.quantile === q); return cell(fmtQuantile(q), fmtNs(p ? p.value : null), 'num'); })
      : [cell('percentiles', '—')];
    return h('tr', { 'data-channel': ch.channel_name }, h('td', {}, ch.channel_name), num('count', lat ? lat.count : null), values);
  });
  return table(cols, rows, 'no channels');
}

const CLIENT_COLS = [
  ['client id'], ['remote address'], ['ready', 'last RDY'], ['in flight'], ['messages', 'delivered to this consumer'],
  ['finished', 'FINs'], ['requeued', 'REQs'], ['timed out', 'msg_timeout expiries'], ['connected'],
];

function clientRow(cl) {
  return h('tr', { 'data-client': cl.client_id },
    cell('client_id', cl.client_id, 'mono'),
    cell('remote_address', cl.remote_address, 'mono'),
    num('ready_count', cl.ready_count),
    num('in_flight', cl.in_flight_count),
    num('message_count', cl.message_count),
    num('finish_count', cl.finish_count),
    num('requeue_count', cl.requeue_count),
    num('timeout_count', cl.timeout_count),
    cell('connect_ts', fmtDate(cl.connect_ts * 1000)));
}

const NODE_COLS = [
  ['address', 'cluster address'], ['HTTP address'], ['status'], ['shards', 'shards hosted'], ['entities', 'topics and channels hosted'],
];

function nodesTable() {
  const nodes = state.nodes ? state.nodes.nodes || [] : [];
  return table(NODE_COLS, nodes.map((n) => h('tr', { 'data-node': n.address },
    cell('address', n.address, 'mono'),
    cell('http_address', n.http_address || '—', 'mono'),
    cell('status', statusBadge(n.status, n.reachable)),
    num('shards', n.shards),
    num('entities', n.entities))), state.nodes ? 'no members' : 'loading…');
}

/** In and out rates of one topic over the last HISTORY_MS, as two SVG polylines. */
function rateChart(topic) {
  const W = 640;
  const H = 170;
  const left = 48;
  const bottom = H - 22;
  const now = Date.now();
  const t0 = now - HISTORY_MS;
  const points = (state.history.get(topic) || []).filter((s) => s.t >= t0);
  const peak = Math.max(1, ...points.flatMap((s) => [s.in ?? 0, s.out ?? 0]));
  const mag = Math.pow(10, Math.floor(Math.log10(peak)));
  const max = [1, 2, 5, 10].map((m) => m * mag).find((m) => m >= peak);
  const x = (t) => (left + ((t - t0) / HISTORY_MS) * (W - left - 8)).toFixed(1);
  const y = (v) => (bottom - (v / max) * (bottom - 10)).toFixed(1);
  const line = (k) => points.filter((s) => s[k] !== null).map((s) => `${x(s.t)},${y(s[k])}`).join(' ');
  return h('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `rates of ${topic}, last 5 minutes` },
    h('line', { x1: left, y1: 10, x2: left, y2: bottom, class: 'axis' }),
    h('line', { x1: left, y1: bottom, x2: W - 8, y2: bottom, class: 'axis' }),
    h('line', { x1: left, y1: 10, x2: W - 8, y2: 10, class: 'grid' }),
    h('text', { x: left - 6, y: 14, 'text-anchor': 'end' }, fmtRate(max)),
    h('text', { x: left - 6, y: bottom + 4, 'text-anchor': 'end' }, '0'),
    h('text', { x: left, y: H - 4 }, '−5 min'),
    h('text', { x: W - 8, y: H - 4, 'text-anchor': 'end' }, 'now'),
    h('polyline', { class: 'in', points: line('in') }),
    h('polyline', { class: 'out', points: line('out') }));
}

// ---- tail ------------------------------------------------------------------------------------------
let tail = null; // {ws, ui}

function stopTail() {
  if (!tail) return;
  const { ws, ui } = tail;
  tail = null;
  ws.close();
  ui.button.textContent = 'tail';
  ui.status.textContent = 'stopped';
  ui.status.dataset.state = 'stopped';
}

function startTail(topic, ui) {
  const tp = findTopic(topic);
  // Subscribing would create a missing topic; the console does not do that by accident.
  if (!tp) return notice(`topic “${topic}” does not exist: nothing to tail`, 'error');
  const channel = 'tail-' + Math.random().toString(16).slice(2, 10) + '#ephemeral';
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/sub?topic=${enc(topic)}&channel=${enc(channel)}&client_id=console-tail`, wsProtocols());
  tail = { ws, ui };
  const status = (text, s) => {
    ui.status.textContent = text;
    ui.status.dataset.state = s;
  };
  ui.button.textContent = 'stop';
  status('connecting…', 'connecting');
  ws.onmessage = (e) => {
    if (typeof e.data !== 'string') return;
    const f = JSON.parse(e.data);
    if (f.type === 'subscribed') {
      ws.send('RDY 20');
      status(`tailing through ephemeral channel ${channel}`, 'live');
    } else if (f.type === 'message') {
      ws.send('FIN ' + f.id);
      addTailMessage(ui.list, f);
    } else if (f.type === 'error') status(`error ${f.code}: ${f.message}`, 'error');
  };
  ws.onclose = (e) => {
    if (!tail || tail.ws !== ws) return;
    tail = null;
    ui.button.textContent = 'tail';
    status(`closed by the server (${e.code}${e.reason ? ' ' + e.reason : ''})`, 'closed');
  };
}

function addTailMessage(list, f) {
  const MAX = 4000;
  const clip = (s) => (s.length > MAX ? s.slice(0, MAX) + ` … (${s.length - MAX} more characters)` : s);
  const body = f.body !== undefined
    ? h('pre', { class: 'body' }, clip(f.body))
    : h('div', {}, h('span', { class: 'muted' }, 'body is not UTF-8; base64: '), h('pre', { class: 'body' }, clip(f.body_base64 || '')));
  list.prepend(h('li', { 'data-id': f.id },
    h('div', { class: 'meta' }, h('code', {}, f.id), ' ', fmtDate(f.timestamp, true), ' · attempts ', String(f.attempts)),
    body));
  while (list.children.length > TAIL_KEEP) list.lastElementChild.remove();
}

function tailPanel(topic) {
  if (!can('subscribe', topic, 'tail-00000000#ephemeral')) return null;
  const ui = {
    button: h('button', { type: 'button', id: 'tail-toggle' }, 'tail'),
    status: h('span', { id: 'tail-status', class: 'muted', 'data-state': 'stopped' }, 'not tailing'),
    list: h('ol', { id: 'tail-list', class: 'tail' }),
  };
  ui.button.addEventListener('click', () => (tail ? stopTail() : startTail(topic, ui)));
  return h('section', { class: 'panel' },
    h('h2', {}, 'Tail'),
    h('p', { class: 'muted' }, `Reads new messages of this topic through its own ephemeral channel (FIN at once, last ${TAIL_KEEP} kept). ` +
      'Other channels are not affected; the channel goes away when the tail stops.'),
    h('p', {}, ui.button, ' ', ui.status),
    ui.list);
}

// ---- pages -----------------------------------------------------------------------------------------
// Each page: static parts built once, and live regions rebuilt from the last data on every refresh.
function region(render) {
  const el = h('div', { class: 'live' });
  return { el, render };
}

function page(title, ...parts) {
  const regions = parts.filter((p) => p && p.render);
  const root = h('section', {}, h('h1', {}, title), parts.map((p) => (p && p.render ? p.el : p)));
  return { root, regions };
}

function loading(render) {
  return () => (state.stats ? render() : [h('p', { class: 'muted' }, 'loading…')]);
}

const PAGES = {
  overview: () => page('Overview',
    region(loading(() => {
      const nodes = state.nodes ? state.nodes.nodes || [] : [];
      const card = (label, value, id, title) => h('div', { class: 'card', title }, h('div', { class: 'value', id }, value), h('div', { class: 'label' }, label));
      return [
        h('div', { class: 'cards' },
          card('nodes up', `${nodes.filter((n) => n.status === 'up').length} / ${nodes.length}`, 'total-nodes'),
          card('topics', fmtInt(topics().length), 'total-topics'),
          card('msgs/s in', fmtRate(state.total.in), 'total-in', 'messages published per second, all topics'),
          card('FIN/s out', fmtRate(state.total.out), 'total-out', 'FINs per second from connected consumers, all channels')),
        h('p', { class: 'muted small' },
          'Rates are computed in this browser between refreshes (every 2 s): in = growth of the topics’ message_count; ' +
            'out = growth of the connected consumers’ finish_count, summed over all channels (FINs of consumers that ' +
            'disconnected in between are not counted).'),
        h('h2', {}, 'Nodes'), nodesTable(),
        h('h2', {}, 'Topics'), topicsTable(),
      ];
    }))),

  topics: () => page('Topics', createForm('topic'), region(loading(() => [topicsTable()]))),

  nodes: () => page('Nodes', region(() => [nodesTable()])),

  topic: ({ topic }) => {
    const missing = () => [h('p', { class: 'error' }, `Topic “${topic}” is not in /stats (it does not exist, or was deleted).`)];
    // The first region says the topic is missing; the others stay empty then.
    const withTopic = (render, first) => loading(() => { const tp = findTopic(topic); return tp ? render(tp) : first ? missing() : []; });
    return page(h('span', {}, link('#/topics', 'Topics'), ' / ', topic),
      region(withTopic((tp) => {
        const r = state.rates.get(topic) || {};
        return [h('p', { class: 'summary' }, stateBadges(tp), ` ${fmtInt(tp.message_count)} messages published · `,
          `${fmtInt(tp.depth)} held for a first channel · in ${fmtRate(r.in)} msgs/s · out ${fmtRate(r.out)} FIN/s · `,
          h('span', { id: 'retention' }, `retention ${fmtRetention(tp.retention)}`), ' · node ',
          h('span', { class: 'mono' }, tp.node || '—'), ' ', actionButtons('topic', topic, null, tp.paused))];
      }, true)),
      h('h2', {}, 'Channels'),
      createForm('channel', topic),
      region(withTopic((tp) => [table(CHANNEL_COLS, (tp.channels || []).map((ch) => channelRow(tp, ch)), 'no channels')])),
      h('h2', {}, 'Rates, last 5 minutes'),
      h('p', { class: 'legend small' }, h('span', { class: 'key in' }), ' in: msgs/s published   ', h('span', { class: 'key out' }), ' out: FIN/s from connected consumers'),
      region(withTopic(() => [rateChart(topic)])),
      h('h2', {}, 'End-to-end latency'),
      h('p', { class: 'muted small' }, 'From publish to FIN, per channel, when the node reports it (e2e_processing_latency).'),
      region(withTopic((tp) => [latencyTable(tp, tp.channels || [])])),
      tailPanel(topic));
  },

  channel: ({ topic, channel }) => {
    const find = () => { const tp = findTopic(topic); const ch = tp && (tp.channels || []).find((c) => c.channel_name === channel); return [tp, ch]; };
    const missing = () => [h('p', { class: 'error' }, `Channel “${channel}” of topic “${topic}” is not in /stats.`)];
    const withChannel = (render, first) => loading(() => { const [tp, ch] = find(); return ch ? render(tp, ch) : first ? missing() : []; });
    return page(h('span', {}, link('#/topics', 'Topics'), ' / ', link(topicHref(topic), topic), ' / ', channel),
      region(withChannel((tp, ch) => [table(CHANNEL_COLS, [channelRow(tp, ch)])], true)),
      h('h2', {}, 'End-to-end latency'),
      region(withChannel((tp, ch) => [latencyTable(tp, [ch])])),
      h('h2', {}, 'Consumers'),
      region(withChannel((tp, ch) => [table(CLIENT_COLS, (ch.clients || []).map(clientRow), 'no consumers connected')])));
  },
};

function route() {
  let parts;
  try {
    parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  } catch (e) {
    parts = [];
  }
  if (parts[0] === 'topics' || parts[0] === 'nodes') return { page: parts[0] };
  if (parts[0] === 'topic' && parts[1]) return parts[2] ? { page: 'channel', topic: parts[1], channel: parts[2] } : { page: 'topic', topic: parts[1] };
  return { page: 'overview' };
}

let current = null; // {key, regions}

function show() {
  const r = route();
  const key = JSON.stringify(r);
  if (current && current.key === key) return;
  stopTail();
  const { root, regions } = PAGES[r.page](r);
  document.getElementById('view').replaceChildren(root);
  current = { key, regions };
  const section = r.page === 'topic' || r.page === 'channel' ? 'topics' : r.page;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  paint();
}

function paint() {
  const updated = document.getElementById('updated');
  if (state.errors.length) {
    updated.className = 'error';
    updated.textContent = 'refresh failed: ' + state.errors.join('; ');
  } else if (state.updated) {
    updated.className = 'muted';
    updated.textContent = 'updated ' + fmtDate(state.updated).slice(11);
  }
  if (!current) return;
  for (const { el, render } of current.regions) morphChildren(el, render());
}

// ---- login ----------------------------------------------------------------------------------------
function showWho() {
  const who = document.getElementById('who');
  if (!auth.me || !auth.me.auth_required) return who.replaceChildren();
  const out = h('button', { type: 'button', class: 'link', id: 'logout' }, 'log out');
  out.addEventListener('click', () => {
    sessionStorage.removeItem('herald-secret');
    auth.secret = null;
    loggedOut();
  });
  who.replaceChildren(h('span', { id: 'identity' }, auth.me.identity), ' ', out);
}

/** The secret is missing, wrong or revoked: stop refreshing and ask for one. */
function loggedOut() {
  if (!auth.me && document.getElementById('login')) return;
  auth.me = null;
  clearTimeout(timer);
  stopTail();
  current = null;
  // What was read with that secret is not for whoever logs in next in this tab.
  Object.assign(state, empty());
  const updated = document.getElementById('updated');
  updated.className = 'muted';
  updated.textContent = '';
  showWho();
  const input = h('input', { id: 'login-secret', type: 'password', placeholder: 'secret', required: true, autocomplete: 'current-password' });
  const form = h('form', { id: 'login', class: 'create' }, input, h('button', { type: 'submit' }, 'log in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    auth.secret = input.value;
    const result = await identify();
    if (result === true) {
      sessionStorage.setItem('herald-secret', auth.secret);
      document.getElementById('notice').hidden = true;
      start();
    } else notice(`log in failed: ${result}`, 'error');
  });
  document.getElementById('view').replaceChildren(h('section', {}, h('h1', {}, 'Log in'),
    h('p', { class: 'muted' }, 'This node asks who you are. Enter your secret (from the node’s auth file or auth server).'), form));
}

/** Asks the node who the secret belongs to: true, or the error to show. */
async function identify() {
  try {
    const r = await fetch('/identity', { cache: 'no-store', headers: authHeaders() });
    if (!r.ok) return errorOf(r);
    auth.me = await r.json();
    return true;
  } catch (e) {
    return 'network error: ' + e.message;
  }
}

function start() {
  showWho();
  show();
  refresh();
}

window.addEventListener('hashchange', () => auth.me && show());
window.addEventListener('pagehide', stopTail);
identify().then((result) => (result === true ? start() : loggedOut()));
