import { runProtocol } from './src/eval/protocol.js';
const models = process.argv.slice(2);
for (const spec of models) {
  const [model, json] = spec.split('=');
  const r = await runProtocol({ protocol: process.env.PROTO ?? 'ml-ls-cold', variant: process.env.VARIANT, split: (process.env.SPLIT as 'validation') ?? undefined, model: model!, modelConfig: json ? JSON.parse(json) : {}, bootstrap: 0, perUser: false });
  console.log(spec, r.protocol, r.variant, 'users', r.users, 'recall', r.metrics['recall@10']!.toFixed(4), 'ndcg', r.metrics['ndcg@10']!.toFixed(4), 'fit', r.fitSeconds.toFixed(1), 'eval', r.evalSeconds.toFixed(1), JSON.stringify(r.split));
}
