// The webhook image runs the esbuild bundle (dist/bundle/main.js) with the
// compile cache `npm run build` writes beside it, its Node flags and
// environment (scripts/bundle.ts), on the image's Node release (tools/nodejs/run.sh). Built here the same way, then
// moved, as the image build moves it from /src to /app: the moved bundle must
// answer a real AdmissionReview exactly as the TypeScript sources do (a large
// one too, on a review thread the bundle starts from its own files), and the
// moved cache must still be the one Node uses.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_NODE_ENV, IMAGE_NODE_FLAGS, bundleCli, compileCacheDir, compileCacheEnv, writeCompileCache } from '../../scripts/bundle.js';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import { admit, parseAdmissionReview, serializeReview } from '../../src/server/admission.js';
import { OFFLOAD_MIN_BYTES } from '../../src/server/review-pool.js';
import { admissionReview, getMetrics } from '../server/review-fixtures.js';
import { freePort } from '../e2e/controlplane/controlplane.js';
import { startServe, type ServeProcess } from './serve-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Bundling, fetching the image's Node once, and spawning it on a loaded machine: a harness bound.
const TIMEOUT_MS = 300_000;

describe('the bundle as the image runs it', { timeout: TIMEOUT_MS }, () => {
  let dir: string;
  let moved: string;
  let serve: ServeProcess;

  let node: string;

  beforeAll(async () => {
    node = (await promisify(execFile)(join(ROOT, 'tools/nodejs/run.sh'), ['--print'], { cwd: ROOT })).stdout.trim();
    dir = await mkdtemp(join(tmpdir(), 'ws-drain-bundle-'));
    const built = join(dir, 'src/dist/bundle');
    await bundleCli(built);
    expect(await writeCompileCache(built, node)).toBe(compileCacheDir(built));
    // What the Dockerfile does: COPY --from=build /src/dist ./dist under /app.
    moved = join(dir, 'app/dist');
    await cp(join(dir, 'src/dist'), moved, { recursive: true });
    await rm(join(dir, 'src'), { recursive: true });
    serve = await startServe([], { ...IMAGE_NODE_ENV, ...compileCacheEnv(compileCacheDir(join(moved, 'bundle'))), NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }, { node, nodeFlags: IMAGE_NODE_FLAGS, entry: join(moved, 'bundle/main.js'), captureStderr: true });
  }, TIMEOUT_MS);

  afterAll(async () => {
    await serve?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers an opted-in pod with the same AdmissionReview, byte for byte, as the sources', async () => {
    const body = JSON.stringify(admissionReview({ uid: 'bundle-1' }));
    const parsed = parseAdmissionReview(JSON.parse(body));
    if (!parsed.ok) throw new Error(parsed.error);
    const expected = serializeReview(admit(parsed.review, DEFAULT_CONFIG).review);
    expect(expected).toContain('"patch"');
    const res = await serve.request('POST', '/mutate', body);
    expect(res.status).toBe(200);
    expect(res.body).toBe(expected);
  });

  it('answers a review over 64 KiB on a review thread, started from the moved bundle, byte for byte like the sources', async () => {
    const containers = Array.from({ length: 900 }, (_, i) => ({ name: `c${i}`, image: 'registry.example.com/app:1', ports: [{ containerPort: 8080 }] }));
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big', namespace: 'apps', annotations: { 'ws-drain/session-p95': '5m' } }, spec: { containers } };
    const body = JSON.stringify(admissionReview({ uid: 'bundle-big', object: pod }));
    expect(body.length).toBeGreaterThan(OFFLOAD_MIN_BYTES);
    const parsed = parseAdmissionReview(JSON.parse(body));
    if (!parsed.ok) throw new Error(parsed.error);
    const res = await serve.request('POST', '/mutate', body);
    expect(res.status).toBe(200);
    expect(res.body).toBe(serializeReview(admit(parsed.review, DEFAULT_CONFIG).review));
    expect(await getMetrics(serve.metricsPort)).toMatch(/^ws_drain_review_thread_jobs_total\{result="answered"\} 1$/m);
  });

  it("loads at start none of the dependencies' modules LAZY_REQUIRES names (prom-client's Pushgateway would load zlib), and its metrics still work", async () => {
    // The chunks the running serve loaded (each went through the compile cache, which names it), but
    // the CLI's entry, which would run: imported again in a fresh process, what do they load?
    const chunks = [...serve.stderr().matchAll(/V8 code cache for ESM file:\/\/(\S+) was accepted/g)].map((m) => m[1]!).filter((f) => !f.endsWith('/main.js'));
    expect(chunks.some((f) => /\/serve-command-\w+\.js$/.test(f))).toBe(true);
    const script = `for (const f of ${JSON.stringify(chunks)}) await import(f); process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('zlib'))));`;
    const { stdout } = await promisify(execFile)(node, ['--input-type=module', '-e', script]);
    expect(JSON.parse(stdout)).toEqual([]);
    // prom-client's default metrics, whose CPU counter requires the (lazy) OpenTelemetry API.
    expect(await getMetrics(serve.metricsPort)).toMatch(/^process_cpu_seconds_total \d/m);
  });

  it('denies a malformed review with a clear message rather than failing', async () => {
    const res = await serve.request('POST', '/mutate', '{"kind":"AdmissionReview"');
    expect(res.status).toBe(400);
    expect(res.body.length).toBeGreaterThan(0);
  });

  it('starts from the moved compile cache: Node accepts the code cache of the serve chunk', () => {
    const accepted = [...serve.stderr().matchAll(/V8 code cache for ESM file:\/\/(\S+) was accepted/g)].map((m) => m[1]!);
    expect(accepted).toContain(join(moved, 'bundle/main.js'));
    expect(accepted.some((f) => /\/bundle\/serve-command-\w+\.js$/.test(f) && f.startsWith(moved))).toBe(true);
    expect(serve.stderr()).not.toMatch(/was rejected/);
  });

  it('in a pod (a service account, no kubeconfig) serve never loads the Kubernetes client; with --kubeconfig it does', async () => {
    const bundleDir = join(moved, 'bundle');
    const chunks = await readdir(bundleDir);
    const client: string[] = [];
    for (const f of chunks.filter((c) => c.endsWith('.js'))) if ((await readFile(join(bundleDir, f), 'utf8')).includes('KubeConfig=class')) client.push(join(bundleDir, f));
    expect(client).toHaveLength(1);
    // Every chunk a process imports goes through the compile cache, which names it (NODE_DEBUG_NATIVE=COMPILE_CACHE).
    const loaded = (p: ServeProcess): string[] => [...p.stderr().matchAll(/V8 code cache for ESM file:\/\/(\S+) was accepted/g)].map((m) => m[1]!);
    const sa = join(dir, 'serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'unused');
    await writeFile(join(sa, 'ca.crt'), serve.ca);
    const refused = String(await freePort());
    const env = { ...compileCacheEnv(compileCacheDir(bundleDir)), NODE_DEBUG_NATIVE: 'COMPILE_CACHE', KUBECONFIG: '', HOME: sa };
    const inPod = await startServe(['--namespace-source=cluster', '--service-account-dir', sa], { ...env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: refused }, { node, nodeFlags: IMAGE_NODE_FLAGS, entry: join(bundleDir, 'main.js'), captureStderr: true });
    try {
      // The informer ran: its first list went to the pod's API server address (refused here).
      const lost = await inPod.waitForLine((l) => l['msg'] === 'namespace watch lost; admission keeps the last known namespaces');
      expect(String(lost['err'])).toContain(`127.0.0.1:${refused}`);
      expect(loaded(inPod).some((f) => f.includes('serve-command'))).toBe(true);
      expect(loaded(inPod)).not.toContain(client[0]);
    } finally {
      await inPod.cleanup();
    }
    const kubeconfig = join(dir, 'client.kubeconfig');
    await writeFile(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${refused}` } }], users: [{ name: 'u', user: { token: 'unused' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }], 'current-context': 'c' }));
    const withKubeconfig = await startServe(['--namespace-source=cluster', '--kubeconfig', kubeconfig], env, { node, nodeFlags: IMAGE_NODE_FLAGS, entry: join(bundleDir, 'main.js'), captureStderr: true });
    try {
      await withKubeconfig.waitForLine((l) => l['msg'] === 'namespace watch lost; admission keeps the last known namespaces');
      expect(loaded(withKubeconfig)).toContain(client[0]);
    } finally {
      await withKubeconfig.cleanup();
    }
  });

  it("logs the dependencies' deprecation warnings as JSON lines, not as Node's plain text on stderr", async () => {
    // serve's default namespace source loads client-node, whose punycode and url.parse Node 24 warns about in bundled code.
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 'unused' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    const informed = await startServe(['--namespace-source=cluster', '--kubeconfig', kubeconfig], { ...IMAGE_NODE_ENV }, { node, nodeFlags: IMAGE_NODE_FLAGS, entry: join(moved, 'bundle/main.js'), captureStderr: true });
    try {
      // startServe parses every stdout line as JSON: a plain-text line fails the test there.
      const line = await informed.waitForLine((l) => (l['warning'] as { code?: string } | undefined)?.code === 'DEP0040');
      expect(line['level']).toBe(40);
      expect(line['msg']).toMatch(/punycode/);
      expect(informed.stderr()).not.toMatch(/Warning/);
    } finally {
      await informed.cleanup();
    }
  });
});
