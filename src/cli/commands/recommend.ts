/** `chorus recommend`: load a saved model and print a user's top-k with titles. */
import type { Command } from 'commander';
import { NotFoundError } from '../../errors.js';
import { loadModel } from '../../recommenders/persist.js';
import { intFlag, loadConfig } from '../config.js';
import { readModelIndex } from '../model-index.js';
import { table, writeJson, writeOut } from '../output.js';

interface RecommendFlags {
  modelFile?: string;
  user: string;
  k?: string;
  includeSeen?: boolean;
  config?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('recommend')
    .description('print the top-k items for a user from a saved model, with titles')
    .requiredOption('-u, --user <id>', 'external user id (as in the data)')
    .option('-f, --model-file <file>', 'model written by `chorus train` (default: config recommend.modelFile, else als.model.json)')
    .option('-k, --k <n>', 'how many items (default 10)')
    .option('--include-seen', "also rank the user's training items")
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<RecommendFlags>();
      const { config } = loadConfig(flags.config);
      const file = flags.modelFile ?? config.recommend?.modelFile ?? 'als.model.json';
      const k = intFlag(flags.k, 'k', 1) ?? config.recommend?.k ?? 10;
      const [model, index] = await Promise.all([loadModel(file), readModelIndex(file)]);
      const u = index.users.indexOf(flags.user);
      if (u < 0) throw new NotFoundError(`user "${flags.user}" is not in the model's training data (${index.users.length} users)`, 'user');
      const ranked = model.recommend(u, k, { excludeSeen: !flags.includeSeen });
      const rows = Array.from(ranked.items, (i, r) => ({ rank: r + 1, item: index.items[i]!, title: index.titles[i] ?? '', score: ranked.scores[r]! }));
      if (flags.json) {
        writeJson({ user: flags.user, model: model.kind, k, items: rows });
        return;
      }
      writeOut(`top ${k} for user ${flags.user} (${model.kind}, ${file})`);
      writeOut(table(['rank', 'item', 'title', 'score'], rows.map((r) => [r.rank, r.item, r.title, r.score])));
    });
}
