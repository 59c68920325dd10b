import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** Snapshots are listed by creation time (ms): a pause keeps two copies from sharing one. */
const tick = () => new Promise((r) => setTimeout(r, 3));
const ids = async (t: TestServer): Promise<string[]> => (await t.call('GET', '/snapshots')).body.snapshots.map((m: { id: string }) => m.id);

describe('DELETE /snapshots/{id}', () => {
  it('deletes a snapshot that is not active; 409 for the active one, 404 for an unknown one', async () => {
    s = await startTestServer({ engine: { keepSnapshots: 0 } });
    const first = s.engine.activeSnapshot.id;
    await tick();
    const copy = (await s.call('POST', '/snapshots', { activate: false })).body.id as string;
    expect(await ids(s)).toEqual([first, copy]);
    const active = await s.call('DELETE', `/snapshots/${first}`);
    expect(active.status).toBe(409);
    expect(active.body.error.field).toBe('id');
    expect((await s.call('DELETE', `/snapshots/${copy}`)).status).toBe(204);
    expect(await ids(s)).toEqual([first]);
    const again = await s.call('DELETE', `/snapshots/${copy}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('E_NOT_FOUND');
    expect((await s.call('DELETE', `/snapshots/${copy}`, undefined, { key: null })).status).toBe(401);
  });

  it('makes rollback skip a deleted snapshot', async () => {
    s = await startTestServer({ engine: { keepSnapshots: 0 } });
    const a = s.engine.activeSnapshot.id;
    await tick();
    const b = (await s.call('POST', '/snapshots', { activate: true })).body.id as string;
    await tick();
    const c = (await s.call('POST', '/snapshots', { activate: true })).body.id as string;
    expect(s.engine.activeSnapshot.id).toBe(c);
    expect((await s.call('DELETE', `/snapshots/${b}`)).status).toBe(204);
    const r = await s.call('POST', '/snapshots/rollback');
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(a);
  });
});

describe('snapshot retention', () => {
  it('keeps the newest keepSnapshots, plus the active one and the one rollback goes back to', async () => {
    s = await startTestServer({ engine: { keepSnapshots: 2 } });
    const first = s.engine.activeSnapshot.id;
    // Three copies, not activated: the first stays (active), the oldest copy goes.
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await tick(), await s.call('POST', '/snapshots', { activate: false })).body.id);
    expect(await ids(s)).toEqual([first, made[1], made[2]]);
    // Activate the newest, then two more copies: `first` is now rollback's target and is kept.
    await s.call('POST', `/snapshots/${made[2]}/activate`);
    const more: string[] = [];
    for (let i = 0; i < 2; i++) more.push((await tick(), await s.call('POST', '/snapshots', { activate: false })).body.id);
    expect(await ids(s)).toEqual([first, made[2], ...more]);
    expect((await s.call('POST', '/snapshots/rollback')).body.id).toBe(first);
  });

  it('keeps every snapshot with keepSnapshots 0', async () => {
    s = await startTestServer({ engine: { keepSnapshots: 0 } });
    for (let i = 0; i < 4; i++) await s.call('POST', '/snapshots', { activate: false });
    expect(await ids(s)).toHaveLength(5);
  });
});
