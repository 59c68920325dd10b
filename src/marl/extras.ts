/**
 * Extra team agents from a command-line spec: `mf,ease` or `mf{"epochs":40,"factors":200},ease`,
 * each a registered recommender with an optional JSON config, fitted on the given data and wrapped
 * as an `ExtraScorer` (context.ts). Used by `chorus simulate --extras` and bench/marl.ts.
 */
import type { Dataset } from '../data/dataset.js';
import { ConfigError } from '../errors.js';
import { createRecommender } from '../recommenders/registry.js';
import { recommenderScorer, type ExtraScorer } from './context.js';

export interface ExtraSpec {
  name: string;
  config?: Record<string, unknown>;
}

/**
 * Parses `name[{json}]` entries separated by commas; the JSON may itself hold commas. Team members
 * are named by their recommender, so by default a name may appear once (`distinct: false` allows
 * repeats, e.g. to compare configs of one model).
 */
export function parseExtrasSpec(spec: string, field = 'extras', { distinct = true } = {}): ExtraSpec[] {
  const out: ExtraSpec[] = [];
  let i = 0;
  while (i < spec.length) {
    while (i < spec.length && (spec[i] === ',' || spec[i] === ' ')) i++;
    if (i >= spec.length) break;
    const m = /^[a-z][a-z0-9-]*/i.exec(spec.slice(i));
    if (!m) throw new ConfigError(`expected a recommender name at character ${i + 1} of "${spec}"`, field);
    const name = m[0];
    i += name.length;
    let config: Record<string, unknown> | undefined;
    if (spec[i] === '{') {
      // The config runs to the brace that closes the first one (configs may nest objects).
      let depth = 0;
      let j = i;
      for (; j < spec.length; j++) {
        if (spec[j] === '{') depth++;
        else if (spec[j] === '}' && --depth === 0) break;
      }
      if (depth !== 0) throw new ConfigError(`the config of extra "${name}" has no closing brace`, field);
      const text = spec.slice(i, j + 1);
      try {
        config = JSON.parse(text) as Record<string, unknown>;
      } catch (e) {
        throw new ConfigError(`the config of extra "${name}" is not JSON (${(e as Error).message}): ${text}`, field);
      }
      i = j + 1;
    }
    if (i < spec.length && spec[i] !== ',') throw new ConfigError(`expected "," after extra "${name}" at character ${i + 1} of "${spec}"`, field);
    if (distinct && out.some((e) => e.name === name)) throw new ConfigError(`extra "${name}" is given twice`, field);
    out.push({ name, config });
  }
  return out;
}

/** Fits each extra on `train` (in order) and returns the scorers. */
export async function fitExtras(specs: readonly ExtraSpec[], train: Dataset): Promise<ExtraScorer[]> {
  const scorers: ExtraScorer[] = [];
  for (const { name, config } of specs) {
    const model = createRecommender(name, config);
    await model.fit(train);
    scorers.push(recommenderScorer(name, model));
  }
  return scorers;
}
