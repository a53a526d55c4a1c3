// One release version: package.json's "version". The CLI and the helper are
// stamped with it at build time; the files that cannot read it (the kustomize
// base, the chart) are written by tools/release/set-version.sh and must agree.
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { runProcess } from '../e2e/controlplane/run.js';
import { REPO_ROOT, buildKubectl, renderKustomize } from './render.js';

const PackageJson = z.object({ version: z.string() });
const PackageLock = z.object({ version: z.string(), packages: z.object({ '': z.object({ version: z.string() }) }) });
const ChartYaml = z.object({ version: z.string(), appVersion: z.string() });
const Deployment = z.object({
  kind: z.literal('Deployment'),
  spec: z.object({ template: z.object({ spec: z.object({ containers: z.array(z.object({ name: z.string(), image: z.string(), env: z.array(z.object({ name: z.string(), value: z.string().optional() })).optional() })) }) }) }),
});

const tagOf = (image: string) => /:([^:/@]+)(?:@.*)?$/.exec(image)?.[1];

/** Every version a release carries in the files under ROOT, by where it is written. */
async function versionsIn(root: string): Promise<Record<string, string | undefined>> {
  const found: Record<string, string | undefined> = {};
  found['package.json'] = PackageJson.parse(JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))).version;
  const lock = PackageLock.parse(JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')));
  found['package-lock.json'] = lock.version;
  found['package-lock.json packages[""]'] = lock.packages[''].version;
  const deployment = Deployment.parse((await renderKustomize(join(root, 'manifests/base'))).find((o) => o.kind === 'Deployment'));
  const webhook = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook');
  found['manifests/base webhook image tag'] = tagOf(webhook?.image ?? '');
  const helperImage = webhook?.env?.find((e) => e.name === 'WS_DRAIN_HELPER_IMAGE')?.value;
  // Without the env the webhook injects its built-in default, which carries the version already.
  if (helperImage !== undefined) found['manifests/base WS_DRAIN_HELPER_IMAGE tag'] = tagOf(helperImage);
  const charts = existsSync(join(root, 'charts')) ? await readdir(join(root, 'charts')) : [];
  for (const chart of charts) {
    const file = join(root, 'charts', chart, 'Chart.yaml');
    if (!existsSync(file)) continue;
    const parsed = ChartYaml.parse(parseYaml(await readFile(file, 'utf8')));
    found[`charts/${chart}/Chart.yaml version`] = parsed.version;
    found[`charts/${chart}/Chart.yaml appVersion`] = parsed.appVersion;
  }
  return found;
}

const expectAll = (found: Record<string, string | undefined>, version: string) =>
  expect(found).toEqual(Object.fromEntries(Object.keys(found).map((k) => [k, version])));

describe('release version', () => {
  let version: string;
  beforeAll(async () => {
    await buildKubectl();
    version = PackageJson.parse(JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'))).version;
  });

  it('package.json, package-lock.json, the kustomize base and the chart carry the same version', async () => {
    const found = await versionsIn(REPO_ROOT);
    expect(Object.keys(found).length).toBeGreaterThanOrEqual(4);
    expectAll(found, version);
  });

  it('no second source: the Dockerfile takes VERSION as a build argument without a default, helper/VERSION is gone', async () => {
    const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG VERSION$/m);
    expect(dockerfile).not.toMatch(/^ARG VERSION=/m);
    expect(existsSync(join(REPO_ROOT, 'helper/VERSION'))).toBe(false);
  });

  it('helper/build.sh stamps package.json\'s version into the helper (`ws-drain-helper version`)', async () => {
    const env = { ...process.env };
    delete env['VERSION'];
    const build = await runProcess(join(REPO_ROOT, 'helper/build.sh'), [], { env });
    expect(build.code, build.stderr).toBe(0);
    const printed = await runProcess(join(REPO_ROOT, 'helper/bin/ws-drain-helper'), ['version']);
    expect(printed.stdout.trim()).toBe(version);
  });

  it('the CLI prints it (`ws-drain --version`)', async () => {
    const printed = await runProcess(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), '--version'], { cwd: REPO_ROOT });
    expect(printed.stdout.trim()).toBe(`ws-drain ${version}`);
  });

  it('tools/release/set-version.sh moves every place to a new version, and rejects a non-semver one', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'ws-drain-version-'));
    try {
      for (const path of ['package.json', 'package-lock.json', 'manifests', 'charts', 'tools/release/set-version.sh']) {
        if (existsSync(join(REPO_ROOT, path))) await cp(join(REPO_ROOT, path), join(copy, path), { recursive: true });
      }
      const script = join(copy, 'tools/release/set-version.sh');
      const bad = await runProcess(script, ['v1.2']);
      expect(bad.code).toBe(2);
      expectAll(await versionsIn(copy), version);
      const set = await runProcess(script, ['9.8.7-rc.1']);
      expect(set.code, set.stderr).toBe(0);
      const after = await versionsIn(copy);
      expectAll(after, '9.8.7-rc.1');
      expect(Object.keys(after)).toEqual(Object.keys(await versionsIn(REPO_ROOT)));
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});
