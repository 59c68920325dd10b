import { totalmem } from 'node:os';
import { ConfigError } from '../errors.js';

/**
 * Refuse an n whose dense n×n float matrices would not fit in memory: `copies` of them alive at
 * once, plus an inverse's temporaries (≤ n²/3 floats). A clear error, naming the field to change,
 * instead of an allocation failure halfway through a fit.
 */
export function checkDenseMemory(model: string, n: number, what: string, remedy: string, field: string, copies = 1): void {
  const need = n * n * 4 * (copies + 1 / 3);
  if (need > 0.75 * totalmem()) {
    throw new ConfigError(
      `${model}: ${n} ${what} need ${copies > 1 ? `${copies} dense` : 'a dense'} ${n}×${n} matri${copies > 1 ? 'ces' : 'x'} (${(need / 2 ** 30).toFixed(1)} GiB with temporaries), more than this machine's memory allows; ${remedy}`,
      field,
    );
  }
}
