// The guard policy's CEL keeps its own copy of the known keys (CEL cannot
// import TypeScript). This test is what keeps the two lists one: a key added
// to the core without the policy (or the reverse) fails here, in the unit run.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { KNOWN_KEYS } from '../../src/core/annotations.js';
import { MESH_PROXY_NAMES } from '../../src/core/roles.js';

const POLICY = fileURLToPath(new URL('../../manifests/base/validating-admission-policy.yaml', import.meta.url));

interface Policy {
  kind: string;
  spec: { variables?: Array<{ name: string; expression: string }> };
}

function celKnownKeys(variable = 'knownKeys'): string[] {
  const docs = YAML.parseAllDocuments(readFileSync(POLICY, 'utf8')).map((d) => d.toJS() as Policy);
  const policy = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy');
  const expression = policy?.spec.variables?.find((v) => v.name === variable)?.expression;
  if (expression === undefined) throw new Error(`${POLICY}: no variable ${variable}`);
  // A CEL list literal of single-quoted strings, nothing else.
  expect(expression.trim()).toMatch(/^\[\s*'[^']+'(\s*,\s*'[^']+')*\s*\]$/);
  return [...expression.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

describe('known ws-drain/ keys', () => {
  it('the guard policy knownKeys list equals KNOWN_KEYS in the core', () => {
    const cel = celKnownKeys();
    expect(new Set(cel).size).toBe(cel.length);
    expect([...cel].sort()).toEqual([...KNOWN_KEYS].sort());
  });

  it('the policy denies unknown keys through knownKeys (not some other list)', () => {
    const text = readFileSync(POLICY, 'utf8');
    expect(text).toContain("!(k in variables.knownKeys)");
    expect(text).toContain('size(variables.unknownKeys) == 0');
  });
});

describe('mesh proxy names (namespace opt-in)', () => {
  it('the guard policy meshProxyNames list equals MESH_PROXY_NAMES in the core', () => {
    expect([...celKnownKeys('meshProxyNames')].sort()).toEqual([...MESH_PROXY_NAMES].sort());
    expect(readFileSync(POLICY, 'utf8')).toContain('!(c.name in variables.meshProxyNames)');
  });
});
