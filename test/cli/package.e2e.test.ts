/**
 * The published package, as a user gets it: `npm pack` this checkout, `npm install` the tarball
 * into a scratch project outside the checkout, and run the CLI from there. Checks what the
 * repository's own tests cannot: that `files` ships everything the commands need (the demo data,
 * the native kernel sources), that the default install stays small and free of engine warnings on
 * this Node, and that the optional ONNX runtime is really optional.
 *
 * Packs with --ignore-scripts: `npm run test:e2e` builds dist/ first, and a second build here
 * would only cost time (publishing runs the prepare script, which is the same `tsc` build).
 * The install compiles better-sqlite3 from source when no prebuilt binary is reachable (~80 s on
 * two cores), hence the long timeouts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const ROOT = process.cwd();
const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
/** The budget for a default install (node_modules of a fresh project), in MiB. */
const MAX_INSTALL_MIB = 150;

const work = mkdtempSync(join(tmpdir(), 'chorus-package-'));
const packDir = join(work, 'pack');
const app = join(work, 'app');
// A user's shell, not this checkout's: under `npm run test:e2e` npm exports its own config and
// this package's fields as npm_* variables, which the scratch project's npm would inherit.
// Then offline-friendly native builds, as .ci/run sets them: no CUDA download, Node headers from the system.
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip',
  npm_config_nodedir: '/usr',
};
const children: ChildProcess[] = [];
let packed: { filename: string; files: { path: string }[] };
let installLog = '';

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

beforeAll(async () => {
  if (!existsSync(resolve(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is not built: run `npm run build` (npm run test:e2e does)');
  mkdirSync(packDir);
  mkdirSync(app);
  const pack = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: ROOT, env, maxBuffer: 64 << 20 });
  packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0]!;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
  // A failing install rejects here with npm's output in the error, failing every test below.
  const install = await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(packDir, packed.filename)], {
    cwd: app,
    env,
    maxBuffer: 64 << 20,
    timeout: 900_000,
  });
  installLog = install.stdout + install.stderr;
}, 960_000);

/** `npx chorus-rec …` in the scratch project, as a user would type it. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec('npx', [pkg.name, ...args], { cwd: app, env, maxBuffer: 64 << 20, timeout: 300_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe(`the ${pkg.name} package installed from its tarball`, () => {
  it('ships the CLI, the built library, the demo data and the native kernel sources, and no tests, benchmarks or TypeScript sources', () => {
    const paths = packed.files.map((f) => f.path);
    for (const p of ['bin/chorus.js', 'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'data/demo/ratings.csv', 'data/demo/movies.csv', 'data/demo/tags.csv', 'data/demo/README.md', 'src/nn/native/chorus_nn.c', 'package.json', 'README.md']) {
      expect(paths, p).toContain(p);
    }
    expect(paths.filter((p) => p.startsWith('test/') || p.startsWith('bench/') || (p.endsWith('.ts') && !p.endsWith('.d.ts')))).toEqual([]);
  });

  it(`installs with no engine warning and stays under ${MAX_INSTALL_MIB} MiB`, async () => {
    expect(installLog).not.toMatch(/EBADENGINE/);
    expect(installLog).toMatch(/added \d+ packages/);
    // The ONNX runtime is an optional peer: not installed by default.
    expect(existsSync(join(app, 'node_modules/@huggingface/transformers'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/onnxruntime-node'))).toBe(false);
    const { stdout } = await exec('du', ['-sk', join(app, 'node_modules')]);
    const mib = Number(stdout.split('\t')[0]) / 1024;
    expect(mib).toBeGreaterThan(1);
    expect(mib).toBeLessThanOrEqual(MAX_INSTALL_MIB);
  });

  it('answers --version under both binary names', async () => {
    for (const bin of ['chorus-rec', 'chorus']) {
      const { stdout } = await exec('npx', [bin, '--version'], { cwd: app, env });
      expect(stdout.trim()).toBe(pkg.version);
    }
  });

  it('runs the demo on the bundled data', async () => {
    const r = await cli(['--json', 'demo', '--models', 'popularity,ease', '--users', '1']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      dataset: { dir: string; users: number; items: number; ratings: number };
      results: { model: string; metrics: Record<string, number>; stamp: { codeVersion: string } }[];
      samples: { recommendations: { title: string }[] }[];
    };
    expect(doc.dataset).toMatchObject({ users: 150, items: 1000, ratings: 12649 });
    expect(doc.dataset.dir).toBe(join(app, 'node_modules', pkg.name, 'data', 'demo'));
    expect(doc.results.map((x) => x.model)).toEqual(['popularity', 'ease']);
    expect(doc.results[1]!.metrics['ndcg@10']).toBeGreaterThan(doc.results[0]!.metrics['ndcg@10']!);
    // outside a git checkout the stamp names the package and its version
    expect(doc.results[0]!.stamp.codeVersion).toBe(`${pkg.name}@${pkg.version}`);
    for (const rec of doc.samples[0]!.recommendations) expect(rec.title).toMatch(/\(\d{4}\)$/);
  });

  it('trains on the bundled data and recommends from the saved model', async () => {
    const tr = await cli(['train', '--model', 'ease', '--out', 'ease.model.json']);
    expect(tr.code, tr.stderr).toBe(0);
    expect(existsSync(join(app, 'ease.model.json'))).toBe(true);
    const rec = await cli(['--json', 'recommend', '--user', '7', '--model-file', 'ease.model.json', '-k', '5']);
    expect(rec.code, rec.stderr).toBe(0);
    const doc = JSON.parse(rec.stdout) as { user: string; items: { item: string; title: string; score: number }[] };
    expect(doc.user).toBe('7');
    expect(doc.items).toHaveLength(5);
    for (const x of doc.items) expect(x.title).toMatch(/\(\d{4}\)$/);
  });

  it('evaluates under P1 rules on the bundled data', async () => {
    const data = join('node_modules', pkg.name, 'data', 'demo');
    const r = await cli(['--json', 'evaluate', '--protocol', 'ml-ls-t20', '--model', 'popularity', '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { protocol: string; metrics: Record<string, number>; split: { train: number; test: number }; note?: string };
    expect(doc.protocol).toBe('ml-ls-t20');
    expect(doc.split).toMatchObject({ train: 10167, test: 2482 });
    expect(doc.metrics['ndcg@10']).toBeGreaterThan(0);
    expect(doc.note).toMatch(/not comparable/);
  });

  it('simulates on the bundled data when no data is given', async () => {
    const r = await cli(['--json', 'simulate', '--agent', 'popularity', '--steps', '200', '--seeds', '1', '--eval-sessions', '20', '--workers', '1', '--no-report']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { runs: { agent: string; sessionLength: number; data: { name: string; file: string } }[] };
    expect(doc.runs).toHaveLength(1);
    expect(doc.runs[0]!.agent).toBe('popularity');
    expect(doc.runs[0]!.sessionLength).toBeGreaterThan(0);
    expect(doc.runs[0]!.data.file).toBe(join(app, 'node_modules', pkg.name, 'data', 'demo', 'ratings.csv'));
  });

  it('evaluates and simulates on Last.fm, on a CSV with string ids and no timestamps, and on a 0–10-star MovieLens folder', async () => {
    const lastfm = resolve(ROOT, '../shared/datasets/hetrec2011-lastfm-2k');
    const csv = join(work, 'orders.csv');
    const rows = ['customer,sku,qty'];
    for (let u = 0; u < 60; u++) for (let j = 0; j < 14; j++) rows.push(`cust-${u},SKU-${(u * 7 + j * j) % 90},${1 + ((u + j) % 4)}`);
    writeFileSync(csv, `${rows.join('\n')}\n`);
    // The bundled MovieLens-format demo with every rating doubled: a 1–10 scale.
    const tenStar = join(work, 'ten-star');
    mkdirSync(tenStar);
    const demo = join(app, 'node_modules', pkg.name, 'data', 'demo');
    const [head, ...ratings] = readFileSync(join(demo, 'ratings.csv'), 'utf8').trim().split('\n');
    writeFileSync(join(tenStar, 'ratings.csv'), `${[head, ...ratings.map((r) => r.split(',').map((f, k) => (k === 2 ? String(Number(f) * 2) : f)).join(','))].join('\n')}\n`);
    writeFileSync(join(tenStar, 'movies.csv'), readFileSync(join(demo, 'movies.csv')));
    const cases: { data: string; extra: string[]; name: string; protocol: string; rows: number }[] = [
      { data: lastfm, extra: [], name: 'hetrec2011-lastfm-2k', protocol: 'random20', rows: 92834 },
      { data: csv, extra: ['--columns', 'user=customer,item=sku,value=qty'], name: 'orders', protocol: 'random20', rows: rows.length - 1 },
      { data: tenStar, extra: [], name: 'ten-star', protocol: 't20', rows: ratings.length },
    ];
    for (const c of cases) {
      const ev = await cli(['--json', 'evaluate', '--protocol', 't20', '--data', c.data, ...c.extra, '--model', 'itemknn', '--bootstrap', '50']);
      expect(ev.code, ev.stderr).toBe(0);
      const e = JSON.parse(ev.stdout) as { protocol: string; metrics: Record<string, number>; split: { train: number; test: number }; stamp: { dataset: { name: string } } };
      expect(e.protocol, c.name).toBe(c.protocol);
      expect(e.stamp.dataset.name).toBe(c.name);
      expect(e.split.train + e.split.test, c.name).toBe(c.rows); // nothing dropped, ratings above 5 included
      expect(e.metrics['ndcg@10'], c.name).toBeGreaterThan(0);
      const sim = await cli(['--json', 'simulate', '--data', c.data, ...c.extra, '--agent', 'linucb', '--steps', '200', '--seeds', '1', '--eval-sessions', '20', '--workers', '1', '--no-report']);
      expect(sim.code, sim.stderr).toBe(0);
      const r = (JSON.parse(sim.stdout) as { runs: { return: { mean: number }; data: { name: string } }[] }).runs[0]!;
      expect(r.data.name).toBe(c.name);
      expect(Number.isFinite(r.return.mean)).toBe(true);
    }
  });

  it('names the optional package and how to install it when an ONNX embedder is asked for', async () => {
    const r = await cli(['embed', '--embedder', 'onnx:Xenova/all-MiniLM-L6-v2', '--no-cache']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('@huggingface/transformers is not installed');
    expect(r.stderr).toContain('npm i @huggingface/transformers');
  });

  it('serves recommendations and the dashboard script over HTTP', async () => {
    const key = 'package-test-admin-key-0001';
    // The installed bin directly (what npx runs), so that the test owns the server process and can stop it.
    const proc = spawn(join(app, 'node_modules', '.bin', pkg.name), ['serve', '--port', '0', '--model', 'popularity', '--store', `sqlite:${join(app, 'serve.db')}`], {
      cwd: app,
      env: { ...env, CHORUS_ADMIN_KEY: key },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(proc);
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += String(d)));
    const url = await new Promise<string>((ok, fail) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const m = /listening on (http:\/\/\S+)/.exec(line);
        if (m) ok(m[1]!);
      });
      proc.once('exit', (code) => fail(new Error(`chorus serve exited (${code}): ${stderr}`)));
    });
    const res = await fetch(`${url}/recommend`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: '7', k: 5 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user: string; items: { id: string }[] };
    expect(body.user).toBe('7');
    expect(body.items).toHaveLength(5);
    // The dashboard's chart library is read from the installed chart.js dependency.
    const chart = await fetch(`${url}/dashboard/chart.umd.js`);
    expect(chart.status).toBe(200);
    expect((await chart.text()).length).toBeGreaterThan(100_000);
    proc.kill('SIGTERM');
    expect(await new Promise((r) => proc.once('exit', (code) => r(code)))).toBe(0);
  });
});
