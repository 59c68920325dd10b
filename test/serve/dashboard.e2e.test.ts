import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestServer, type TestServer } from './helpers.js';

// Debian's chromium (apt-get install chromium); never a downloaded browser.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

let s: TestServer;
let browser: Browser;

beforeAll(async () => {
  s = await startTestServer();
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

describe('dashboard in Chromium', () => {
  it('draws real data: timeline, weights, exposure, top items, a user\'s slate, the snapshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${s.url}/dashboard#key=${ADMIN}`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
    // the key is taken out of the address bar
    expect(page.url()).not.toContain(ADMIN);

    expect(await page.textContent('#snapshot')).toContain(s.engine.activeSnapshot.id);
    const totals = await page.textContent('#totals');
    expect(totals).toContain(`${s.engine.counters.decisions} decisions`);
    expect(await page.locator('#chart-timeline path.series-avgReward').count()).toBe(1);
    expect(await page.locator('#chart-timeline path.series-ctr').count()).toBe(1);
    expect(await page.locator('#chart-weights rect.bar').count()).toBe(3);
    expect(await page.locator('#chart-exposure rect.bar').count()).toBeGreaterThan(3);
    const top = await s.store.events.topItems(1);
    const topTitle = (s.engine.getEntry('items', top[0]!.item)?.title as string | undefined) ?? top[0]!.item;
    expect(await page.textContent('#top-items')).toContain(topTitle);
    // one user's recommendations with explanations (header + 10 rows on the tiny data: fewer if the user saw many)
    const rows = await page.locator('#user-recs tr').count();
    expect(rows).toBeGreaterThan(1);
    const preview = s.engine.preview('u1', 10);
    expect(await page.textContent('#user-recs')).toContain(s.engine.getEntry('items', preview[0]!.id)!.title as string);

    // switch to another user through the form
    await page.fill('#user', 'u4');
    await Promise.all([page.waitForResponse((r) => r.url().includes('/dashboard/data?user=u4')), page.press('#user', 'Enter')]);
    await page.waitForFunction("document.querySelectorAll('#user-recs tr').length > 1");
    const p4 = s.engine.preview('u4', 10);
    expect(await page.textContent('#user-recs')).toContain(s.engine.getEntry('items', p4[0]!.id)!.title as string);

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });
    expect(errors).toEqual([]);
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
