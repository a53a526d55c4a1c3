// renderKustomize is shared with the e2e suite: bad input must give a clear
// error, not a hang or an empty render.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKubectl, renderKustomize } from './render.js';

describe('renderKustomize', () => {
  let scratch: string;
  beforeAll(async () => {
    await buildKubectl();
    scratch = await mkdtemp(join(tmpdir(), 'ws-drain-render-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('rejects a path that is not a directory, naming it', async () => {
    await expect(renderKustomize('manifests/overlays/no-such-overlay')).rejects.toThrow(/manifests\/overlays\/no-such-overlay is not a directory/);
  });

  it("rejects a kustomization kustomize refuses, with kustomize's own message", async () => {
    const dir = join(scratch, 'missing-resource');
    await mkdir(dir);
    await writeFile(join(dir, 'kustomization.yaml'), 'resources:\n  - does-not-exist.yaml\n');
    await expect(renderKustomize(dir)).rejects.toThrow(/kubectl kustomize .*missing-resource failed[\s\S]*does-not-exist\.yaml/);
  });

  it('rejects an object without a name instead of returning it', async () => {
    const dir = join(scratch, 'no-name');
    await mkdir(dir);
    await writeFile(join(dir, 'thing.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    a: b\n');
    await writeFile(join(dir, 'kustomization.yaml'), 'resources:\n  - thing.yaml\n');
    await expect(renderKustomize(dir)).rejects.toThrow(/kubectl kustomize .*no-name failed[\s\S]*missing metadata\.name/);
  });

  it('returns every document of a valid render as a named object, in order', async () => {
    const dir = join(scratch, 'two-objects');
    await mkdir(dir);
    await writeFile(join(dir, 'things.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\napiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: second\n');
    await writeFile(join(dir, 'kustomization.yaml'), 'resources:\n  - things.yaml\n');
    const objects = await renderKustomize(dir);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ConfigMap/first', 'Thing/second']);
  });

  it('renders the base with every object named and the webhook objects present', async () => {
    const objects = await renderKustomize('manifests/base');
    const kinds = objects.map((o) => o.kind);
    expect(kinds).toEqual(expect.arrayContaining(['MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'Deployment']));
  });
});
