/**
 * The LLM content scorer as the team's content member: `attachTeamContent(…, chat)` appends the
 * model's appeal rating of every item to the content agent's vectors, and `chorus simulate --agent
 * team --content-llm` trains the team with it. Against the local test server, whose "model" rates
 * an item min(1, words in its text / 10).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSimData } from '../../src/eval/sim/data.js';
import { itemTexts } from '../../src/embed/text.js';
import { openChatModel } from '../../src/llm/spec.js';
import { attachTeamContent } from '../../src/marl/content.js';
import { toyContext } from '../agents/toy-context.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';
import { FakeLlmServer } from '../fixtures/llm/server.js';

let server: FakeLlmServer;
beforeAll(async () => {
  server = await new FakeLlmServer().start();
});
afterAll(async () => {
  await server.close();
});

describe('LLM appeal ratings in the team\'s content agent', () => {
  const dir = tempDir('chorus-content-llm-');
  writeTinyMovieLens(dir, 30, 50, 2);

  it('appends the model\'s rating of each item to the content vectors', async () => {
    const { full } = await loadSimData(dir);
    const ctx = toyContext({ nItems: full.nItems });
    const plain = await attachTeamContent({ ...ctx }, full, 8);
    const before = server.requests;
    const chat = openChatModel(`${server.url}#fake-critic`, { cachePath: false });
    const rated = await attachTeamContent({ ...ctx }, full, 8, chat);
    expect(server.requests - before).toBe(Math.ceil(full.nItems / 10)); // ten items per prompt
    const d = plain.content!.dim;
    expect(rated.content!.dim).toBe(d + 1);
    const texts = itemTexts(full);
    for (let i = 0; i < full.nItems; i++) {
      // The text embedding is unchanged; the extra component is the model's rating.
      expect(Array.from(rated.content!.vectors.subarray(i * (d + 1), i * (d + 1) + d))).toEqual(Array.from(plain.content!.vectors.subarray(i * d, (i + 1) * d)));
      const words = texts[i]!.trim().split(/\s+/).length;
      expect(rated.content!.vectors[i * (d + 1) + d]).toBeCloseTo(Math.min(1, words / 10), 6);
    }
  });

  it('trains a team with it from the CLI, and refuses it without a team', async () => {
    const { full } = await loadSimData(dir);
    const before = server.requests;
    const r = await runCli(['simulate', '--agent', 'team', '--content-llm', `${server.url}#fake-critic`, '--llm-cache', 'none', '--data', dir, '--steps', '64', '--seeds', '1', '--eval-sessions', '10', '--no-report', '--json']);
    expect(r.stderr).not.toMatch(/chorus:/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).runs[0].agent).toBe('team');
    // The catalogue was rated through the model: one prompt per ten items.
    expect(server.requests - before).toBe(Math.ceil(full.nItems / 10));
    const bad = await runCli(['simulate', '--agent', 'linucb', '--content-llm', `${server.url}#fake-critic`, '--data', dir]);
    expect(bad.stderr).toMatch(/--content-llm rates items for the team's content agent/);
  });
});
