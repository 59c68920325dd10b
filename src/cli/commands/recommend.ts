/**
 * `chorus recommend`: load a saved model and print a user's top-k with titles; with `--explain`
 * (models that can explain: the team), each item's per-agent contributions and evidence.
 */
import type { Command } from 'commander';
import { ConfigError, NotFoundError } from '../../errors.js';
import { canExplain } from '../../marl/offline-explain.js';
import { loadModel } from '../../recommenders/persist.js';
import { noHistoryScores } from '../../util/no-history.js';
import { topK } from '../../util/topk.js';
import { intFlag, loadConfig } from '../config.js';
import { readModelIndex } from '../model-index.js';
import { formatNumber, table, writeJson, writeOut } from '../output.js';

interface RecommendFlags {
  modelFile?: string;
  user: string;
  k?: string;
  includeSeen?: boolean;
  config?: string;
  json?: boolean;
  explain?: boolean;
}

export function register(program: Command): void {
  program
    .command('recommend')
    .description('print the top-k items for a user from a saved model, with titles')
    .requiredOption('-u, --user <id>', 'external user id (as in the data)')
    .option('-f, --model-file <file>', 'model written by `chorus train` (default: config recommend.modelFile, else als.model.json)')
    .option('-k, --k <n>', 'how many items (default 10)')
    .option('--include-seen', "also rank the user's training items")
    .option('--explain', "show each agent's contribution to each item's score and the evidence behind it (team-blend models)")
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<RecommendFlags>();
      const { config } = loadConfig(flags.config);
      const file = flags.modelFile ?? config.recommend?.modelFile ?? 'als.model.json';
      const k = intFlag(flags.k, 'k', 1) ?? config.recommend?.k ?? 10;
      const [model, index] = await Promise.all([loadModel(file), readModelIndex(file)]);
      const u = index.users.indexOf(flags.user);
      if (u < 0 && !index.popularity) {
        throw new NotFoundError(`user "${flags.user}" is not in the model's training data (${index.users.length} users); retrain with this version to get popular items for unknown users`, 'user');
      }
      if (flags.explain && !canExplain(model)) {
        throw new ConfigError(`--explain: model "${model.kind}" (${file}) cannot explain its recommendations; train a team-blend model (chorus train --model team-blend) for explanations`, 'explain');
      }
      // A user the model does not know has no history: the most popular items (util/no-history.ts).
      const ranked =
        u >= 0 ? model.recommend(u, k, { excludeSeen: !flags.includeSeen }) : topK(noHistoryScores(model.scoreAll({ items: new Int32Array(0) }), index.popularity!), k);
      const rows = Array.from(ranked.items, (i, r) => ({ rank: r + 1, item: index.items[i]!, title: index.titles[i] ?? '', score: ranked.scores[r]! }));
      const explained = u >= 0 && flags.explain && canExplain(model) ? model.explain(u, ranked.items) : null;
      // The team's fusion weight per agent, when the model reports them (context for the contributions).
      const weights = explained ? (model as { weights?: Record<string, number> }).weights : undefined;
      if (flags.json) {
        const items = explained ? rows.map((r, p) => ({ ...r, explanation: { contributions: explained[p]!.contributions, evidence: explained[p]!.evidence } })) : rows;
        writeJson({ user: flags.user, model: model.kind, k, ...(u < 0 ? { unknownUser: true } : {}), ...(weights ? { weights } : {}), items });
        return;
      }
      writeOut(`top ${k} for user ${flags.user} (${model.kind}, ${file})${u < 0 ? ': not in the training data, so the most popular items' : ''}`);
      writeOut(table(['rank', 'item', 'title', 'score'], rows.map((r) => [r.rank, r.item, r.title, r.score])));
      if (!explained) return;
      for (let p = 0; p < rows.length; p++) {
        const r = rows[p]!;
        const e = explained[p]!;
        writeOut(`\n#${r.rank} ${r.title || r.item}: score ${formatNumber(r.score)} = sum of the contributions`);
        const agents = Object.keys(e.contributions);
        const why = (a: string) => e.evidence.filter((x) => x.agent === a).map((x) => x.text).join('; ');
        const head = weights ? ['agent', 'weight', 'contribution', 'evidence'] : ['agent', 'contribution', 'evidence'];
        writeOut(table(head, agents.map((a) => (weights ? [a, weights[a] ?? NaN, e.contributions[a]!, why(a)] : [a, e.contributions[a]!, why(a)]))));
      }
    });
}
