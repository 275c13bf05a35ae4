// The dashboard's one script. Everything it shows comes from /api/events (server-sent events,
// one snapshot a second) or, where EventSource is missing, from polling /api/dashboard. Paths,
// hosts and addresses are chosen by visitors: they are only ever set as textContent, never as
// HTML, and the page's Content-Security-Policy forbids inline script besides.
'use strict';

const KEPT = 100;
let newestSeq = 0;

const $ = id => document.getElementById(id);

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function bytes(n) {
  if (n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}

function rate(n) {
  return bytes(n) + '/s';
}

function duration(ms) {
  if (ms < 1) return ms.toFixed(2) + ' ms';
  if (ms < 1000) return ms.toFixed(0) + ' ms';
  const s = Math.floor(ms / 1000);
  if (s < 60) return (ms / 1000).toFixed(1) + ' s';
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
}

function time(millis) {
  const t = new Date(millis);
  return t.toLocaleTimeString([], { hour12: false }) + '.' + String(t.getMilliseconds()).padStart(3, '0');
}

function renderHealth(h) {
  $('health-version').textContent = h.version;
  $('health-uptime').textContent = duration(h.uptimeMillis);
  $('health-heap').textContent = bytes(h.heapUsed) + ' / ' + bytes(h.heapMax);
  $('health-direct').textContent = bytes(h.directUsed) + ' / ' + bytes(h.directMax);
  $('health-connections').textContent = String(h.clientConnections);
  $('health-tunnels').textContent = String(h.tunnels);
  $('health-inflight').textContent = String(h.requestsInFlight);
  $('health-requests').textContent = String(h.requestsTotal);
}

function renderTunnels(tunnels) {
  const body = $('tunnels');
  const rows = tunnels.map(t => {
    const tr = document.createElement('tr');
    tr.dataset.tunnel = t.name; // an attribute value: never parsed as markup
    if (t.errors > 0) tr.title = t.errors + ' errors (5xx answers and origin resets) of tunnel name ' + t.name;
    cell(tr, t.name, 'name');
    cell(tr, t.remote, 'remote');
    cell(tr, t.protocol + (t.state === 'ACTIVE' ? '' : ' (' + t.state.toLowerCase() + ')'), 'protocol');
    cell(tr, new Date(t.connectedAt).toLocaleString([], { hour12: false }), 'since');
    cell(tr, String(t.streams), 'n streams');
    cell(tr, t.requestsPerSec.toFixed(1), 'n rps');
    cell(tr, rate(t.toOriginPerSec), 'n to-origin-rate').dataset.value = t.toOriginPerSec;
    cell(tr, rate(t.fromOriginPerSec), 'n from-origin-rate').dataset.value = t.fromOriginPerSec;
    cell(tr, bytes(t.toOriginBytes), 'n to-origin').dataset.value = t.toOriginBytes;
    cell(tr, bytes(t.fromOriginBytes), 'n from-origin').dataset.value = t.fromOriginBytes;
    cell(tr, String(t.errors), 'n errors');
    return tr;
  });
  body.replaceChildren(...rows);
  $('no-tunnels').hidden = rows.length > 0;
}

function addRequests(requests) {
  const body = $('requests');
  // Newest first in the event; keep only those not shown yet (the first event and the next
  // tick may overlap).
  const fresh = requests.filter(r => r.seq > newestSeq);
  if (fresh.length === 0) return;
  newestSeq = fresh[0].seq;
  const frag = document.createDocumentFragment();
  for (const r of fresh) {
    const tr = document.createElement('tr');
    tr.dataset.seq = r.seq;
    if (r.status >= 500 || r.outcome !== 'complete') tr.className = 'error';
    cell(tr, time(r.time), 'time');
    cell(tr, r.client, 'client');
    cell(tr, r.tunnel === null ? '–' : r.tunnel, 'tunnel');
    cell(tr, r.method, 'method');
    cell(tr, r.host === null ? '–' : r.host, 'host');
    cell(tr, r.path, 'path');
    cell(tr, r.status === 0 ? '–' : String(r.status), 'n status');
    cell(tr, bytes(r.bytesIn), 'n bytes-in');
    cell(tr, bytes(r.bytesOut), 'n bytes-out');
    cell(tr, duration(r.durationMillis), 'n duration');
    cell(tr, r.outcome.replace('_', ' '), 'outcome');
    frag.appendChild(tr);
  }
  body.insertBefore(frag, body.firstChild);
  while (body.rows.length > KEPT) body.deleteRow(body.rows.length - 1);
  $('no-requests').hidden = body.rows.length > 0;
}

function render(snapshot) {
  renderHealth(snapshot.health);
  renderTunnels(snapshot.tunnels);
  addRequests(snapshot.requests);
}

function state(text, className) {
  const el = $('live');
  el.textContent = text;
  el.className = 'state ' + className;
}

function poll() {
  fetch('/api/dashboard', { cache: 'no-store' })
    .then(r => r.json())
    .then(s => { render(s); state('live (polling)', 'live'); })
    .catch(() => state('unreachable', 'down'))
    .finally(() => setTimeout(poll, 1000));
}

function start() {
  if (!window.EventSource) {
    poll();
    return;
  }
  const events = new EventSource('/api/events');
  events.onopen = () => state('live', 'live');
  events.onmessage = e => render(JSON.parse(e.data));
  // EventSource reconnects by itself; say so meanwhile.
  events.onerror = () => state('reconnecting…', 'down');
}

start();
