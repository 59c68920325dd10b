import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../src/cli/main.js';

/** Every command of the program, the program itself included, with its path (`chorus serve`). */
function walk(cmd: Command, path: string[] = []): { path: string; cmd: Command }[] {
  const here = [...path, cmd.name()];
  return [{ path: here.join(' '), cmd }, ...cmd.commands.flatMap((c) => walk(c, here))];
}

/** short flag → long flag → the commands that declare that pair. */
function shortFlags(program: Command): Map<string, Map<string, string[]>> {
  const byShort = new Map<string, Map<string, string[]>>();
  for (const { path, cmd } of walk(program)) {
    for (const o of cmd.options) {
      if (!o.short) continue;
      const long = o.long ?? '(none)';
      let longs = byShort.get(o.short);
      if (!longs) byShort.set(o.short, (longs = new Map()));
      longs.set(long, [...(longs.get(long) ?? []), path]);
    }
  }
  return byShort;
}

describe('CLI short flags', () => {
  it('give each short flag one long name across all commands', () => {
    const clashes = [...shortFlags(createProgram())]
      .filter(([, longs]) => longs.size > 1)
      .map(([short, longs]) => `${short}: ${[...longs].map(([long, where]) => `${long} (${where.join(', ')})`).join(' vs ')}`);
    expect(clashes).toEqual([]);
  });

  it('walks every registered command and its short flags', () => {
    const flags = shortFlags(createProgram());
    // The walk must see the commands and their options, or the check above passes vacuously.
    expect(flags.get('-p')?.get('--param')).toEqual(expect.arrayContaining(['chorus train', 'chorus evaluate', 'chorus simulate', 'chorus serve']));
    expect(flags.get('-d')?.get('--data')?.length).toBeGreaterThanOrEqual(5);
    expect(flags.get('-c')?.get('--config')).toEqual(['chorus']);
  });

  it('keeps the long flag of a short form that was dropped', () => {
    const serve = createProgram().commands.find((c) => c.name() === 'serve')!;
    const port = serve.options.find((o) => o.long === '--port');
    expect(port).toBeDefined();
    expect(port!.short).toBeUndefined();
  });
});
