// Checks of the Dockerfile that need no container engine: the two targets,
// what each image contains and runs, and that the build runs the same
// commands as CI (.ci/run), so "CI is green" says something about the image.
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BUNDLE_ENTRY, IMAGE_NODE_ENV, IMAGE_NODE_FLAGS, IMAGE_PRELOAD, IMAGE_USER } from '../../scripts/bundle.js';
import { INSTALL_COMMAND } from '../../src/core/helper-argv.js';
import { execForm, parseCopy, parseDockerfile, type Instruction, type Stage } from './dockerfile.js';
import { REPO_ROOT } from './render.js';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const dockerfile = parseDockerfile(read('Dockerfile'));
const packageJson = z
  .object({
    version: z.string(),
    scripts: z.record(z.string(), z.string()),
    engines: z.object({ node: z.string() }),
    dependencies: z.record(z.string(), z.string()),
  })
  .parse(JSON.parse(read('package.json')));

function stage(name: string): Stage {
  const found = dockerfile.stages.filter((s) => s.name === name);
  if (found.length !== 1) throw new Error(`expected one stage named ${name}, found ${found.length}`);
  return found[0]!;
}
const all = (s: Stage, keyword: string): Instruction[] => s.instructions.filter((i) => i.keyword === keyword);
function last(s: Stage, keyword: string): Instruction {
  const found = all(s, keyword);
  if (found.length === 0) throw new Error(`stage ${s.name} has no ${keyword}`);
  return found[found.length - 1]!;
}
const runs = (s: Stage) => all(s, 'RUN').map((i) => i.args);
const globalArg = (name: string) =>
  dockerfile.globalArgs.map((a) => /^(\w+)(?:=(.*))?$/.exec(a.args)).find((m) => m?.[1] === name)?.[2];
/** A stage's base as a release build sees it: `${ARG}` of a global ARG replaced by its default. */
const releaseBase = (s: Stage) => s.base.replace(/^\$\{(\w+)\}$/, (whole, name: string) => globalArg(name) ?? whole);

/** UID of a `USER uid[:gid]`; fails unless it is numeric (the kubelet cannot check names for runAsNonRoot). */
function numericUid(s: Stage): number {
  const user = last(s, 'USER').args.trim();
  const match = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!match) throw new Error(`stage ${s.name}: USER ${user} is not numeric uid[:gid]`);
  return Number(match[1]);
}

/** Path of a file copied out of another stage, relative to that stage's WORKDIR. */
function relativeToWorkdir(from: Stage, path: string): string {
  const workdir = last(from, 'WORKDIR').args.trim().replace(/\/$/, '');
  return path.startsWith(`${workdir}/`) ? path.slice(workdir.length + 1) : path;
}

describe('Dockerfile', () => {
  it('has build args for the Node and Go versions and the release version, agreeing with the repository', () => {
    // The exact Node release the image runs (CI runs the unit and server tests on it too).
    expect(globalArg('NODE_VERSION')).toMatch(/^\d+\.\d+\.\d+$/);
    expect(globalArg('GO_VERSION')).toBeDefined();
    // The version comes from package.json at build time (tools/release/build.sh,
    // helper/build.sh); no default here, so there is no second copy to forget.
    expect(dockerfile.globalArgs.map((a) => a.args)).not.toContain(expect.stringMatching(/^VERSION\b/));
    for (const name of ['helper-build', 'helper', 'webhook']) expect(all(stage(name), 'ARG').map((a) => a.args)).toContain('VERSION');
    const nodeMin = Number(/\d+/.exec(packageJson.engines.node)?.[0]);
    expect(Number(globalArg('NODE_VERSION')?.split('.')[0])).toBeGreaterThanOrEqual(nodeMin);
    const goMin = /^go (\d+)\.(\d+)/m.exec(read('helper/go.mod'));
    const [goMajor, goMinor] = (globalArg('GO_VERSION') ?? '').split('.').map(Number);
    expect(goMajor).toBe(Number(goMin?.[1]));
    expect(goMinor).toBeGreaterThanOrEqual(Number(goMin?.[2]));
  });

  it('takes its base images from build args whose defaults are the public images (CI passes local ones)', () => {
    expect(stage('build').base).toBe('${NODE_BUILD_IMAGE}');
    expect(stage('node-runtime').base).toBe('${NODE_BUILD_IMAGE}');
    expect(stage('jemalloc').base).toBe('${NODE_BUILD_IMAGE}');
    expect(stage('helper-build').base).toBe('${GO_BUILD_IMAGE}');
    expect(stage('webhook').base).toBe('${RUNTIME_IMAGE}');
    expect(releaseBase(stage('build'))).toBe('node:${NODE_VERSION}-bookworm-slim');
    expect(releaseBase(stage('helper-build'))).toBe('golang:${GO_VERSION}');
    expect(releaseBase(stage('webhook'))).toMatch(/^gcr\.io\/distroless\/cc-debian\d+:nonroot$/);
  });

  it('builds any platform without emulation: commands run on BUILDPLATFORM, target stages only copy', () => {
    for (const s of dockerfile.stages) {
      if (runs(s).length > 0) expect(s.platform, `stage ${s.name} runs commands`).toBe('$BUILDPLATFORM');
    }
    // The Go helper is cross-compiled for the target, and the Node runtime is the target's npm package.
    expect(runs(stage('helper-build')).join('\n')).toMatch(/GOARCH="\$\{TARGETARCH\}"/);
    expect(runs(stage('node-runtime')).join('\n')).toMatch(/npm pack .*node-linux-\$\{arch\}@\$\{NODE_VERSION\}/);
    // jemalloc is Debian's package of the target architecture, at the pinned version tools/images/jemalloc.sh fetches too.
    expect(runs(stage('jemalloc')).join('\n')).toMatch(/apt-get .*download "libjemalloc2:\$\{TARGETARCH\}=\$\{JEMALLOC_VERSION\}"/);
    expect(globalArg('JEMALLOC_VERSION')).toMatch(/^\d+\.\d+\.\d+-\d+$/);
    expect(stage('webhook').platform).toBe('$TARGETPLATFORM');
  });

  it('labels both images with the OCI source, revision and version', () => {
    for (const name of ['helper', 'webhook']) {
      const labels = all(stage(name), 'LABEL').map((l) => l.args).join(' ');
      expect(labels).toContain('org.opencontainers.image.version="${VERSION}"');
      expect(labels).toContain('org.opencontainers.image.revision="${REVISION}"');
      expect(labels).toContain('org.opencontainers.image.source="${SOURCE}"');
      expect(labels).toContain('org.opencontainers.image.licenses="Apache-2.0"');
    }
  });

  it('has the targets webhook and helper, webhook last so a plain `docker build .` builds it', () => {
    const names = dockerfile.stages.map((s) => s.name);
    expect(names).toContain('helper');
    expect(names).toContain('webhook');
    expect(names[names.length - 1]).toBe('webhook');
  });

  it('helper: FROM scratch, only the static binary, non-root, entrypoint installs into /ws-drain', () => {
    const helper = stage('helper');
    expect(helper.base).toBe('scratch');
    const copies = all(helper, 'COPY').map(parseCopy);
    expect(copies).toHaveLength(1);
    const copy = copies[0]!;
    expect(copy.destination).toBe('/ws-drain-helper');
    const from = stage(copy.from ?? '');
    // The file helper/build.sh writes (helper/bin/ws-drain-helper), from the stage that ran it.
    expect(copy.sources.map((s) => relativeToWorkdir(from, s))).toEqual(['helper/bin/ws-drain-helper']);
    expect(runs(from).some((r) => r.includes('helper/build.sh'))).toBe(true);
    expect(numericUid(helper)).toBeGreaterThan(0);
    const entrypoint = execForm(last(helper, 'ENTRYPOINT').args);
    expect(entrypoint).toEqual(['/ws-drain-helper', 'install', '/ws-drain']);
    // The webhook's injected init container runs the same command.
    expect(entrypoint).toEqual([...INSTALL_COMMAND]);
  });

  it('webhook: non-root, NODE_ENV=production, only dist + production node_modules + package.json, runs `serve`', () => {
    const webhook = stage('webhook');
    expect(numericUid(webhook)).toBeGreaterThan(0);
    expect(all(webhook, 'ENV').map((e) => e.args)).toContain('NODE_ENV=production');

    const copies = all(webhook, 'COPY').map(parseCopy);
    // Nothing from the build context: the Node runtime out of node-runtime, jemalloc out of its stage, the rest out of the build stage.
    expect(copies.every((c) => c.from === 'build' || c.from === 'node-runtime' || c.from === 'jemalloc')).toBe(true);
    // The allocator the environment preloads is the one copied in, with its licence.
    const jemalloc = copies.filter((c) => c.from === 'jemalloc').map((c) => c.destination).sort();
    expect(jemalloc).toEqual([IMAGE_PRELOAD, '/usr/share/doc/libjemalloc2/copyright'].sort());
    const build = stage('build');
    const copied = copies.filter((c) => c.from === 'build').flatMap((c) => c.sources.map((s) => relativeToWorkdir(build, s))).sort();
    expect(copied).toEqual(['dist', 'node_modules', 'package.json']);
    const runtime = copies.filter((c) => c.from === 'node-runtime').map((c) => c.destination).sort();
    expect(runtime).toEqual(['/nodejs/LICENSE', '/nodejs/bin/node']);

    // node_modules is pruned to production dependencies after the TypeScript build.
    const buildRuns = runs(build);
    const compile = buildRuns.findIndex((r) => /\bnpm run build\b/.test(r));
    const prune = buildRuns.findIndex((r) => /\bnpm (prune|ci)\b.*--omit=dev/.test(r));
    expect(compile).toBeGreaterThanOrEqual(0);
    expect(prune).toBeGreaterThan(compile);

    const argv = [...(execForm(last(webhook, 'ENTRYPOINT').args) ?? []), ...(execForm(last(webhook, 'CMD').args) ?? [])];
    // The bundle's loader (scripts/bundle.ts), which `npm run build` writes with the trained code cache beside it.
    expect(packageJson.scripts['build']).toContain('scripts/bundle.ts');
    const main = argv.findIndex((a) => a === `/app/dist/bundle/${BUNDLE_ENTRY}`);
    expect(main).toBeGreaterThanOrEqual(0);
    expect(relativeToWorkdir(webhook, argv[main]!)).toBe(`dist/bundle/${BUNDLE_ENTRY}`);
    // Node's own flags, the ones the build trains the cache with (V8 takes a cache only under the flags that wrote it) and the benchmark runs.
    expect(argv.slice(1, main)).toEqual([...IMAGE_NODE_FLAGS]);
    expect(argv[main + 1]).toBe('serve');
    expect(last(webhook, 'USER').args.trim()).toBe(`${IMAGE_USER.uid}:${IMAGE_USER.gid}`);
    // The image's environment is the one the build trains with and the benchmark runs the bundle with.
    const envPairs = all(webhook, 'ENV').flatMap((e) => e.args.trim().split(/\s+/));
    expect(envPairs.sort()).toEqual([...Object.entries(IMAGE_NODE_ENV).map(([k, v]) => `${k}=${v}`), `LD_PRELOAD=${IMAGE_PRELOAD}`].sort());
  });

  it('ships every package the compiled code imports: production dependencies are enough at runtime', () => {
    // The image has `npm prune --omit=dev` node_modules; a runtime import of a
    // devDependency would only fail when the container starts.
    const builtins = new Set(builtinModules);
    const sources = readdirSync(join(REPO_ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(sources.length).toBeGreaterThan(0);
    const imported = new Set<string>();
    for (const file of sources) {
      const text = read(join('src', file));
      // Value imports only: `import type` is erased by tsc.
      const specifiers = [
        ...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+['"]([^'"]+)['"]/gms),
        ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
        ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ].map((m) => m[1]!);
      for (const spec of specifiers) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    const missing = [...imported].filter((name) => !(name in packageJson.dependencies));
    expect(missing, 'imported by src/ but not in package.json dependencies').toEqual([]);
  });

  it('copies every file the TypeScript build reads into the build stage', () => {
    const build = stage('build');
    const fromContext = all(build, 'COPY')
      .map(parseCopy)
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources);
    const tsconfigBuild = z
      .object({ extends: z.string().optional(), compilerOptions: z.object({ rootDir: z.string() }) })
      .parse(JSON.parse(read('tsconfig.build.json')));
    const needed = ['package.json', 'package-lock.json', 'tsconfig.build.json', tsconfigBuild.compilerOptions.rootDir];
    if (tsconfigBuild.extends) needed.push(tsconfigBuild.extends.replace(/^\.\//, ''));
    // npm run build also bundles the CLI with this script, and trains the code cache through the loader.
    needed.push('scripts/bundle.ts', 'scripts/code-cache-loader.cjs');
    for (const file of needed) expect(fromContext, `COPY of ${file}`).toContain(file);
  });

  it('runs the same build commands as CI (.ci/run)', () => {
    // npm commands of .ci/run that produce build outputs; `npm test` is not part of an image.
    const ciCommands = read('.ci/run')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^npm (ci|run \S+)/.test(l) && !/^npm (run )?test\b/.test(l))
      .map((l) => l.split(/\s+/).filter((w) => !w.startsWith('-')).join(' '));
    expect(ciCommands).toEqual(expect.arrayContaining(['npm ci', 'npm run build']));
    const dockerRuns = dockerfile.stages.flatMap(runs);
    for (const command of ciCommands) {
      const script = /^npm run (\S+)$/.exec(command)?.[1];
      const body = script !== undefined ? packageJson.scripts[script] : undefined;
      // The Go stage has no npm, so `npm run build:helper` may appear as its script body (helper/build.sh).
      const accepted = body !== undefined ? [command, body] : [command];
      const found = dockerRuns.some((r) => accepted.some((a) => new RegExp(`(^|[\\s;&])${a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s;&])`).test(r)));
      expect(found, `Dockerfile runs ${accepted.join(' or ')}`).toBe(true);
    }
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps local builds, caches, certificates and VCS data out of the build context', () => {
    for (const entry of ['node_modules', 'dist', '.cache', 'certs', '.git', 'helper/bin', 'bench/results']) {
      expect(patterns).toContain(entry);
    }
  });

  it('does not ignore anything the Dockerfile copies from the context', () => {
    const fromContext = dockerfile.stages
      .flatMap((s) => all(s, 'COPY').map(parseCopy))
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources);
    for (const source of fromContext) {
      for (const pattern of patterns) {
        const ignored = source === pattern || source.startsWith(`${pattern}/`);
        expect(ignored, `${source} is ignored by .dockerignore pattern ${pattern}`).toBe(false);
      }
    }
  });
});
