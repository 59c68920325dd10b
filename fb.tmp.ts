import { createEmbedder } from './src/embed/registry.js';
const t0 = Date.now();
const e = await createEmbedder('default', { corpus: ['a comedy', 'a drama', 'sci-fi space'] });
console.log('got', e.id, 'in', Date.now() - t0, 'ms');
