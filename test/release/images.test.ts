// tools/release/build.sh against a real registry (docker-registry on loopback):
// both images are OCI image indexes with linux/amd64 and linux/arm64, labelled
// with the version, revision and source; the printed digests are the ones the
// registry serves (skopeo); the arm64 helper is a static arm64 ELF; the amd64
// webhook runs (chroot into its layers) on the Node release CI tests and prints
// the version; the arm64 images run too, under qemu-user (qemu-aarch64-static,
// no binfmt needed): the helper's version and its parse-only check of the argv
// the webhook injects, the arm64 Node's version and the bundle's --help (V8
// rejecting the code cache the amd64 build stage trained, as it should); the
// webhook runs on the image's jemalloc (serve in the amd64 image maps it; on
// both platforms jemalloc reports the image's MALLOC_CONF in effect); the
// SBOM lists exactly the npm packages in the image, and jemalloc;
// tools/release/attach-sbom.mjs attaches each SBOM to its index as an OCI
// referrer; and tools/release/pin.sh pins the kustomize render and the chart
// values to the digests.
// The base images are built locally (--local-bases): CI cannot pull public ones.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { IMAGE_PRELOAD } from '../../scripts/bundle.js';
import { generateDevCerts, writeDevCerts } from '../../src/certs/dev-certs.js';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { decide } from '../../src/core/decide.js';
import { HELPER_BINARY } from '../../src/core/types.js';
import { runProcess } from '../e2e/controlplane/run.js';
import { renderChart } from '../manifests/helm.js';
import { REPO_ROOT, buildKubectl, renderKustomize } from '../manifests/render.js';

const cacheRoot = process.env['WS_DRAIN_CACHE'] ?? join(REPO_ROOT, '.cache');
const PLATFORMS = ['amd64', 'arm64'];
const pkg = z.object({ version: z.string(), repository: z.object({ url: z.string() }) }).parse(JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')));
const nodeVersion = /^ARG NODE_VERSION=(.*)$/m.exec(await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'))?.[1];

const Index = z.object({
  mediaType: z.literal('application/vnd.oci.image.index.v1+json'),
  manifests: z.array(z.object({ digest: z.string(), platform: z.object({ os: z.string(), architecture: z.string() }) })),
});
const Inspect = z.object({ Architecture: z.string(), Os: z.string(), Labels: z.record(z.string(), z.string()) });
const DeploymentSchema = z.object({
  spec: z.object({ template: z.object({ spec: z.object({ containers: z.array(z.object({ name: z.string(), image: z.string(), env: z.array(z.object({ name: z.string(), value: z.string().optional() })) })) }) }) }),
});
const Manifest = z.object({ layers: z.array(z.object({ digest: z.string() })) });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function must(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const run = await runProcess(cmd, args, opts);
  if (run.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${run.code}:\n${run.stderr.slice(-4000)}`);
  return run.stdout;
}

/** REPOSITORY@sha256:… of a REPOSITORY:TAG@sha256:… reference (skopeo 1.9 takes no tag with a digest). */
const byDigest = (ref: string) => `${ref.split('@')[0]!.replace(/:[^:/]+$/, '')}@${ref.split('@')[1]}`;

const unpacked = new Map<string, Promise<string>>();
/** The platform's image of an index, copied out of the registry and its layers unpacked (once per image and platform). */
function unpack(ref: string, arch: string, into: string): Promise<string> {
  const key = `${ref} ${arch}`;
  if (!unpacked.has(key)) unpacked.set(key, unpackOnce(ref, arch, join(into, `${unpacked.size}-${arch}`)));
  return unpacked.get(key)!;
}
async function unpackOnce(ref: string, arch: string, into: string): Promise<string> {
  const layout = join(into, 'dir');
  await mkdir(into, { recursive: true });
  await must('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--override-arch', arch, `docker://${byDigest(ref)}`, `dir:${layout}`]);
  const manifest = Manifest.parse(JSON.parse(await readFile(join(layout, 'manifest.json'), 'utf8')));
  const rootfs = join(into, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  for (const layer of manifest.layers) await must('tar', ['-xf', join(layout, layer.digest.replace(/^sha256:/, '')), '-C', rootfs]);
  return rootfs;
}

/** The ELF machine of a file: "amd64", "arm64" or the raw e_machine. */
async function elfMachine(path: string): Promise<string> {
  const head = (await readFile(path)).subarray(0, 20);
  expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  const machine = head.readUInt16LE(18);
  return machine === 0x3e ? 'amd64' : machine === 0xb7 ? 'arm64' : `0x${machine.toString(16)}`;
}

describe('tools/release/build.sh: release images in a local registry', () => {
  let registry: ChildProcess | undefined;
  let work: string;
  let prefix: string;
  let printed: Map<string, string>;
  let revision: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ws-drain-release-'));
    // The registry's storage is cached: a warm run pushes only changed blobs.
    const storage = join(cacheRoot, 'release', 'registry');
    await mkdir(storage, { recursive: true });
    const port = await freePort();
    await writeFile(join(work, 'registry.yml'), ['version: 0.1', 'log:', '  level: warn', '  accesslog:', '    disabled: true', 'storage:', '  filesystem:', `    rootdirectory: ${storage}`, 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'));
    registry = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (registry.exitCode !== null) throw new Error(`docker-registry exited ${registry.exitCode}`);
      if (await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false)) break;
      if (Date.now() > deadline) throw new Error('docker-registry did not answer in 60s');
      await new Promise((r) => setTimeout(r, 200));
    }
    prefix = `127.0.0.1:${port}/ws-drain`;
    const run = await runProcess(join(REPO_ROOT, 'tools/release/build.sh'), ['--local-bases', '--tls-verify=false', '--out', join(work, 'out'), prefix], { cwd: REPO_ROOT });
    if (run.code !== 0) throw new Error(`tools/release/build.sh exited ${run.code}:\n${run.stderr.slice(-6000)}`);
    printed = new Map(run.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    revision = (await must('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT })).trim();
  }, 3_600_000);

  afterAll(async () => {
    if (registry && registry.exitCode === null) {
      const exited = new Promise((r) => registry!.once('exit', r));
      registry.kill('SIGTERM');
      await exited;
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('prints one pinned reference per image, the same as images.env', async () => {
    expect([...printed.keys()].sort()).toEqual(['ws-drain-helper', 'ws-drain-webhook']);
    for (const [name, ref] of printed) expect(ref).toMatch(new RegExp(`^${prefix}/${name}:${pkg.version.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`));
    const env = await readFile(join(work, 'out/images.env'), 'utf8');
    expect(new Map(env.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))).toEqual(printed);
  });

  for (const name of ['ws-drain-helper', 'ws-drain-webhook']) {
    it(`${name}: an OCI index with both platforms whose digest is the printed one; each labelled`, async () => {
      const ref = printed.get(name)!;
      const tagged = ref.split('@')[0]!;
      const raw = await must('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${tagged}`]);
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(ref.split('@')[1]);
      const index = Index.parse(JSON.parse(raw));
      expect(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort()).toEqual(PLATFORMS.map((a) => `linux/${a}`));
      for (const arch of PLATFORMS) {
        const inspect = Inspect.parse(JSON.parse(await must('skopeo', ['inspect', '--tls-verify=false', '--override-arch', arch, `docker://${byDigest(ref)}`])));
        expect(inspect.Architecture).toBe(arch);
        expect(inspect.Labels['org.opencontainers.image.version']).toBe(pkg.version);
        expect(inspect.Labels['org.opencontainers.image.revision']).toMatch(new RegExp(`^${revision}(-dirty)?$`));
        expect(inspect.Labels['org.opencontainers.image.source']).toBe(pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, ''));
        expect(inspect.Labels['org.opencontainers.image.title']).toBe(name);
      }
    });
  }

  it('the arm64 helper is a static arm64 ELF that carries the version', async () => {
    const rootfs = await unpack(printed.get('ws-drain-helper')!, 'arm64', work);
    const binary = join(rootfs, 'ws-drain-helper');
    expect(await elfMachine(binary)).toBe('arm64');
    // The helper's own static check (no PT_INTERP, no DT_NEEDED, size budget, ELF machine).
    await must('go', ['test', '-count=1', '-run', '^TestBuiltBinaryIsStatic$', '.'], { cwd: join(REPO_ROOT, 'helper'), env: { ...process.env, WS_DRAIN_HELPER_BIN: binary, WS_DRAIN_HELPER_ARCH: 'arm64' } });
    expect((await readFile(binary)).includes(Buffer.from(pkg.version))).toBe(true);
  });

  it('the arm64 helper runs under qemu-aarch64-static: its version, and --check accepts every argv the webhook injects', async () => {
    const binary = join(await unpack(printed.get('ws-drain-helper')!, 'arm64', work), 'ws-drain-helper');
    const arm64 = (args: string[]) => runProcess('qemu-aarch64-static', [binary, ...args], { env: { PATH: '/usr/bin:/bin' } });
    const version = await arm64(['version']);
    expect({ code: version.code, stdout: version.stdout.trim() }).toEqual({ code: 0, stdout: pkg.version });
    // A pod that takes most of the helper's flags: an app with an HTTP drain
    // trigger and its own httpGet hook (with a header), and a mesh proxy.
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'arm64', annotations: { 'ws-drain/session-p95': '5m', 'ws-drain/prestop-delay': '15s', 'ws-drain/drain-http': 'POST :8080/drain' } },
      spec: {
        containers: [
          { name: 'app', image: 'app', ports: [{ name: 'ws', containerPort: 8080 }], lifecycle: { preStop: { httpGet: { path: '/stop', port: 8080, httpHeaders: [{ name: 'X-Reason', value: 'drain' }] } } } },
          { name: 'istio-proxy', image: 'proxy', ports: [{ containerPort: 15090 }] },
        ],
      },
    };
    const decision = decide(pod, 'default', { ...DEFAULT_CONFIG, helperImage: 'helper', helperVersion: pkg.version });
    expect(decision.kind).toBe('mutate');
    const argvs = ((decision as { pod: { spec: { containers: Array<{ lifecycle?: { preStop?: { exec?: { command: string[] } } } }> } } }).pod.spec.containers)
      .map((c) => c.lifecycle?.preStop?.exec?.command ?? [])
      .filter((argv) => argv[0] === HELPER_BINARY);
    expect(argvs).toHaveLength(2);
    expect(argvs.flat()).toEqual(expect.arrayContaining(['--role=proxy', expect.stringMatching(/^--drain-url=/), expect.stringMatching(/^--hook-url=/), expect.stringMatching(/^--hook-header=/)]));
    for (const argv of argvs) {
      const check = await arm64([...argv.slice(1, 2), '--check', ...argv.slice(2)]);
      expect({ argv, code: check.code, stderr: check.stderr }).toEqual({ argv, code: 0, stderr: '' });
    }
    // The check can fail: an unusable flag is named, exit 2.
    const bad = await arm64(['prestop', '--check', '--delay=20s', '--drain-url=http://127.0.0.1:8080/drain', '--drain-method=BREW']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--drain-method "BREW" ignored');
  });

  it('the arm64 webhook runs under qemu-aarch64-static: its Node prints the tested version, the bundle its --help', async () => {
    const ref = byDigest(printed.get('ws-drain-webhook')!);
    const rootfs = await unpack(printed.get('ws-drain-webhook')!, 'arm64', work);
    const config = z
      .object({ config: z.object({ Entrypoint: z.array(z.string()).min(2) }) })
      .parse(JSON.parse(await must('skopeo', ['inspect', '--config', '--tls-verify=false', '--override-arch', 'arm64', `docker://${ref}`]))).config;
    // -L: the image's root for the dynamic loader and its libraries. Node's module
    // resolution does not go through qemu's path prefix: the bundle is given by its path here
    // (the ENTRYPOINT's other arguments, Node flags, as they are).
    const arm64 = (args: string[]) => runProcess('qemu-aarch64-static', ['-L', rootfs, join(rootfs, config.Entrypoint[0]!), ...args], { env: { PATH: '/usr/bin:/bin', NODE_DEBUG: 'ws-drain' } });
    expect((await arm64(['--version'])).stdout.trim()).toBe(`v${nodeVersion}`);
    const help = await arm64([...config.Entrypoint.slice(1).map((a) => (a.startsWith('/') ? join(rootfs, a) : a)), '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/serve/);
    expect(help.stdout).toMatch(/plan/);
    // The code cache was trained by the build stage's amd64 Node: arm64's V8 rejects it and compiles as without one.
    expect(help.stderr).toMatch(/code cache \S+\/dist\/bundle\/ws-drain\.cjs\.cache: rejected/);
  });

  it('the amd64 webhook runs the tested Node release and prints the version; the arm64 one carries an arm64 Node', async () => {
    const rootfs = await unpack(printed.get('ws-drain-webhook')!, 'amd64', work);
    const config = z
      .object({ config: z.object({ Entrypoint: z.array(z.string()).min(1), User: z.string(), Env: z.array(z.string()).optional() }) })
      .parse(JSON.parse(await must('skopeo', ['inspect', '--config', '--tls-verify=false', '--override-arch', 'amd64', `docker://${byDigest(printed.get('ws-drain-webhook')!)}`]))).config;
    expect(config.User).toBe('65532:65532');
    const asImage = (argv: string[]) => must('chroot', [`--userspec=${config.User}`, rootfs, ...argv]);
    expect((await asImage([config.Entrypoint[0]!, '--version'])).trim()).toBe(`v${nodeVersion}`);
    // What the container runs (its ENTRYPOINT), asked for the version.
    expect((await asImage([...config.Entrypoint, '--version'])).trim()).toBe(`ws-drain ${pkg.version}`);
    // The code cache the build stage trained with this same Node (scripts/bundle.ts) is accepted by V8,
    // under the image's ENV and flags, as the image's user. PATH: this machine's, to find chroot.
    const env = Object.fromEntries((config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    const traced = await runProcess('chroot', [`--userspec=${config.User}`, rootfs, ...config.Entrypoint, '--version'], { env: { ...env, PATH: process.env['PATH'], NODE_DEBUG: 'ws-drain' } });
    expect(traced.code).toBe(0);
    expect(traced.stderr).toMatch(/code cache \/app\/dist\/bundle\/ws-drain\.cjs\.cache: accepted$/m);
    const arm = await unpack(printed.get('ws-drain-webhook')!, 'arm64', work);
    expect(await elfMachine(join(arm, 'nodejs/bin/node'))).toBe('arm64');
    expect(existsSync(join(arm, 'lib/ld-linux-aarch64.so.1'))).toBe(true);
  });

  it('the webhook runs on the image\'s jemalloc: serve, started as the container starts it, has it mapped; on amd64 and on arm64 jemalloc is the allocator and reads the image\'s MALLOC_CONF', async () => {
    const Config = z.object({ config: z.object({ Entrypoint: z.array(z.string()).min(2), User: z.string(), Env: z.array(z.string()) }) });
    const imageConfig = async (arch: string) => {
      const config = Config.parse(JSON.parse(await must('skopeo', ['inspect', '--config', '--tls-verify=false', '--override-arch', arch, `docker://${byDigest(printed.get('ws-drain-webhook')!)}`]))).config;
      return { ...config, env: Object.fromEntries(config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) };
    };
    const amd64 = await imageConfig('amd64');
    expect(amd64.env['LD_PRELOAD']).toBe(IMAGE_PRELOAD);
    const rootfs = await unpack(printed.get('ws-drain-webhook')!, 'amd64', work);
    expect(await elfMachine(join(rootfs, IMAGE_PRELOAD))).toBe('amd64');
    // serve as the container runs it (chroot into the image, its user, its ENV), on loopback with throw-away certificates.
    const certs = await writeDevCerts(join(rootfs, 'tmp', 'jemalloc-certs'), await generateDevCerts({ hosts: ['127.0.0.1'] }));
    for (const file of [certs.tlsCert, certs.tlsKey]) await chown(file, 65532, 65532);
    const inImage = (path: string) => path.slice(rootfs.length);
    const port = await freePort();
    const serve = spawn('chroot', [`--userspec=${amd64.User}`, rootfs, ...amd64.Entrypoint, 'serve', '--port', String(port), '--metrics-port', '0', '--namespace-source', 'none', '--tls-cert', inImage(certs.tlsCert), '--tls-key', inImage(certs.tlsKey)], {
      env: { ...amd64.env, PATH: process.env['PATH'] },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    serve.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const healthy = () =>
        new Promise<boolean>((resolve) => {
          httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca: readFileSync(certs.caCert), servername: '127.0.0.1' }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
          })
            .on('error', () => resolve(false))
            .end();
        });
      const deadline = Date.now() + 60_000;
      while (!(await healthy())) {
        if (serve.exitCode !== null || Date.now() > deadline) throw new Error(`serve in the image did not answer /healthz (exit ${serve.exitCode}):\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // chroot execs the ENTRYPOINT: its pid is the webhook's node.
      const maps = await readFile(`/proc/${serve.pid}/maps`, 'utf8');
      // (The host's chroot, which starts with the image's ENV too, cannot open the preload and says so on stderr; node in the image can.)
      expect(maps.split('\n').filter((l) => l.endsWith(`${rootfs}${IMAGE_PRELOAD}`)).length).toBeGreaterThan(0);
    } finally {
      const exited = new Promise((r) => serve.once('exit', r));
      if (serve.exitCode === null) serve.kill('SIGTERM');
      await exited;
    }
    // jemalloc prints its options at exit with stats_print: the image's settings, read by the allocator in use.
    const options = (stats: string) => Object.fromEntries([...stats.matchAll(/^\s*opt\.(\w+): (\S+)/gm)].map((m) => [m[1]!, m[2]!]));
    const wanted = Object.fromEntries(amd64.env['MALLOC_CONF']!.split(',').map((pair) => pair.split(':') as [string, string]));
    expect(Object.keys(wanted)).toContain('background_thread');
    const stats = await runProcess('chroot', [`--userspec=${amd64.User}`, rootfs, ...amd64.Entrypoint, '--version'], { env: { ...amd64.env, MALLOC_CONF: `${amd64.env['MALLOC_CONF']},stats_print:true`, PATH: process.env['PATH'] } });
    expect(stats.code).toBe(0);
    expect(stats.stderr).toContain('Begin jemalloc statistics');
    expect(options(stats.stderr)).toMatchObject(wanted);
    // arm64 under qemu-user: -L makes the image's root the loader's, so LD_PRELOAD's path is the image's file.
    const arm64 = await imageConfig('arm64');
    expect(arm64.env).toEqual(amd64.env);
    const armRoot = await unpack(printed.get('ws-drain-webhook')!, 'arm64', work);
    expect(await elfMachine(join(armRoot, IMAGE_PRELOAD))).toBe('arm64');
    const armStats = await runProcess('qemu-aarch64-static', ['-L', armRoot, join(armRoot, arm64.Entrypoint[0]!), '--version'], { env: { ...arm64.env, MALLOC_CONF: `${arm64.env['MALLOC_CONF']},stats_print:true`, PATH: '/usr/bin:/bin' } });
    expect(armStats.code).toBe(0);
    expect(armStats.stdout.trim()).toBe(`v${nodeVersion}`);
    expect(armStats.stderr).toContain('Begin jemalloc statistics');
    expect(options(armStats.stderr)).toMatchObject(wanted);
  });

  it('the webhook SBOM (SPDX 2.3) lists exactly the npm packages in the image, and the Node runtime', async () => {
    const sbom = z
      .object({ spdxVersion: z.literal('SPDX-2.3'), packages: z.array(z.object({ name: z.string(), versionInfo: z.string(), externalRefs: z.array(z.object({ referenceLocator: z.string() })).optional() })) })
      .parse(JSON.parse(await readFile(join(work, 'out/ws-drain-webhook.spdx.json'), 'utf8')));
    const listed = new Set(sbom.packages.filter((p) => p.externalRefs?.some((r) => r.referenceLocator.startsWith('pkg:npm/') && !r.referenceLocator.includes('/node-linux-')) && p.name !== 'ws-drain').map((p) => `${p.name}@${p.versionInfo}`));
    const rootfs = await unpack(printed.get('ws-drain-webhook')!, 'amd64', work);
    const inImage = new Set<string>();
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir)) {
        if (entry === '.bin' || entry.startsWith('.')) continue;
        if (entry.startsWith('@')) { await walk(join(dir, entry)); continue; }
        const meta = z.object({ name: z.string(), version: z.string() }).parse(JSON.parse(await readFile(join(dir, entry, 'package.json'), 'utf8')));
        inImage.add(`${meta.name}@${meta.version}`);
        if (existsSync(join(dir, entry, 'node_modules'))) await walk(join(dir, entry, 'node_modules'));
      }
    };
    await walk(join(rootfs, 'app/node_modules'));
    expect(inImage.size).toBeGreaterThan(10);
    expect([...listed].sort()).toEqual([...inImage].sort());
    expect(sbom.packages.find((p) => p.name === 'node')?.versionInfo).toBe(nodeVersion);
    expect(sbom.packages.find((p) => p.name === 'libjemalloc2')?.versionInfo).toBe(/^ARG JEMALLOC_VERSION=(.*)$/m.exec(await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'))?.[1]);
    const helper = JSON.parse(await readFile(join(work, 'out/ws-drain-helper.spdx.json'), 'utf8')) as { spdxVersion: string; packages: { name: string }[] };
    expect(helper.spdxVersion).toBe('SPDX-2.3');
    expect(helper.packages.map((p) => p.name)).toContain('stdlib');
  });

  it('tools/release/attach-sbom.mjs attaches each SBOM to its index as an OCI referrer (artifactType, empty config, the SPDX file, subject = the index)', async () => {
    const out = await must('node', [join(REPO_ROOT, 'tools/release/attach-sbom.mjs'), '--tls-verify=false', join(work, 'out')]);
    const attached = new Map(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect([...attached.keys()].sort()).toEqual(['ws-drain-helper.spdx', 'ws-drain-webhook.spdx']);
    const Descriptor = z.object({ mediaType: z.string(), digest: z.string(), size: z.number() });
    const Referrer = z.object({ mediaType: z.string(), artifactType: z.string(), config: Descriptor, layers: z.array(Descriptor.extend({ annotations: z.record(z.string(), z.string()) })), subject: Descriptor });
    for (const name of ['ws-drain-helper', 'ws-drain-webhook']) {
      const [indexRef, indexDigest] = printed.get(name)!.split('@') as [string, string];
      const repository = indexRef.replace(/:[^:/]+$/, '');
      const [tagged, digest] = attached.get(`${name}.spdx`)!.split('@') as [string, string];
      // Found by the name a client derives from the index digest.
      expect(tagged).toBe(`${repository}:${indexDigest.replace(':', '-')}.spdx`);
      const raw = await must('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${tagged}`]);
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(digest);
      const referrer = Referrer.parse(JSON.parse(raw));
      const index = await must('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${repository}@${indexDigest}`]);
      expect(referrer).toMatchObject({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/spdx+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${createHash('sha256').update('{}').digest('hex')}`, size: 2 },
        subject: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: Buffer.byteLength(index) },
      });
      expect(referrer.layers).toHaveLength(1);
      expect(referrer.layers[0]).toMatchObject({ mediaType: 'application/spdx+json', annotations: { 'org.opencontainers.image.title': `${name}.spdx.json` } });
      // The blob the registry serves is the SBOM file build.sh wrote.
      const blob = await fetch(`http://${prefix.split('/')[0]}/v2/${repository.slice(repository.indexOf('/') + 1)}/blobs/${referrer.layers[0]!.digest}`);
      expect(blob.status).toBe(200);
      expect(Buffer.from(await blob.arrayBuffer()).equals(await readFile(join(work, 'out', `${name}.spdx.json`)))).toBe(true);
    }
  });

  it('tools/release/pin.sh pins the kustomize install and the chart values to the printed digests', async () => {
    await buildKubectl();
    const out = join(work, 'pinned');
    await must(join(REPO_ROOT, 'tools/release/pin.sh'), ['--out', out, join(work, 'out/images.env')]);
    const deployment = DeploymentSchema.parse((await renderKustomize(out)).find((o) => o.kind === 'Deployment'));
    const webhook = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook')!;
    const [webhookName, webhookDigest] = printed.get('ws-drain-webhook')!.split('@');
    expect(webhook.image).toBe(`${webhookName!.replace(/:[^:/]+$/, '')}@${webhookDigest}`);
    expect(webhook.env.find((e) => e.name === 'WS_DRAIN_HELPER_IMAGE')?.value).toBe(printed.get('ws-drain-helper'));
    const values = z
      .object({ image: z.object({ repository: z.string(), digest: z.string() }), helperImage: z.object({ repository: z.string(), digest: z.string() }) })
      .parse(parseYaml(await readFile(join(out, 'values-pinned.yaml'), 'utf8')));
    expect(`${values.image.repository}@${values.image.digest}`).toBe(webhook.image);
    expect(printed.get('ws-drain-helper')).toBe(`${values.helperImage.repository}:${pkg.version}@${values.helperImage.digest}`);
    // The chart rendered with those values runs and injects the same digests.
    const chart = DeploymentSchema.parse((await renderChart({ values })).find((o) => o.kind === 'Deployment'));
    const chartWebhook = chart.spec.template.spec.containers.find((c) => c.name === 'webhook')!;
    expect(chartWebhook.image).toBe(webhook.image);
    const helperDigest = printed.get('ws-drain-helper')!.split('@')[1];
    expect(chartWebhook.env.find((e) => e.name === 'WS_DRAIN_HELPER_IMAGE')?.value).toBe(`${values.helperImage.repository}@${helperDigest}`);
  });
});
