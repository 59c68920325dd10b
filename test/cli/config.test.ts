import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseParams, validateConfig } from '../../src/cli/config.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from './helpers.js';

describe('config file', () => {
  it('accepts a valid config', () => {
    const c = validateConfig({ data: 'data/demo', model: 'als', models: { als: { factors: 32 } }, evaluate: { k: 20, variant: 'pos4' } });
    expect(c.evaluate?.k).toBe(20);
    expect(c.models?.als?.factors).toBe(32);
  });

  it('names the field of a wrong value', () => {
    expect(() => validateConfig({ evaluate: { k: 'ten' } }, 'chorus.config.json')).toThrow(ConfigError);
    expect(() => validateConfig({ evaluate: { k: 'ten' } }, 'chorus.config.json')).toThrow(/field "evaluate\.k"/);
    expect(() => validateConfig({ models: { als: { factors: [1] } } })).toThrow(/field "models\.als\.factors"/);
  });

  it('names an unknown setting', () => {
    expect(() => validateConfig({ evaluate: { kk: 3 } })).toThrow(/field "evaluate\.kk".*unknown setting/);
    try {
      validateConfig({ modle: 'als' });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).location?.field).toBe('modle');
    }
  });

  it('is found in the working directory, as JSON or YAML', () => {
    const dir = tempDir();
    expect(loadConfig(undefined, dir).config).toEqual({});
    writeFileSync(join(dir, 'chorus.config.yaml'), 'model: ease\nevaluate:\n  k: 5\n');
    const { config, file } = loadConfig(undefined, dir);
    expect(file).toBe(join(dir, 'chorus.config.yaml'));
    expect(config).toEqual({ model: 'ease', evaluate: { k: 5 } });
  });

  it('reports an unreadable file and a missing explicit path', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'chorus.config.json'), '{"model": ');
    expect(() => loadConfig(undefined, dir)).toThrow(/not valid JSON/);
    expect(() => loadConfig('nope.json', dir)).toThrow(/config file not found/);
  });

  it('parses key=value hyper-parameters with types', () => {
    expect(parseParams(['factors=32', 'solver=cg', 'binary=true', 'reg=0.5'])).toEqual({ factors: 32, solver: 'cg', binary: true, reg: 0.5 });
    expect(() => parseParams(['factors'])).toThrow(/key=value/);
  });

  it('reads a value that starts with [ or { as JSON (a hybrid\'s members), and names the key when it is not', () => {
    const members = '[{"kind":"bpr"},{"kind":"sasrec","config":{"negatives":256}}]';
    expect(parseParams([`members=${members}`, 'extras=itemknn,ease'])).toEqual({ members: JSON.parse(members), extras: 'itemknn,ease' });
    expect(parseParams(['over={"a":1}'])).toEqual({ over: { a: 1 } });
    expect(() => parseParams(['__proto__={"polluted":true}'])).toThrow(/not a parameter name/);
    expect(() => parseParams(['members=[{"kind":"bpr"'])).toThrow(/members: .*not valid JSON/);
  });
});

describe('config JSON Schema', () => {
  it('the committed chorus.config.schema.json matches the schema the CLI validates with', async () => {
    const { readFileSync } = await import('node:fs');
    const { configJsonSchema } = await import('../../src/cli/config.js');
    const committed = JSON.parse(readFileSync(join(process.cwd(), 'chorus.config.schema.json'), 'utf8')) as unknown;
    // regenerate with: node bin/chorus.js config --schema > chorus.config.schema.json
    expect(committed).toEqual(configJsonSchema());
  });
});
