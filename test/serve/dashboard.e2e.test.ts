import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_REFRESH_SECONDS } from '../../src/serve/dashboard-html.js';
import { ADMIN, startTestServer, type TestServer } from './helpers.js';

// Debian's chromium (apt-get install chromium); never a downloaded browser.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
const CHARTS = ['chart-reward', 'chart-traffic', 'chart-learned', 'chart-queue', 'chart-weights', 'chart-exposure'];

let s: TestServer;
let browser: Browser;

beforeAll(async () => {
  // A long reward wait: no window closes during the test, so only the feedback sent below can
  // change the reward-per-decision figure (window closing is tested in decision-rewards.test.ts).
  s = await startTestServer({ engine: { rewardWaitSeconds: 3600 } });
  // Real traffic: slates with feedback, and Personalizer rank/reward.
  for (let t = 0; t < 30; t++) {
    const r = await s.call('POST', '/recommend', { user: `u${1 + (t % 6)}`, k: 4, context: { hour: t % 24 } });
    const items = r.body.items as { id: string }[];
    if (t % 3 !== 2 && items.length > 0) await s.call('POST', '/feedback', { eventId: r.body.eventId, item: items[t % items.length]!.id, type: 'click' });
  }
  for (let t = 0; t < 10; t++) {
    const r = await s.call('POST', '/personalizer/v1.0/rank', { actions: [{ id: 'm7' }, { id: 'm8' }], contextFeatures: [{ t }] });
    await s.call('POST', `/personalizer/v1.0/events/${r.body.eventId}/reward`, { value: r.body.rewardActionId === 'm7' ? 1 : -0.5 });
  }
  await s.engine.settle();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

interface ChartFacts {
  /** Points (or bars) per dataset. */
  points: number[];
  /** Each scale's id and title ('' when it has none). */
  titles: [string, string][];
  /** Canvas pixels drawn on (alpha > 0), and all pixels. */
  inked: number;
  pixels: number;
  /** Alpha of the canvas pixel at the first element of each dataset that has one (the point or the middle of the bar). */
  firstElementAlpha: number[];
}

/** What Chart.js drew on a canvas: its instance, scales and the canvas's own pixels. */
async function chartFacts(page: Page, id: string): Promise<ChartFacts | null> {
  return page.evaluate((canvasId) => {
    // `any`: this runs in the page, whose DOM and Chart.js (a UMD global) are not typed in this
    // Node project (no DOM lib in tsconfig).
    const g = globalThis as any;
    const canvas = g.document.getElementById(canvasId);
    const chart = g.Chart.getChart(canvas);
    if (!chart) return null;
    const ctx = canvas.getContext('2d');
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let inked = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) inked++;
    const dpr = chart.currentDevicePixelRatio as number;
    const firstElementAlpha: number[] = [];
    chart.data.datasets.forEach((_d: unknown, i: number) => {
      const el = chart.getDatasetMeta(i).data[0];
      if (!el) return;
      const y = el.base !== undefined && Number.isFinite(el.base) ? (el.y + el.base) / 2 : el.y;
      const x = el.base !== undefined && chart.options.indexAxis === 'y' ? (el.x + el.base) / 2 : el.x;
      const px = ctx.getImageData(Math.round(chart.options.indexAxis === 'y' ? x * dpr : el.x * dpr), Math.round((chart.options.indexAxis === 'y' ? el.y : y) * dpr), 1, 1).data;
      firstElementAlpha.push(px[3]!);
    });
    return {
      points: chart.data.datasets.map((d: { data: unknown[] }) => d.data.length),
      titles: Object.values(chart.scales).map((sc: any) => [sc.id, sc.options.title?.display ? String(sc.options.title.text) : '']),
      inked,
      pixels: canvas.width * canvas.height,
      firstElementAlpha,
    };
  }, id);
}

async function openDashboard(width = 1280): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 1400 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${s.url}/dashboard#key=${ADMIN}`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
  return { page, errors, requests };
}

describe('dashboard in Chromium', () => {
  it('draws real data with Chart.js: every chart has data, ink and titled axes; the tables sit inside their cards', async () => {
    const { page, errors, requests } = await openDashboard();
    // the key is taken out of the address bar
    expect(page.url()).not.toContain(ADMIN);
    // Chart.js came from this server, and nothing else was fetched from anywhere else (works offline)
    expect(requests).toContain(`${s.url}/dashboard/chart.umd.js`);
    expect(requests.filter((u) => !u.startsWith(s.url))).toEqual([]);

    expect(await page.textContent('#snapshot')).toContain(s.engine.activeSnapshot.id);
    expect(await page.textContent('#totals')).toContain(`${s.engine.counters.decisions} decisions`);

    for (const id of CHARTS) {
      const f = await chartFacts(page, id);
      expect(f, id).not.toBeNull();
      // every dataset has data, its first element is painted, and the canvas is not blank
      for (const n of f!.points) expect(n, `${id} points`).toBeGreaterThan(0);
      expect(f!.firstElementAlpha.length, `${id} elements`).toBe(f!.points.length);
      for (const a of f!.firstElementAlpha) expect(a, `${id} first element painted`).toBeGreaterThan(0);
      expect(f!.inked / f!.pixels, `${id} ink`).toBeGreaterThan(0.01);
      // both axes titled
      expect(f!.titles.length, `${id} scales`).toBeGreaterThanOrEqual(2);
      for (const [axis, t] of f!.titles) expect(t.length, `${id} axis ${axis} title`).toBeGreaterThan(3);
    }
    const reward = await chartFacts(page, 'chart-reward');
    expect(Object.fromEntries(reward!.titles)).toEqual({
      x: expect.stringContaining('time (local clock'),
      y: expect.stringContaining('reward per decision'),
      ctr: expect.stringContaining('CTR (%'),
    });
    expect(Object.fromEntries((await chartFacts(page, 'chart-traffic'))!.titles).y).toBe('events per minute');
    expect(await page.locator('#sec-ope').isHidden()).toBe(true); // the feed has no OPE figures

    // reward per decision, as the feed computes it, not per feedback
    const feed = (await s.call('GET', '/dashboard/data')).body;
    expect(feed.ope).toBeUndefined();
    expect(await page.textContent('#rpd-value')).toBe(feed.rewardPerDecision.perDecision.toFixed(3));
    expect(feed.rewardPerDecision.decisions).toBe(30); // the 20 slates and 10 rank events with feedback; the other 10 still wait

    const top = await s.store.events.topItems(1);
    const topTitle = (s.engine.getEntry('items', top[0]!.item)?.title as string | undefined) ?? top[0]!.item;
    expect(await page.textContent('#top-items')).toContain(topTitle);
    const preview = s.engine.preview('u1', 10);
    expect(await page.textContent('#user-recs')).toContain(s.engine.getEntry('items', preview[0]!.id)!.title as string);
    expect(await page.textContent('#learning-info')).toContain(`${s.engine.counters.learned}`);

    // every table lies within its card, at a desktop width and a narrow one
    for (const width of [1280, 700, 420]) {
      await page.setViewportSize({ width, height: 1400 });
      // `any`: the page's DOM (see chartFacts)
      const spill = await page.evaluate(() =>
        [...(globalThis as any).document.querySelectorAll('main table')].map((t: any) => {
          const card = t.closest('section');
          // a table wider than its card must scroll inside a box that fits the card
          const wrap = t.parentElement;
          const scrolls = ['auto', 'scroll'].includes((globalThis as any).getComputedStyle(wrap).overflowX);
          const box = (scrolls ? wrap : t).getBoundingClientRect();
          const c = card.getBoundingClientRect();
          return { id: t.id, card: card.id, out: Math.max(c.left - box.left, box.right - c.right, c.top - box.top, box.bottom - c.bottom) };
        }),
      );
      expect(spill.length).toBeGreaterThanOrEqual(4);
      for (const x of spill) if (x.card !== 'sec-ope') expect(x.out, `${x.id} in ${x.card} at ${width}px`).toBeLessThanOrEqual(0.5);
    }
    await page.setViewportSize({ width: 1280, height: 1400 });

    // switch to another user through the form
    await page.fill('#user', 'u4');
    await Promise.all([page.waitForResponse((r) => r.url().includes('/dashboard/data?user=u4')), page.press('#user', 'Enter')]);
    const p4 = s.engine.preview('u4', 10);
    await page.waitForFunction((t) => ((globalThis as any).document.getElementById('user-recs')?.textContent ?? '').includes(t), s.engine.getEntry('items', p4[0]!.id)!.title as string);

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('updates in place: a feedback sent through the API changes the reward per decision within one refresh', async () => {
    const { page, errors } = await openDashboard();
    const before = await page.textContent('#rpd-value');
    const pointsBefore = await page.evaluate(() => {
      const g = globalThis as any;
      g.rewardChart = g.Chart.getChart(g.document.getElementById('chart-reward'));
      return g.rewardChart.data.datasets[0].data.map((p: { y: number }) => p.y);
    });
    const sent = Date.now();
    const r = await s.call('POST', '/recommend', { user: 'u2', k: 3 });
    // a rating of 1 is reward −1: lower than any decision counted so far
    expect((await s.call('POST', '/feedback', { eventId: r.body.eventId, item: r.body.items[0].id, type: 'rating', value: 1 })).status).toBe(201);
    await page.waitForFunction((b) => (globalThis as any).document.getElementById('rpd-value')?.textContent !== b, before, { timeout: (DASHBOARD_REFRESH_SECONDS + 3) * 1000 });
    expect(Date.now() - sent).toBeLessThan((DASHBOARD_REFRESH_SECONDS + 3) * 1000);
    const after = await page.textContent('#rpd-value');
    expect(Number(after)).toBeLessThan(Number(before));
    const feed = (await s.call('GET', '/dashboard/data')).body;
    expect(after).toBe(feed.rewardPerDecision.perDecision.toFixed(3));
    expect(feed.rewardPerDecision.decisions).toBe(31);
    // the same Chart instance, its data replaced (not a page reload or a new chart)
    const same = await page.evaluate(() => {
      const g = globalThis as any;
      return { same: g.Chart.getChart(g.document.getElementById('chart-reward')) === g.rewardChart, ys: g.rewardChart.data.datasets[0].data.map((p: { y: number }) => p.y) };
    });
    expect(same.same).toBe(true);
    expect(same.ys).not.toEqual(pointsBefore);
    expect(Number(await page.getAttribute('body', 'data-renders'))).toBeGreaterThan(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the OPE card only when the feed carries off-policy estimates', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    // The server has no ope/ module yet; give the page a feed that has the field, to check it draws it.
    await page.route('**/dashboard/data*', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      body.ope = { protocol: 'logged decisions of this server · SNIPS · seed 0', estimates: [{ policy: 'cb', estimator: 'SNIPS', value: 0.31, ci: [0.2, 0.4], decisions: 40 }, { policy: 'random', estimator: 'SNIPS', value: 0.12, ci: null, decisions: 40 }] };
      await route.fulfill({ response: res, json: body });
    });
    await page.goto(`${s.url}/dashboard#key=${ADMIN}`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
    expect(await page.locator('#sec-ope').isVisible()).toBe(true);
    const f = await chartFacts(page, 'chart-ope');
    expect(f!.points).toEqual([2]);
    expect(f!.firstElementAlpha[0]).toBeGreaterThan(0);
    for (const [, t] of f!.titles) expect(t.length).toBeGreaterThan(3);
    expect(await page.locator('#ope-table tr').count()).toBe(3);
    expect(await page.textContent('#ope-protocol')).toContain('SNIPS');
    await page.close();
  });

  it('asks for a key when none is given and shows the error for a wrong one', async () => {
    const page = await browser.newPage();
    await page.goto(`${s.url}/dashboard`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#key', 'wrong-key');
    await page.press('#key', 'Enter');
    await page.waitForFunction("(document.getElementById('error')?.textContent ?? '').length > 0");
    expect(await page.textContent('#error')).toContain('invalid API key');
    await page.close();
  });
});
