/** `chorus list`: the model names and protocols this build knows, from their registries. */
import type { Command } from 'commander';
import { evalModelNames, PROTOCOLS } from '../../eval/index.js';
import { listRecommenders } from '../../recommenders/registry.js';
import { table, writeJson, writeOut } from '../output.js';

export function register(program: Command): void {
  program
    .command('list')
    .description('list the models (with default hyper-parameters) and evaluation protocols')
    .action(function (this: Command) {
      const { json } = this.optsWithGlobals<{ json?: boolean }>();
      const described = new Map(listRecommenders().map((r) => [r.name, r]));
      const models = evalModelNames().map((name) => ({
        name,
        description: described.get(name)?.description ?? '',
        defaults: described.get(name)?.defaults ?? {},
      }));
      const protocols = [...PROTOCOLS.values()].map((p) => ({ id: p.id, variants: [...p.variants], k: p.defaultK, title: p.title, defaultDataDir: p.defaultDataDir }));
      if (json) {
        writeJson({ models, protocols });
        return;
      }
      writeOut(table(['model', 'description'], models.map((m) => [m.name, m.description])));
      writeOut('');
      writeOut(table(['protocol', 'variants', 'K', 'what'], protocols.map((p) => [p.id, p.variants.join(', '), p.k, p.title])));
    });
}
