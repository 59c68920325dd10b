/**
 * The dashboard page: plain HTML with inline CSS, SVG and JS, no build step. It lives in a TS
 * string so that it ships inside dist/ (tsc copies no other files). It reads the admin key from
 * the URL fragment (#key=…, never sent to the server) or asks for it, then draws /dashboard/data.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chorus dashboard</title>
<style>
  :root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --a:#3565d8; --b:#e0722b; --c:#2f9e69; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0; background: #f6f7f9; }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 24px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  section h2 { font-size: 15px; margin: 0 0 8px; }
  .muted { color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
  th { font-weight: 600; color: var(--muted); }
  .num { text-align: right; }
  #error { color: #b42318; padding: 0 24px; }
  #login { padding: 24px; }
  svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
  .legend span { display: inline-block; margin-right: 12px; }
  .sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
  .tag { font-size: 11px; padding: 1px 6px; border-radius: 9px; background: #fff3e8; color: var(--b); }
</style>
</head>
<body>
<header>
  <h1>Chorus</h1>
  <span id="snapshot" class="muted">loading…</span>
  <span id="totals" class="muted"></span>
</header>
<div id="error" role="alert"></div>
<form id="login" hidden>
  <label>Admin API key <input id="key" type="password" size="48" autocomplete="off"></label>
  <button type="submit">Open</button>
</form>
<main id="main" hidden>
  <section id="sec-timeline"><h2>Reward and CTR over time</h2>
    <div class="legend"><span><i class="sw" style="background:var(--a)"></i>average reward</span><span><i class="sw" style="background:var(--b)"></i>CTR</span></div>
    <svg id="chart-timeline" width="100%" height="200" viewBox="0 0 480 200" preserveAspectRatio="none"></svg>
  </section>
  <section id="sec-weights"><h2>Per-agent weights</h2>
    <svg id="chart-weights" width="100%" height="120" viewBox="0 0 480 120"></svg>
    <p class="muted" id="weights-note"></p>
  </section>
  <section id="sec-exposure"><h2>Exposure distribution</h2>
    <svg id="chart-exposure" width="100%" height="180" viewBox="0 0 480 180"></svg>
    <p class="muted" id="exposure-note"></p>
  </section>
  <section id="sec-top"><h2>Top items (by reward)</h2><table id="top-items"></table></section>
  <section id="sec-user"><h2>Recommendations for <form id="user-form" style="display:inline"><input id="user" size="12"></form></h2>
    <table id="user-recs"></table>
  </section>
  <section id="sec-snapshot"><h2>Active snapshot</h2><table id="snapshot-info"></table></section>
</main>
<script>
(function () {
  var NS = 'http://www.w3.org/2000/svg';
  var key = '';
  var m = /(?:^|[#&])key=([^&]+)/.exec(location.hash);
  if (m) { key = decodeURIComponent(m[1]); sessionStorage.setItem('chorusKey', key); history.replaceState(null, '', location.pathname + location.search); }
  else key = sessionStorage.getItem('chorusKey') || '';
  function $(id) { return document.getElementById(id); }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); }
  function fmt(x, d) { return x === null || x === undefined || !isFinite(x) ? '–' : Number(x).toFixed(d === undefined ? 3 : d); }
  function el(tag, attrs, text) { var e = document.createElementNS(NS, tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }
  function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }

  function lineChart(svg, points, series) {
    clear(svg);
    var W = 480, H = 200, L = 34, R = 8, T = 8, B = 22;
    if (points.length === 0) { svg.appendChild(el('text', { x: 10, y: 20 }, 'no events yet')); return; }
    var t0 = points[0].t, t1 = points[points.length - 1].t; if (t1 === t0) t1 = t0 + 60000;
    var lo = 0, hi = 0.001;
    series.forEach(function (s) { points.forEach(function (p) { var v = p[s.key]; if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    function X(t) { return L + (W - L - R) * (t - t0) / (t1 - t0); }
    function Y(v) { return T + (H - T - B) * (1 - (v - lo) / (hi - lo)); }
    svg.appendChild(el('line', { x1: L, x2: W - R, y1: Y(0), y2: Y(0), stroke: '#ccd' }));
    svg.appendChild(el('text', { x: 2, y: Y(hi) + 4 }, fmt(hi, 2)));
    svg.appendChild(el('text', { x: 2, y: Y(lo) }, fmt(lo, 2)));
    svg.appendChild(el('text', { x: L, y: H - 4 }, new Date(t0).toLocaleTimeString()));
    svg.appendChild(el('text', { x: W - R - 60, y: H - 4 }, new Date(t1).toLocaleTimeString()));
    series.forEach(function (s) {
      var d = '';
      points.forEach(function (p) { var v = p[s.key]; if (v === null || !isFinite(v)) return; d += (d ? 'L' : 'M') + X(p.t).toFixed(1) + ',' + Y(v).toFixed(1); });
      if (d) svg.appendChild(el('path', { d: d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'class': 'series-' + s.key }));
      points.forEach(function (p) { var v = p[s.key]; if (v !== null && isFinite(v)) svg.appendChild(el('circle', { cx: X(p.t), cy: Y(v), r: 2.5, fill: s.color })); });
    });
  }

  function barChart(svg, bars, H) {
    clear(svg);
    var W = 480, L = 110, max = 0;
    bars.forEach(function (b) { max = Math.max(max, Math.abs(b.value)); });
    if (max === 0) max = 1;
    var h = Math.min(26, (H - 4) / Math.max(1, bars.length));
    bars.forEach(function (b, i) {
      var y = 2 + i * h, w = (W - L - 60) * Math.abs(b.value) / max;
      svg.appendChild(el('text', { x: 0, y: y + h * 0.65 }, b.label));
      svg.appendChild(el('rect', { x: L, y: y + 2, width: Math.max(1, w), height: h - 5, fill: b.value < 0 ? '#b42318' : (b.color || 'var(--a)'), 'class': 'bar' }));
      svg.appendChild(el('text', { x: L + w + 4, y: y + h * 0.65 }, b.text !== undefined ? b.text : fmt(b.value)));
    });
  }

  function rows(table, head, data) {
    var h = '<tr>' + head.map(function (c) { return '<th' + (c[1] ? ' class="num"' : '') + '>' + esc(c[0]) + '</th>'; }).join('') + '</tr>';
    table.innerHTML = h + data.map(function (r) { return '<tr>' + r.map(function (v, i) { return '<td' + (head[i][1] ? ' class="num"' : '') + '>' + v + '</td>'; }).join('') + '</tr>'; }).join('');
  }

  function render(d) {
    var s = d.snapshot;
    $('snapshot').textContent = 'snapshot ' + s.id + ' · ' + s.kind + ' · ' + s.source;
    var t = d.totals;
    $('totals').textContent = t.decisions + ' decisions · ' + t.feedback + ' feedback · reward sum ' + fmt(t.rewardSum, 2) + ' · ' + t.items + ' items · ' + t.users + ' users';
    lineChart($('chart-timeline'), d.timeline.points, [{ key: 'avgReward', color: '#3565d8' }, { key: 'ctr', color: '#e0722b' }]);
    var w = d.weights;
    barChart($('chart-weights'), [
      { label: 'recommender', value: w.recommender, color: '#3565d8' },
      { label: w.policy === 'linucb-rerank' ? 'bandit (LinUCB)' : w.policy === 'cb' ? 'bandit (cb)' : w.policy, value: w.bandit, color: '#2f9e69' },
      { label: 'exploration ε', value: w.exploration, color: '#e0722b' }
    ], 110);
    $('weights-note').textContent = w.policy !== 'linucb-rerank' && w.policy !== 'cb' ? 'serving policy ' + w.policy + ' (its own learned state; no recommender weight); ' + w.updates + ' rewards learned.' : 'recommender = learned coefficient on its normalised score (1 before feedback); bandit = norm of the other learned weights; ' + w.updates + ' rewards learned.';
    var e = d.exposure;
    barChart($('chart-exposure'), e.histogram.map(function (b) { return { label: 'shown ' + b.bucket + '×', value: b.items, text: String(b.items) }; }), 176);
    $('exposure-note').textContent = 'coverage ' + fmt(100 * e.coverage, 1) + '% of ' + e.catalogue + ' items · Gini ' + fmt(e.gini, 3) + (e.mostShown.length ? ' · most shown: ' + e.mostShown.slice(0, 3).map(function (x) { return x.title + ' (' + x.count + ')'; }).join(', ') : '');
    rows($('top-items'), [['item'], ['feedback', 1], ['reward', 1]], d.topItems.map(function (x) { return [esc(x.title), x.feedback, fmt(x.rewardSum, 2)]; }));
    if (d.user) {
      if (document.activeElement !== $('user')) $('user').value = d.user.id;
      rows($('user-recs'), [['#', 1], ['item'], ['score', 1], ['p', 1], ['recommender', 1], ['bandit mean', 1], ['bonus', 1], ['']],
        d.user.items.map(function (x) {
          var ex = x.explanation;
          return [x.position + 1, esc(x.title), fmt(x.score), fmt(x.propensity, 2), ex.recommender.score === null ? 'cold' : fmt(ex.recommender.normalized, 2),
            ex.bandit ? fmt(ex.bandit.mean) : (ex.agent ? esc(ex.agent.name) + ' ' + (ex.agent.score === null ? ex.agent.source : fmt(ex.agent.score)) : ''), ex.bandit ? fmt(ex.bandit.bonus) : '', ex.exploration.explored ? '<span class="tag">explored</span>' : ''];
        }));
    }
    var info = [['id', s.id], ['kind', s.kind], ['source', s.source], ['created', new Date(s.created).toLocaleString()]];
    for (var k in s.info) info.push([k, typeof s.info[k] === 'object' ? JSON.stringify(s.info[k]) : s.info[k]]);
    rows($('snapshot-info'), [[''], ['']], info.map(function (r) { return [esc(r[0]), esc(r[1])]; }));
  }

  function load() {
    var u = $('user').value;
    fetch('dashboard/data' + (u ? '?user=' + encodeURIComponent(u) : ''), { headers: { authorization: 'Bearer ' + key } })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b }; }); })
      .then(function (r) {
        if (!r.ok) {
          $('error').textContent = (r.body && r.body.error ? r.body.error.message : 'HTTP ' + r.status);
          if (r.status === 401 || r.status === 403) { $('login').hidden = false; $('main').hidden = true; }
          return;
        }
        $('error').textContent = '';
        $('login').hidden = true; $('main').hidden = false;
        render(r.body);
        document.body.setAttribute('data-ready', '1');
      })
      .catch(function (err) { $('error').textContent = String(err); });
  }

  $('login').addEventListener('submit', function (ev) { ev.preventDefault(); key = $('key').value; sessionStorage.setItem('chorusKey', key); load(); });
  $('user-form').addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
  if (!key) { $('login').hidden = false; $('snapshot').textContent = ''; } else load();
  setInterval(function () { if (key && !document.hidden) load(); }, 10000);
})();
</script>
</body>
</html>
`;
