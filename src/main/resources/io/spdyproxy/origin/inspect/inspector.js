'use strict';
// The inspector's page: polls the JSON API for changes ("unchanged" when nothing changed), lists the
// requests newest first, shows one with its bodies, and replays it, edited or not. Everything
// captured is put in the page as text (textContent), never as markup.
(() => {
  const token = document.querySelector('meta[name="inspector-token"]').content;
  const $ = id => document.getElementById(id);
  let version = '';
  let requests = [];
  let selected = 0;
  let detail = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function duration(micros) {
    if (micros < 0) return '…';
    return micros < 1000 ? micros + ' µs' : micros < 1e6 ? (micros / 1000).toFixed(1) + ' ms'
        : (micros / 1e6).toFixed(2) + ' s';
  }

  async function poll() {
    try {
      const res = await fetch('/api/requests?since=' + encodeURIComponent(version), { cache: 'no-store' });
      const data = await res.json();
      if (res.ok && !data.unchanged) {
        version = String(data.version);
        requests = data.requests;
        render();
        if (selected && detail && detail.outcome === 'in_flight') show(selected, false);
      }
    } catch (e) {
      // the origin stopped or restarted: try again at the next tick
    }
    setTimeout(poll, 500);
  }

  function matches(r, words) {
    const text = (r.method + ' ' + r.path + ' ' + r.status + ' ' + r.host + ' ' + r.outcome).toLowerCase();
    return words.every(w => text.includes(w));
  }

  function render() {
    const words = $('filter').value.toLowerCase().split(/\s+/).filter(w => w);
    const body = $('requests').tBodies[0];
    const rows = [];
    for (const r of requests) {
      if (!matches(r, words)) continue;
      const tr = el('tr');
      tr.dataset.id = r.id;
      tr.classList.add('s' + String(r.status).charAt(0));
      if (r.outcome === 'reset' || r.outcome === 'aborted') tr.classList.add('failed');
      if (r.id === selected) tr.classList.add('selected');
      tr.append(el('td', new Date(r.time).toLocaleTimeString(), 'time'), el('td', r.method, 'method'));
      const path = el('td', r.path, 'path');
      path.title = r.host + r.path;
      if (r.replayOf) path.append(el('span', 'replay of #' + r.replayOf, 'badge replay'));
      tr.append(path, el('td', r.status ? String(r.status) : (r.outcome === 'in_flight' ? '…' : '—'), 'status'),
          el('td', duration(r.totalMicros), 'duration'));
      tr.addEventListener('click', () => show(r.id, true));
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    $('empty').hidden = requests.length > 0;
    $('count').textContent = rows.length + ' of ' + requests.length;
  }

  async function show(id, fresh) {
    selected = id;
    const res = await fetch('/api/requests/' + id, { cache: 'no-store' });
    if (!res.ok) {
      $('detail').hidden = true;
      return;
    }
    detail = await res.json();
    render();
    $('detail').hidden = false;
    $('detail-title').textContent = detail.method + ' ' + detail.path;
    const meta = [detail.status ? detail.status + ' ' + detail.reason : 'no response', detail.outcomeText,
        'first byte ' + duration(detail.firstByteMicros), 'total ' + duration(detail.totalMicros),
        new Date(detail.time).toLocaleString()];
    $('detail-meta').replaceChildren(document.createTextNode(meta.join(' · ')));
    if (detail.replayOf) {
      const a = el('a', ' · replay of #' + detail.replayOf);
      a.href = '#';
      a.id = 'replay-of';
      a.addEventListener('click', e => { e.preventDefault(); show(detail.replayOf, true); });
      $('detail-meta').append(a);
    }
    headers($('req-headers'), detail.requestHeaders.concat(detail.requestTrailers));
    headers($('res-headers'), detail.responseHeaders.concat(detail.responseTrailers));
    bodyView($('req-body'), detail.requestBody);
    bodyView($('res-body'), detail.responseBody);
    if (fresh) fillReplay();
  }

  function headers(table, list) {
    table.replaceChildren(...list.map(([n, v]) => {
      const tr = el('tr');
      tr.append(el('td', n), el('td', v));
      return tr;
    }));
  }

  function bytesOf(body) {
    const bin = atob(body.base64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  }

  function format(bytes, view) {
    const text = new TextDecoder('utf-8').decode(bytes);
    if (view === 'json') {
      try {
        return JSON.stringify(JSON.parse(text), null, 2);
      } catch (e) {
        return text; // cut at the capture limit, or not JSON after all
      }
    }
    if (view === 'text') return text;
    const lines = [];
    for (let off = 0; off < bytes.length; off += 16) {
      const row = bytes.subarray(off, off + 16);
      const hex = Array.from(row, b => b.toString(16).padStart(2, '0')).join(' ');
      const ascii = Array.from(row, b => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
      lines.push(off.toString(16).padStart(8, '0') + '  ' + hex.padEnd(48) + '  ' + ascii);
    }
    return lines.join('\n');
  }

  function bodyView(box, body) {
    box.replaceChildren();
    if (body.total === 0) {
      box.append(el('p', 'no body', 'note'));
      return;
    }
    const bytes = bytesOf(body);
    const pre = el('pre');
    const views = el('div', undefined, 'views');
    let current = body.view === 'empty' ? 'text' : body.view;
    for (const v of ['text', 'json', 'hex']) {
      const b = el('button', v);
      b.type = 'button';
      b.dataset.view = v;
      b.addEventListener('click', () => { current = v; paint(); });
      views.append(b);
    }
    function paint() {
      pre.textContent = format(bytes, current);
      for (const b of views.children) b.classList.toggle('on', b.dataset.view === current);
    }
    views.append(el('span', ' ' + (body.contentType || 'no content type') + ', ' + body.total + ' bytes'
        + (body.truncated ? ' (first ' + body.captured + ' shown)' : ''), 'note'));
    box.append(views, pre);
    paint();
  }

  function fillReplay() {
    $('replay-method').value = detail.method;
    $('replay-path').value = detail.path;
    $('replay-headers').value = detail.requestHeaders.map(([n, v]) => n + ': ' + v).join('\n');
    const b = detail.requestBody;
    $('replay-body').value = new TextDecoder('utf-8').decode(bytesOf(b));
    $('replay-body').dataset.original = $('replay-body').value;
    $('replay-note').textContent = detail.replayable ? '' : detail.replayNote;
    $('replay-result').textContent = '';
    $('replay-result').classList.remove('error');
  }

  async function replay() {
    const edits = {
      method: $('replay-method').value,
      path: $('replay-path').value,
      headers: $('replay-headers').value.split('\n').filter(l => l.trim()).map(l => {
        const i = l.indexOf(':');
        return i < 0 ? [l.trim(), ''] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
      }),
    };
    // The captured body goes as it was (bytes, not text) unless the user changed it.
    const body = $('replay-body');
    if (body.value !== body.dataset.original) edits.body = body.value;
    const result = $('replay-result');
    result.textContent = 'replaying…';
    result.classList.remove('error');
    const res = await fetch('/api/requests/' + detail.id + '/replay', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Inspector-Token': token },
      body: JSON.stringify(edits),
    });
    const answer = await res.json();
    if (!res.ok) {
      result.textContent = answer.error;
      result.classList.add('error');
      return;
    }
    result.textContent = 'replayed as #' + answer.id + ': ' + (answer.status || answer.outcomeText);
    version = '';
    await show(answer.id, false);
  }

  $('filter').addEventListener('input', render);
  $('replay-send').addEventListener('click', () => replay().catch(e => {
    $('replay-result').textContent = String(e);
    $('replay-result').classList.add('error');
  }));
  $('replay-reset').addEventListener('click', fillReplay);
  $('clear').addEventListener('click', async () => {
    await fetch('/api/requests', { method: 'DELETE', headers: { 'X-Inspector-Token': token } });
    selected = 0;
    $('detail').hidden = true;
    version = '';
  });
  poll();
})();
