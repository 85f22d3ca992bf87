#include "net/console_assets.hpp"

namespace ehlo::net {
namespace {

constexpr std::string_view kCss = R"css(
body { font: 15px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f7f8fa; }
header { background: #1d2430; color: #fff; padding: .6em 1.2em; display: flex; gap: 2em; align-items: baseline; }
header nav a { color: #cfd8e3; margin-right: 1.2em; text-decoration: none; }
header nav a.current, header nav a:hover { color: #fff; text-decoration: underline; }
main { padding: 1em 1.2em; max-width: 80em; }
h1 { font-size: 1.4em; margin: .2em 0 .6em; }
h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e7ed; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
.cards { display: flex; gap: 1em; }
.card { background: #fff; border: 1px solid #e3e7ed; padding: .8em 1.2em; min-width: 8em; }
.card .n { font-size: 1.8em; font-weight: 600; display: block; }
.note, .st { color: #5b6777; font-size: .9em; }
.err { color: #a33; font-size: .85em; }
.filters { display: flex; gap: 1em; flex-wrap: wrap; align-items: end; margin-bottom: 1em; }
.filters label { display: flex; flex-direction: column; font-size: .85em; color: #5b6777; }
button { margin-right: .3em; }
button.danger { color: #a33; }
tr.hidden { display: none; }
pre { background: #fff; border: 1px solid #e3e7ed; padding: .8em; overflow-x: auto; white-space: pre-wrap; }
.status { min-height: 1.2em; color: #2a6; }
.talk { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2em; align-items: start; }
#dialog { background: #fff; border: 1px solid #e3e7ed; padding: .6em; min-height: 12em; max-height: 32em; overflow-y: auto;
  font: 13px/1.45 ui-monospace, monospace; white-space: pre-wrap; }
#dialog .client { color: #1d4fa3; } #dialog .server { color: #1d2430; }
#talk-form { margin: .6em 0; } #talk-line { font: 14px ui-monospace, monospace; }
.tnote { background: #fff; border-left: 4px solid #9aa5b4; padding: .4em .7em; margin-bottom: .5em; }
.tnote.mistake { border-color: #c33; } .tnote.suggestion { border-color: #2a6; } .tnote.result { border-color: #1d4fa3; }
.tnote.code { border-color: #c90; } .tnote p { margin: .2em 0; white-space: pre-wrap; }
.tnote .rfc { color: #5b6777; font-size: .85em; } .tnote code { background: #eef1f5; padding: 0 .3em; }
)css";

// Filters hide rows; actions go to the JSON API (POST, application/json); the overview's
// numbers follow the queue through server-sent events (/api/v1/events, one a second).
constexpr std::string_view kJs = R"js('use strict';
async function api(path, method) {
  const r = await fetch('/api/v1/' + path, {method: method || 'GET',
    headers: method === 'POST' ? {'Content-Type': 'application/json'} : {}});
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function setupQueue() {
  const form = document.getElementById('filters');
  const table = document.getElementById('queue');
  if (!form || !table) return;
  const status = document.getElementById('status');
  const apply = () => {
    const f = new FormData(form);
    const state = f.get('state'), dest = (f.get('destination') || '').toLowerCase();
    const sender = (f.get('sender') || '').toLowerCase(), rcpt = (f.get('recipient') || '').toLowerCase();
    const age = Number(f.get('age') || 0) * 60;
    for (const row of table.tBodies[0].rows) {
      if (!row.dataset.id) continue;
      const show = (!state || row.dataset.state === state) &&
        (!dest || row.dataset.destinations.toLowerCase().includes(dest)) &&
        (!sender || row.dataset.sender.toLowerCase().includes(sender)) &&
        (!rcpt || row.cells[3].textContent.toLowerCase().includes(rcpt)) &&
        (!age || Number(row.dataset.age) >= age);
      row.classList.toggle('hidden', !show);
    }
  };
  form.addEventListener('input', apply);
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) if (form.elements[k]) form.elements[k].value = v;
  apply();
  document.body.addEventListener('click', async (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    const row = b.closest('tr');
    try {
      if (b.dataset.action === 'flush') {
        await api('flush?target=' + encodeURIComponent(row.dataset.id), 'POST');
      } else if (b.dataset.action) {
        if (b.dataset.action === 'delete' && !confirm('Delete ' + row.dataset.id + ' without a bounce?')) return;
        if (b.dataset.action === 'bounce' && !confirm('Return ' + row.dataset.id + ' to its sender now?')) return;
        await api('queue/' + encodeURIComponent(row.dataset.id) + '/' + b.dataset.action, 'POST');
      } else if (b.dataset.flush !== undefined) {
        await api('flush', 'POST');
      } else {
        return;
      }
      status.textContent = 'Done: ' + (b.dataset.action || 'flush') + (row ? ' ' + row.dataset.id : '');
      setTimeout(() => location.reload(), 300);
    } catch (err) {
      status.textContent = 'Failed: ' + err.message;
    }
  });
}

function setupOverview() {
  const cells = document.querySelectorAll('[data-live]');
  if (!cells.length) return;
  const note = document.querySelector('[data-live-note]');
  const events = new EventSource('/api/v1/events');
  events.addEventListener('queue', (e) => {
    const counts = JSON.parse(e.data);
    for (const c of cells) c.textContent = counts[c.dataset.live];
    note.textContent = 'Updated ' + new Date().toLocaleTimeString() + '.';
  });
  events.onerror = () => { note.textContent = 'Not updated: the server is not answering (retrying).'; };
}

// Talk SMTP: one dialog per page, over /api/v1/talk; server text only ever goes in as text.
function noteElement(n) {
  const d = document.createElement('div');
  d.className = 'tnote ' + n.kind;
  d.dataset.kind = n.kind;
  const t = document.createElement('strong');
  t.textContent = n.title;
  const p = document.createElement('p');
  p.textContent = n.text;
  d.append(t, p);
  if (n.line !== undefined) {
    const c = document.createElement('code');
    c.textContent = n.line === '' ? '(an empty line)' : n.line;
    d.append(c);
  }
  if (n.rfc) {
    const r = document.createElement('div');
    r.className = 'rfc';
    r.textContent = n.rfc;
    d.append(r);
  }
  return d;
}

function setupTalk() {
  const form = document.getElementById('talk-form');
  if (!form) return;
  const dialog = document.getElementById('dialog'), input = document.getElementById('talk-line');
  const send = document.getElementById('talk-send'), notes = document.getElementById('notes');
  const suggestion = document.getElementById('suggestion'), result = document.getElementById('talk-result');
  let id = null;
  const post = async (path, body) => {
    const r = await fetch('/api/v1/' + path, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                              body: JSON.stringify(body || {})});
    const b = await r.json();
    if (!r.ok) throw new Error(b.error || r.statusText);
    return b;
  };
  const show = (x) => {
    for (const l of x.lines) {
      const d = document.createElement('div');
      d.className = l.from;
      d.textContent = (l.from === 'client' ? 'C: ' : 'S: ') + l.text;
      dialog.append(d);
    }
    dialog.scrollTop = dialog.scrollHeight;
    notes.textContent = '';
    for (const n of x.notes) notes.append(noteElement(n));
    suggestion.textContent = '';
    if (x.suggestion) {
      suggestion.append(noteElement(x.suggestion));
      if (x.suggestion.line !== undefined && x.phase !== 'content') input.placeholder = x.suggestion.line;
    }
    result.textContent = '';
    for (const q of x.queue_ids) {
      const a = document.createElement('a');
      a.href = '/message?id=' + encodeURIComponent(q);
      a.textContent = 'Follow message ' + q + ': where it went';
      a.dataset.queueId = q;
      const p = document.createElement('p');
      p.append(a);
      result.append(p);
    }
    input.disabled = send.disabled = x.closed;
    form.dataset.phase = x.phase;
    if (!x.closed) input.focus();
  };
  const fail = (e) => { notes.textContent = ''; notes.append(noteElement({kind: 'mistake', title: 'The console', text: e.message, rfc: ''})); };
  const start = async () => {
    try {
      if (id) await post('talk/' + id + '/close').catch(() => {});
      dialog.textContent = '';
      const x = await post('talk');
      id = x.id;
      show(x);
    } catch (e) { fail(e); }
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const line = input.value;
    input.value = '';
    try { show(await post('talk/' + id, {line})); } catch (err) { fail(err); }
  });
  document.getElementById('talk-new').addEventListener('click', start);
  // Leaving the page ends its connection at once (else it ends when idle for 5 minutes).
  window.addEventListener('pagehide', () => {
    if (id) fetch('/api/v1/talk/' + id + '/close', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                    body: '{}', keepalive: true}).catch(() => {});
  });
  start();
}

setupQueue();
setupOverview();
setupTalk();
)js";

// An envelope, for the browser's tab (also at /favicon.ico, where browsers look for one).
constexpr std::string_view kIcon =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><rect x=\"1\" y=\"3\" width=\"14\" "
    "height=\"10\" fill=\"#1d2430\"/><path d=\"M1 3l7 6 7-6\" stroke=\"#fff\" fill=\"none\"/></svg>\n";

}  // namespace

std::optional<StaticAsset> static_asset(std::string_view path) {
    if (path == "/static/console.css") return StaticAsset{"text/css; charset=utf-8", kCss};
    if (path == "/static/console.js") return StaticAsset{"text/javascript; charset=utf-8", kJs};
    if (path == "/static/icon.svg" || path == "/favicon.ico") return StaticAsset{"image/svg+xml", kIcon};
    return std::nullopt;
}

}  // namespace ehlo::net
