/**
 * One sentence per recommended item, written by a chat model from the structured explanation
 * (`POST /recommend` with `explain: "text"`, on a server started with `--llm`). The structured
 * explanation stays in the answer: the sentence is a rendering of it, and the prompt gives the
 * model only those facts (the user's recent titles, each item's title and genres, the policy's
 * reasons) and asks it not to invent others. One model call per slate, under a JSON schema, so
 * every item's sentence comes back together (and from the model's cache when the same facts
 * repeat).
 */
import type { ChatProvider, JSONSchema } from '../llm/types.js';
import type { Explanation } from './serving-policy.js';

export interface TextExplanationInput {
  /** Titles (or ids) of the user's recent items, oldest first. */
  history: string[];
  items: { id: string; title?: string; genres?: string[]; explanation: Explanation }[];
}

/** How many history titles the prompt shows (the engine looks up only these). */
export const HISTORY_SHOWN = 10;

const SCHEMA: JSONSchema = {
  type: 'object',
  properties: {
    sentences: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string' }, text: { type: 'string', maxLength: 200 } },
        required: ['id', 'text'],
        additionalProperties: false,
      },
    },
  },
  required: ['sentences'],
  additionalProperties: false,
};

const SYSTEM =
  'You explain to a user, in one short friendly sentence per item, why a recommender suggested it. ' +
  'Use only the facts given (the user\'s recent items, the item\'s title and genres, and the recommender\'s reasons); ' +
  'never invent facts about the item. Say plainly when an item was shown to explore rather than because it matches. ' +
  'Answer with JSON: {"sentences":[{"id":…,"text":…}]}, one entry per item, in the order given.';

/** The recommender's reasons for one item, as short facts the model may restate. */
export function reasonsOf(e: Explanation): string[] {
  const r: string[] = [];
  if (e.recommender.score !== null) r.push(`match with the user's taste: ${(e.recommender.normalized * 100).toFixed(0)}% of the best candidate's (${e.recommender.kind} model)`);
  else r.push('new item the model has not scored yet');
  if (e.agent) {
    r.push(`chosen by the ${e.agent.name} agent${e.agent.source === 'fill' ? ' (filling a free slot)' : ''}`);
    if (e.agent.contributions) {
      const parts = Object.entries(e.agent.contributions)
        .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
        .slice(0, 3)
        .map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
      if (parts.length > 0) r.push(`agents' contributions: ${parts.join(', ')}`);
    }
    for (const ev of e.agent.evidence ?? []) r.push(`${ev.agent}: ${ev.text}`);
  }
  if (e.exploration.explored) r.push('shown to explore (not the top choice)');
  return r;
}

/** The prompt's user message: the facts, item by item. */
export function explanationPrompt(input: TextExplanationInput): string {
  const lines: string[] = [];
  const recent = input.history.slice(-HISTORY_SHOWN);
  lines.push(recent.length > 0 ? `The user recently liked or watched: ${recent.join('; ')}.` : 'The user has no recent history (a new user).');
  lines.push('Items:');
  for (const it of input.items) {
    const what = [it.title ? `"${it.title}"` : null, it.genres && it.genres.length > 0 ? `genres ${it.genres.join(', ')}` : null].filter(Boolean).join(', ');
    lines.push(`- id ${it.id}${what ? ` (${what})` : ''}: ${reasonsOf(it.explanation).join('; ')}.`);
  }
  return lines.join('\n');
}

/**
 * The model's sentence for each item id. Items the model left out, or answered for an id not in
 * the slate, get none (the caller keeps the structured explanation).
 */
export async function explainAsText(chat: ChatProvider, input: TextExplanationInput): Promise<Map<string, string>> {
  const res = await chat.chat({
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: explanationPrompt(input) },
    ],
    schema: SCHEMA,
    schemaName: 'explanations',
    // Room for every sentence at its longest (200 characters ≈ 60 tokens) plus the JSON around it:
    // a greedy answer cut off by the budget would be cut off the same way on every retry.
    maxTokens: 100 * input.items.length + 40,
    temperature: 0,
  });
  const wanted = new Set(input.items.map((i) => i.id));
  const out = new Map<string, string>();
  for (const s of (res.json as { sentences: { id: string; text: string }[] }).sentences) {
    if (wanted.has(s.id) && !out.has(s.id) && s.text.trim().length > 0) out.set(s.id, s.text.trim());
  }
  return out;
}
