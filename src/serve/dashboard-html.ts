import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Where the server serves Chart.js; the page loads it from there, so it works offline (no CDN). */
export const CHART_JS_PATH = '/dashboard/chart.umd.js';

let chartJs: string | null = null;

/**
 * Chart.js 4's UMD build, read once from the installed chart.js package. The package exports only
 * its entry points, so the file is found beside the CommonJS entry, which works both in this
 * repository and when Chorus is installed as a dependency.
 */
export function chartJsSource(): string {
  chartJs ??= readFileSync(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js'), 'utf8');
  return chartJs;
}

/** Seconds between two reads of the feed: the charts update in place. */
export const DASHBOARD_REFRESH_SECONDS = 5;

/**
 * The dashboard page: HTML with inline CSS and JS, drawing with Chart.js (served by the server at
 * CHART_JS_PATH). It lives in a TS string so that it ships inside dist/ (tsc copies no other
 * files). It reads the admin key from the URL fragment (#key=…, never sent to the server) or asks
 * for it, then reads /dashboard/data every few seconds and updates its charts in place.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chorus dashboard</title>
<style>
  :root { --fg:#1d2330; --muted:#5d6679; --line:#e4e7ec; --a:#3565d8; --b:#e0722b; --c:#2f9e69; --d:#8e44ad; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0; background: #f6f7f9; }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(440px, 100%), 1fr)); gap: 16px; padding: 16px 24px; }
  /* min-width 0: a grid item may shrink below its content, so a wide table scrolls inside its card instead of overflowing it */
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-width: 0; overflow: hidden; }
  section.wide { grid-column: 1 / -1; }
  section h2 { font-size: 15px; margin: 0 0 8px; }
  .chart { position: relative; height: 260px; }
  .chart.small { height: 190px; }
  .table { overflow-x: auto; max-width: 100%; }
  .muted { color: var(--muted); }
  .figure { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; margin-right: 8px; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
  th { font-weight: 600; color: var(--muted); }
  .num { text-align: right; white-space: nowrap; }
  .kv td:first-child { white-space: nowrap; }
  #error { color: #b42318; padding: 0 24px; }
  #login { padding: 24px; }
  .tag { font-size: 11px; padding: 1px 6px; border-radius: 9px; background: #fff3e8; color: var(--b); }
</style>
<script src="dashboard/chart.umd.js"></script>
</head>
<body>
<header>
  <h1>Chorus</h1>
  <span id="snapshot" class="muted">loading…</span>
  <span id="totals" class="muted"></span>
  <span id="live" class="muted"></span>
</header>
<div id="error" role="alert"></div>
<form id="login" hidden>
  <label>Admin API key <input id="key" type="password" size="48" autocomplete="off"></label>
  <button type="submit">Open</button>
</form>
<main id="main" hidden>
  <section id="sec-reward" class="wide"><h2>Reward per decision</h2>
    <p><span id="rpd-value" class="figure">–</span><span id="rpd-count" class="muted"></span></p>
    <div class="chart"><canvas id="chart-reward" aria-label="reward per decision and CTR over time"></canvas></div>
    <p class="muted" id="rpd-note"></p>
  </section>
  <section id="sec-traffic"><h2>Traffic</h2>
    <div class="chart"><canvas id="chart-traffic" aria-label="decisions and feedback per minute"></canvas></div>
  </section>
  <section id="sec-learning"><h2>Online learning</h2>
    <div class="chart small"><canvas id="chart-learned" aria-label="rewards learned per minute"></canvas></div>
    <div class="chart small"><canvas id="chart-queue" aria-label="learner queue and open reward windows"></canvas></div>
    <div class="table"><table id="learning-info" class="kv"></table></div>
  </section>
  <section id="sec-ope" hidden><h2>Off-policy estimates</h2>
    <div class="chart"><canvas id="chart-ope" aria-label="off-policy estimates"></canvas></div>
    <p class="muted" id="ope-protocol"></p>
    <div class="table"><table id="ope-table"></table></div>
  </section>
  <section id="sec-weights"><h2>Per-agent weights</h2>
    <div class="chart small"><canvas id="chart-weights" aria-label="learned weights"></canvas></div>
    <p class="muted" id="weights-note"></p>
  </section>
  <section id="sec-exposure"><h2>Exposure distribution</h2>
    <div class="chart"><canvas id="chart-exposure" aria-label="items by times shown"></canvas></div>
    <p class="muted" id="exposure-note"></p>
  </section>
  <section id="sec-top"><h2>Top items (by reward)</h2><div class="table"><table id="top-items"></table></div></section>
  <section id="sec-user"><h2>Recommendations for <form id="user-form" style="display:inline"><input id="user" size="12"></form></h2>
    <div class="table"><table id="user-recs"></table></div>
  </section>
  <section id="sec-snapshot"><h2>Active snapshot</h2><div class="table"><table id="snapshot-info" class="kv"></table></div></section>
</main>
<script>
(function () {
  var REFRESH_MS = ${DASHBOARD_REFRESH_SECONDS * 1000};
  var key = '';
  var m = /(?:^|[#&])key=([^&]+)/.exec(location.hash);
  if (m) { key = decodeURIComponent(m[1]); sessionStorage.setItem('chorusKey', key); history.replaceState(null, '', location.pathname + location.search); }
  else key = sessionStorage.getItem('chorusKey') || '';
  function $(id) { return document.getElementById(id); }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); }
  function fmt(x, d) { return x === null || x === undefined || !isFinite(x) ? '–' : Number(x).toFixed(d === undefined ? 3 : d); }
  function clock(t, seconds) { return new Date(t).toLocaleTimeString([], seconds ? { hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hourCycle: 'h23', hour: '2-digit', minute: '2-digit' }); }
  function every(ms) { return ms < 60000 ? (ms / 1000) + ' s' : ms < 3600000 ? (ms / 60000) + ' min' : (ms / 3600000) + ' h'; }

  Chart.defaults.font.family = 'system-ui, sans-serif';
  Chart.defaults.color = '#5d6679';
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function axis(title, extra) {
    var a = { title: { display: true, text: title, font: { weight: '600' } }, grid: { color: '#eef0f3' } };
    for (var k in extra) a[k] = extra[k];
    return a;
  }
  /** A time axis: unix ms on a linear scale, ticks as local clock times. */
  function timeAxis(title, seconds) {
    return axis(title, { type: 'linear', ticks: { maxTicksLimit: 6, maxRotation: 0, callback: function (v, i, ticks) {
      // ticks closer than the clock's resolution would repeat a label: show it once
      var label = clock(v, seconds());
      return i > 0 && clock(ticks[i - 1].value, seconds()) === label ? '' : label;
    } } });
  }
  var charts = {};
  var bucketMs = 10000;
  var fine = function () { return bucketMs < 60000; };
  function make(id, config) { charts[id] = new Chart($(id), config); return charts[id]; }
  function line(label, color, axisId) {
    return { label: label, data: [], borderColor: color, backgroundColor: color, pointRadius: 2, borderWidth: 2, spanGaps: false, yAxisID: axisId || 'y' };
  }
  function bars(label, color) { return { label: label, data: [], backgroundColor: color, borderWidth: 0 }; }

  function createCharts() {
    make('chart-reward', {
      type: 'line',
      data: { datasets: [line('mean reward per decision', '#3565d8'), line('CTR', '#e0722b', 'ctr')] },
      options: {
        interaction: { mode: 'nearest', intersect: false },
        scales: {
          x: timeAxis('time (local clock, by decision time)', fine),
          y: axis('reward per decision', { suggestedMin: 0, suggestedMax: 1 }),
          ctr: axis('CTR (% of shown)', { position: 'right', min: 0, suggestedMax: 10, grid: { drawOnChartArea: false }, ticks: { callback: function (v) { return v + ' %'; } } })
        }
      }
    });
    make('chart-traffic', {
      type: 'line',
      data: { datasets: [line('decisions', '#3565d8'), line('feedback', '#2f9e69')] },
      options: { scales: { x: timeAxis('time (local clock)', fine), y: axis('events per minute', { min: 0 }) } }
    });
    make('chart-learned', {
      type: 'bar',
      data: { datasets: [bars('rewards learned (feedback in its window, or the default at its close)', '#2f9e69')] },
      options: { scales: { x: timeAxis('time (local clock, when learned)', fine), y: axis('learned / min', { min: 0 }) } }
    });
    make('chart-queue', {
      type: 'line',
      data: { datasets: [line('learner queue', '#8e44ad'), line('open reward windows', '#e0722b')] },
      options: { scales: { x: timeAxis('time (local clock, sampled at each read)', function () { return true; }), y: axis('count', { min: 0, ticks: { precision: 0 } }) } }
    });
    make('chart-weights', {
      type: 'bar',
      data: { labels: [], datasets: [bars('learned weight', ['#3565d8', '#2f9e69'])] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: axis('learned weight (unitless coefficient)'), y: axis('part of the score') } }
    });
    make('chart-exposure', {
      type: 'bar',
      data: { labels: [], datasets: [bars('items', '#3565d8')] },
      options: { plugins: { legend: { display: false } }, scales: { x: axis('times shown (impressions per item)'), y: axis('items', { min: 0, ticks: { precision: 0 } }) } }
    });
    make('chart-ope', {
      type: 'bar',
      data: { labels: [], datasets: [bars('estimated reward per decision', '#8e44ad')] },
      options: { plugins: { legend: { display: false } }, scales: { x: axis('policy · estimator'), y: axis('estimated reward per decision') } }
    });
  }

  function rows(table, head, data) {
    var h = '<tr>' + head.map(function (c) { return '<th' + (c[1] ? ' class="num"' : '') + '>' + esc(c[0]) + '</th>'; }).join('') + '</tr>';
    table.innerHTML = h + data.map(function (r) { return '<tr>' + r.map(function (v, i) { return '<td' + (head[i][1] ? ' class="num"' : '') + '>' + v + '</td>'; }).join('') + '</tr>'; }).join('');
  }
  function setXRange(chart, lo, hi) { chart.options.scales.x.min = lo; chart.options.scales.x.max = hi; }

  function render(d) {
    var s = d.snapshot;
    $('snapshot').textContent = 'snapshot ' + s.id + ' · ' + s.kind + ' · ' + s.source;
    var t = d.totals;
    $('totals').textContent = t.decisions + ' decisions · ' + t.feedback + ' feedback · reward sum ' + fmt(t.rewardSum, 2) + ' · ' + t.items + ' items · ' + t.users + ' users';
    $('live').textContent = 'live, every ' + (REFRESH_MS / 1000) + ' s · updated ' + clock(d.generated, true);

    var r = d.rewardPerDecision, tl = d.timeline;
    bucketMs = tl.bucketMs;
    var perMin = 60000 / tl.bucketMs, mid = tl.bucketMs / 2; // points sit in the middle of their bucket
    var first = Math.min(r.points.length ? r.points[0].t : Infinity, tl.points.length ? tl.points[0].t : Infinity);
    // a bucket's margin each side, so that a lone point is not drawn on the frame
    var lo = (isFinite(first) ? first : d.generated - 60000) - mid, hi = d.generated + mid;
    $('rpd-value').textContent = fmt(r.perDecision, 3);
    $('rpd-count').textContent = r.decisions ? 'mean reward per decision over ' + r.decisions + ' decisions, last ' + d.hours + ' h' : 'no decision has a known reward yet';
    $('rpd-note').textContent = 'Each decision counts the rewards learned from it: its feedback within the ' + r.waitSeconds + ' s reward wait, plus the default reward (' + r.defaultReward + ') for each shown item without feedback once the wait is over. A decision still waiting counts once it has feedback. One point per ' + every(r.bucketMs) + '.' + (r.complete ? '' : ' Still reading the log…');
    var c = charts['chart-reward'];
    c.data.datasets[0].data = r.points.map(function (p) { return { x: p.t + mid, y: p.perDecision }; });
    c.data.datasets[1].data = tl.points.filter(function (p) { return p.ctr !== null; }).map(function (p) { return { x: p.t + mid, y: 100 * p.ctr }; });
    setXRange(c, lo, hi); c.update('none');
    c = charts['chart-traffic'];
    c.data.datasets[0].data = tl.points.map(function (p) { return { x: p.t + mid, y: p.decisions * perMin }; });
    c.data.datasets[1].data = tl.points.map(function (p) { return { x: p.t + mid, y: p.feedback * perMin }; });
    setXRange(c, lo, hi); c.update('none');

    var L = d.learning;
    c = charts['chart-learned'];
    c.data.datasets[0].data = r.learned.map(function (p) { return { x: p.t + mid, y: p.learned * perMin }; });
    setXRange(c, lo, hi); c.update('none');
    c = charts['chart-queue'];
    c.data.datasets[0].data = L.samples.map(function (p) { return { x: p.t, y: p.queue }; });
    c.data.datasets[1].data = L.samples.map(function (p) { return { x: p.t, y: p.openWindows }; });
    c.update('none');
    rows($('learning-info'), [['learner'], ['', 1]], [
      ['serving policy', esc(L.policy)],
      ['updates learned', L.updates],
      ['queue (capacity)', L.queueLength + ' (' + L.queueCapacity + ')'],
      ['queue full, learned in the request', L.queueFull],
      ['reward windows open', L.openWindows],
      ['default rewards learned', L.defaultRewards],
      ['errors: learn · flush · checkpoint', L.errors.learn + ' · ' + L.errors.flush + ' · ' + L.errors.checkpoint],
      ['checkpoint', 'every ' + L.checkpointEvery + ' rewards, at most every ' + L.checkpointSeconds + ' s'],
      ['retrains (failed)', L.retrains + ' (' + L.retrainErrors + ')']
    ]);

    if (d.ope) {
      $('sec-ope').hidden = false;
      c = charts['chart-ope'];
      c.data.labels = d.ope.estimates.map(function (e) { return e.policy + ' · ' + e.estimator; });
      c.data.datasets[0].data = d.ope.estimates.map(function (e) { return e.value; });
      c.update('none');
      $('ope-protocol').textContent = d.ope.protocol;
      rows($('ope-table'), [['policy'], ['estimator'], ['estimate', 1], ['95% interval', 1], ['decisions', 1]], d.ope.estimates.map(function (e) {
        return [esc(e.policy), esc(e.estimator), fmt(e.value), e.ci ? fmt(e.ci[0]) + ' … ' + fmt(e.ci[1]) : '–', e.decisions];
      }));
    } else $('sec-ope').hidden = true;

    var w = d.weights;
    c = charts['chart-weights'];
    var banditLabel = w.policy === 'linucb-rerank' ? 'bandit (LinUCB)' : w.policy === 'cb' ? 'bandit (cb)' : w.policy;
    c.data.labels = ['recommender', banditLabel];
    c.data.datasets[0].data = [w.recommender, w.bandit];
    c.update('none');
    $('weights-note').textContent = (w.policy !== 'linucb-rerank' && w.policy !== 'cb' ? 'serving policy ' + w.policy + ' (its own learned state; no recommender weight); ' : 'recommender = learned coefficient on its normalised score (1 before feedback); bandit = norm of the other learned weights; ') + 'exploration ε = ' + fmt(w.exploration) + '; ' + w.updates + ' rewards learned.';

    var e = d.exposure;
    c = charts['chart-exposure'];
    c.data.labels = e.histogram.map(function (b) { return b.bucket; });
    c.data.datasets[0].data = e.histogram.map(function (b) { return b.items; });
    c.update('none');
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

  var loading = false, again = false, renders = 0;
  function load() {
    // One read at a time; a read asked for meanwhile (the user form) follows the one in flight.
    if (loading) { again = true; return; }
    loading = true;
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
        if (!charts['chart-reward']) createCharts();
        render(r.body);
        document.body.setAttribute('data-ready', '1');
        document.body.setAttribute('data-renders', String(++renders));
      })
      .catch(function (err) { $('error').textContent = String(err); })
      .finally(function () { loading = false; if (again) { again = false; load(); } });
  }

  $('login').addEventListener('submit', function (ev) { ev.preventDefault(); key = $('key').value; sessionStorage.setItem('chorusKey', key); load(); });
  $('user-form').addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
  if (typeof Chart === 'undefined') { $('error').textContent = 'Chart.js did not load (dashboard/chart.umd.js)'; return; }
  if (!key) { $('login').hidden = false; $('snapshot').textContent = ''; } else load();
  setInterval(function () { if (key && !document.hidden) load(); }, REFRESH_MS);
})();
</script>
</body>
</html>
`;
