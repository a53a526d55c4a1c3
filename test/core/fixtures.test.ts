// Golden tests: every test/fixtures/NAME.yaml against NAME.expected.yaml.
// UPDATE_GOLDENS=1 rewrites the goldens; read the diff before committing it.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { decideWorkload } from '../../src/core/workloads.js';
import { CONFIG } from './pod-builders.js';

const DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
const inputs = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && !f.endsWith('.expected.yaml')).sort();

function outcome(doc: unknown): Record<string, unknown> {
  const r = decideWorkload(doc, CONFIG);
  if (r.kind === 'passthrough') return { decision: 'passthrough' };
  const d = r.decision;
  switch (d.kind) {
    case 'skip':
      return { decision: 'skip', reason: d.reason, warnings: d.warnings };
    case 'deny':
      return { decision: 'deny', code: d.code, message: d.message };
    case 'mutate':
      return { decision: 'mutate', warnings: d.warnings, object: r.doc };
  }
}

describe('fixtures', () => {
  it('there are at least 15, each with a unique lowercase DNS name and no namespace', () => {
    expect(inputs.length).toBeGreaterThanOrEqual(15);
    const names = inputs.map((f) => {
      const doc = YAML.parse(readFileSync(join(DIR, f), 'utf8')) as { metadata: { name: string; namespace?: string } };
      expect(doc.metadata.namespace, f).toBeUndefined();
      expect(doc.metadata.name, f).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      return doc.metadata.name;
    });
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(inputs)('%s matches its golden', (file) => {
    const doc: unknown = YAML.parse(readFileSync(join(DIR, file), 'utf8'));
    const actual = outcome(doc);
    const goldenPath = join(DIR, file.replace(/\.yaml$/, '.expected.yaml'));
    if (process.env['UPDATE_GOLDENS'] === '1') writeFileSync(goldenPath, YAML.stringify(actual, { lineWidth: 0 }));
    expect(actual).toEqual(YAML.parse(readFileSync(goldenPath, 'utf8')));
  });

  it('every mutated fixture is stable under a second injection', () => {
    for (const file of inputs) {
      const first = decideWorkload(YAML.parse(readFileSync(join(DIR, file), 'utf8')), CONFIG);
      if (first.kind !== 'decided' || first.decision.kind !== 'mutate') continue;
      const second = decideWorkload(first.doc, CONFIG);
      expect(second, file).toMatchObject({ kind: 'decided', decision: { kind: 'skip', reason: 'already-injected' } });
    }
  });
});
