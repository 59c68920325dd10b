/**
 * Training throughput of the reference network: 128→256→128→1 (ReLU), batch 256, Adam(1e-3),
 * MSE — Chorus's nn layer on each available kernel backend, and PyTorch single-thread in the same
 * run when `python3 -c 'import torch'` works (Debian python3-torch; set CHORUS_TORCH_PYTHON to
 * pick the interpreter, default /usr/bin/python3).
 *
 *   node --import tsx bench/nn-train.ts [--runs 5] [--secs 1.5] [--out 1]
 *
 * Prints a table: backend, steps/s (median of runs), ratio to PyTorch, final loss.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { Adam, Mlp, mseLoss, jsKernels, nativeKernels, setKernels, type Kernels } from '../src/nn/index.js';
import { Rng } from '../src/util/rng.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const runs = arg('runs', 5);
const secs = arg('secs', 1.5);
const out = arg('out', 1);
const B = 256;

function measure(k: Kernels, runSecs: number): { rate: number; loss: number } {
  setKernels(k);
  const rng = new Rng(0);
  const net = new Mlp({ sizes: [128, 256, 128, out] }, rng);
  const opt = new Adam(net.params, net.grads, { lr: 1e-3 });
  const X = new Float32Array(B * 128);
  for (let i = 0; i < X.length; i++) X[i] = rng.normal();
  const Y = new Float32Array(B * out);
  for (let r = 0; r < B; r++)
    for (let j = 0; j < out; j++) Y[r * out + j] = Math.sin(2 * X[r * 128 + j]!) + 0.5 * X[r * 128 + out + j]!;
  const grad = new Float32Array(B * out);
  let loss = 0;
  const step = (): void => {
    net.zeroGrad();
    const pred = net.forward(X, B);
    loss = mseLoss(pred, Y, B * out, grad);
    net.backward(grad);
    opt.step();
  };
  for (let i = 0; i < 30; i++) step();
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < runSecs * 1000) {
      step();
      n++;
    }
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { rate: rates[Math.floor(rates.length / 2)]!, loss };
}

function torchRate(): { rate: number; loss: number; version: string } | null {
  const py = process.env.CHORUS_TORCH_PYTHON ?? '/usr/bin/python3';
  if (!existsSync(py)) return null;
  const script = fileURLToPath(new URL('./nn_train_torch.py', import.meta.url));
  const r = spawnSync(py, [script, String(runs), String(secs), String(out)], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) return null;
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { stepsPerSec: number; finalLoss: number; torch: string };
  return { rate: j.stepsPerSec, loss: j.finalLoss, version: j.torch };
}

const rows: { backend: string; rate: number; loss: number }[] = [];
const load0 = loadavg()[0]!.toFixed(2);
const native = nativeKernels();
if (native) rows.push({ backend: 'chorus nn, native addon', ...measure(native, secs) });
// The JS kernel is ~20× slower; a shorter run is enough for its figure.
rows.push({ backend: 'chorus nn, pure JS', ...measure(jsKernels, Math.min(secs, 1)) });
const torch = torchRate();
if (torch) rows.push({ backend: `PyTorch ${torch.version}, 1 thread`, rate: torch.rate, loss: torch.loss });

console.log(`reference network 128→256→128→${out}, batch ${B}, Adam(1e-3), MSE; median of ${runs} runs × ${secs}s; loadavg ${load0} → ${loadavg()[0]!.toFixed(2)}`);
console.log('| backend | steps/s | × PyTorch | final loss |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of rows) {
  const ratio = torch ? (r.rate / torch.rate).toFixed(2) : 'n/a (no torch)';
  console.log(`| ${r.backend} | ${r.rate.toFixed(1)} | ${ratio} | ${r.loss.toExponential(2)} |`);
}
