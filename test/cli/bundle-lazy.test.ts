// The bundle's lazy requires (scripts/bundle.ts, LAZY_REQUIRES): a module a
// dependency requires for a feature serve never uses is run only when first
// used, and then behaves as the module itself. Shown on a small dependency
// bundled the same way; and every entry of LAZY_REQUIRES is a require() the
// dependency really makes (else the build fails).
import { build } from 'esbuild';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAZY_REQUIRES, lazyRequires } from '../../scripts/bundle.js';

const REPO = new URL('../..', import.meta.url).pathname;

describe('lazy requires in the bundle', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ws-drain-lazy-'));
    const pkg = join(dir, 'node_modules/dep');
    await mkdir(join(pkg, 'lib'), { recursive: true });
    // A dependency whose index requires a module with a side effect at load: a class with a static field.
    await writeFile(join(pkg, 'package.json'), '{"name":"dep","main":"index.js"}\n');
    await writeFile(join(pkg, 'index.js'), "exports.Heavy = require('./lib/heavy');\nexports.light = 1;\n");
    await writeFile(
      join(pkg, 'lib/heavy.js'),
      'globalThis.heavyLoads = (globalThis.heavyLoads ?? 0) + 1;\nclass Heavy { constructor(x) { this.x = x; } twice() { return 2 * this.x; } }\nHeavy.answer = 42;\nmodule.exports = Heavy;\n',
    );
    await writeFile(join(dir, 'entry.cjs'), "module.exports = require('dep');\n");
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function bundle(lazy: Parameters<typeof lazyRequires>[0], name: string): Promise<string> {
    const outfile = join(dir, `${name}.mjs`);
    await build({ entryPoints: [join(dir, 'entry.cjs')], outfile, bundle: true, format: 'esm', platform: 'node', logLevel: 'silent', plugins: [lazyRequires(lazy)] });
    return outfile;
  }

  it('runs the module only on first use, then forwards property reads, construction and calls to it', async () => {
    const g = globalThis as { heavyLoads?: number };
    delete g.heavyLoads;
    const out = await bundle([{ importer: 'dep/index.js', path: './lib/heavy' }], 'lazy');
    const dep = (await import(pathToFileURL(out).href)) as { default: { Heavy: { new (x: number): { x: number; twice(): number }; answer: number }; light: number } };
    expect(dep.default.light).toBe(1);
    expect(g.heavyLoads).toBeUndefined();
    const h = new dep.default.Heavy(21);
    expect(g.heavyLoads).toBe(1);
    expect(h.x).toBe(21);
    expect(h.twice()).toBe(42);
    expect(dep.default.Heavy.answer).toBe(42);
    expect(g.heavyLoads).toBe(1);
  });

  it('without the entry the module runs at load, as before', async () => {
    const g = globalThis as { heavyLoads?: number };
    delete g.heavyLoads;
    const out = await bundle([], 'eager');
    await import(pathToFileURL(out).href);
    expect(g.heavyLoads).toBe(1);
  });

  it('fails the build when a dependency no longer makes the require', async () => {
    await expect(bundle([{ importer: 'dep/index.js', path: './lib/gone' }], 'gone')).rejects.toThrow(/lazy require "\.\/lib\/gone" from dep\/index\.js not found/);
  });

  it("each entry of LAZY_REQUIRES names a dependency's file and a require it makes", async () => {
    const { readFile } = await import('node:fs/promises');
    for (const l of LAZY_REQUIRES) {
      const text = await readFile(join(REPO, 'node_modules', l.importer), 'utf8');
      expect(text, `${l.importer} requires ${l.path}`).toMatch(new RegExp(`require\\(['"]${l.path.replace(/[./]/g, '\\$&')}['"]\\)`));
    }
  });
});
