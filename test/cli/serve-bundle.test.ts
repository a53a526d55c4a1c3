// The webhook image runs the bundle's loader (dist/bundle/main.cjs) with the
// code cache `npm run build` trains beside it, its Node flags and environment
// (scripts/bundle.ts), on the image's Node release (tools/nodejs/run.sh).
// Built and trained here the same way, then moved, as the image build moves it
// from /src to /app: the moved bundle, started as the image's ENTRYPOINT
// starts it, must answer a real AdmissionReview over TLS exactly as the
// TypeScript sources do (a large one too, on a review thread the bundle starts
// from its own files), and V8 must accept the moved cache.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_ENTRY, CODE_CACHE, IMAGE_NODE_ENV, IMAGE_NODE_FLAGS, KUBE_CLIENT, SIDE_SCRIPTS, bundleCli, trainCodeCache } from '../../scripts/bundle.js';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import { admit, parseAdmissionReview, serializeReview } from '../../src/server/admission.js';
import { OFFLOAD_MIN_BYTES } from '../../src/server/review-pool.js';
import { admissionReview, getMetrics } from '../server/review-fixtures.js';
import { freePort } from '../e2e/controlplane/controlplane.js';
import { startServe, type ServeProcess } from './serve-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Bundling, fetching the image's Node once, and spawning it on a loaded machine: a harness bound.
const TIMEOUT_MS = 300_000;

/** The loader's line (NODE_DEBUG=ws-drain) on what V8 did with the code cache. */
const CACHE_LINE = /WS-DRAIN \d+: code cache (\S+): (\w+)/g;
const cacheLines = (p: ServeProcess) => [...p.stderr().matchAll(CACHE_LINE)].map((m) => ({ file: m[1]!, result: m[2]! }));

describe('the bundle as the image runs it', { timeout: TIMEOUT_MS }, () => {
  let dir: string;
  let moved: string;
  let serve: ServeProcess;
  let probe: string;

  let node: string;

  beforeAll(async () => {
    node = (await promisify(execFile)(join(ROOT, 'tools/nodejs/run.sh'), ['--print'], { cwd: ROOT })).stdout.trim();
    dir = await mkdtemp(join(tmpdir(), 'ws-drain-bundle-'));
    const built = join(dir, 'src/dist/bundle');
    await bundleCli(built);
    expect(await trainCodeCache(built, node)).toBe(join(built, CODE_CACHE));
    // What the Dockerfile does: COPY --from=build /src/dist ./dist under /app.
    moved = join(dir, 'app/dist');
    await cp(join(dir, 'src/dist'), moved, { recursive: true });
    await rm(join(dir, 'src'), { recursive: true });
    // As the ENTRYPOINT: the image's Node, its flags, the loader; NODE_DEBUG only adds the loader's line.
    serve = await startServe([], { ...IMAGE_NODE_ENV, NODE_DEBUG: 'ws-drain' }, { node, nodeFlags: IMAGE_NODE_FLAGS, entry: join(moved, 'bundle', BUNDLE_ENTRY), captureStderr: true });
    // Preloaded (-r) into a process: at exit, the built-in modules and files it loaded.
    probe = join(dir, 'probe.cjs');
    await writeFile(probe, "process.on('exit', () => require('node:fs').writeSync(2, `loaded ${JSON.stringify({ builtins: process.moduleLoadList, files: Object.keys(require.cache) })}\\n`));\n");
  }, TIMEOUT_MS);

  /** What a process started with the probe loaded, once it stopped on SIGTERM as in a pod. */
  async function loadedBy(p: ServeProcess): Promise<{ builtins: string[]; files: string[] }> {
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const line = p.stderr().split('\n').find((l) => l.startsWith('loaded '));
    if (line === undefined) throw new Error(`no probe line on stderr: ${p.stderr()}`);
    return JSON.parse(line.slice('loaded '.length)) as { builtins: string[]; files: string[] };
  }

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

  it("loads none of the dependencies' modules LAZY_REQUIRES names (prom-client's Pushgateway would load zlib), and its metrics still work", async () => {
    const probed = await startServe([], { ...IMAGE_NODE_ENV }, { node, nodeFlags: [...IMAGE_NODE_FLAGS, '-r', probe], entry: join(moved, 'bundle', BUNDLE_ENTRY), captureStderr: true });
    try {
      expect((await probed.request('POST', '/mutate', JSON.stringify(admissionReview({ uid: 'bundle-lazy' })))).status).toBe(200);
      // prom-client's default metrics, whose CPU counter requires the (lazy) OpenTelemetry API.
      expect(await getMetrics(probed.metricsPort)).toMatch(/^process_cpu_seconds_total \d/m);
      const { builtins } = await loadedBy(probed);
      expect(builtins).toContain('NativeModule https');
      expect(builtins.filter((m) => m.includes('zlib'))).toEqual([]);
    } finally {
      await probed.cleanup();
    }
  });

  it('denies a malformed review with a clear message rather than failing', async () => {
    const res = await serve.request('POST', '/mutate', '{"kind":"AdmissionReview"');
    expect(res.status).toBe(400);
    expect(res.body.length).toBeGreaterThan(0);
  });

  it('starts from the moved code cache: V8 accepts it on the Node release that trained it', () => {
    expect(cacheLines(serve)).toEqual([{ file: join(moved, 'bundle', CODE_CACHE), result: 'accepted' }]);
  });

  it('with --workers 2 every process (the primary and each cluster worker) starts from the code cache and answers', async () => {
    const workers = await startServe(['--workers', '2'], { ...IMAGE_NODE_ENV, NODE_DEBUG: 'ws-drain' }, { node, nodeFlags: IMAGE_NODE_FLAGS, entry: join(moved, 'bundle', BUNDLE_ENTRY), captureStderr: true });
    try {
      await workers.waitForLine((l) => l['msg'] === 'ws-drain webhook listening' && l['worker'] === 2);
      const body = JSON.stringify(admissionReview({ uid: 'bundle-workers' }));
      const parsed = parseAdmissionReview(JSON.parse(body));
      if (!parsed.ok) throw new Error(parsed.error);
      const res = await workers.request('POST', '/mutate', body, { newConnection: true });
      expect(res.status).toBe(200);
      expect(res.body).toBe(serializeReview(admit(parsed.review, DEFAULT_CONFIG).review));
      expect(cacheLines(workers).map((l) => l.result)).toEqual(['accepted', 'accepted', 'accepted']);
    } finally {
      await workers.cleanup();
    }
  });

  it('a cache V8 rejects (another release, architecture or flags wrote it) starts serve as without one, and says so only when asked', async () => {
    const other = join(dir, 'other/dist');
    await cp(moved, other, { recursive: true });
    // Not a cache this Node wrote: V8 checks its header and rejects it.
    await writeFile(join(other, 'bundle', CODE_CACHE), Buffer.alloc(4096, 7));
    const body = JSON.stringify(admissionReview({ uid: 'bundle-rejected' }));
    const parsed = parseAdmissionReview(JSON.parse(body));
    if (!parsed.ok) throw new Error(parsed.error);
    for (const debug of [true, false]) {
      const rejected = await startServe([], { ...IMAGE_NODE_ENV, ...(debug ? { NODE_DEBUG: 'ws-drain' } : {}) }, { node, nodeFlags: IMAGE_NODE_FLAGS, entry: join(other, 'bundle', BUNDLE_ENTRY), captureStderr: true });
      try {
        const res = await rejected.request('POST', '/mutate', body);
        expect(res.status).toBe(200);
        expect(res.body).toBe(serializeReview(admit(parsed.review, DEFAULT_CONFIG).review));
        expect(cacheLines(rejected)).toEqual(debug ? [{ file: join(other, 'bundle', CODE_CACHE), result: 'rejected' }] : []);
        if (!debug) expect(rejected.stderr()).toBe('');
      } finally {
        await rejected.cleanup();
      }
    }
  });

  it('in a pod (a service account, no kubeconfig) serve never loads the Kubernetes client, x509 or yaml; with --kubeconfig it loads the client', async () => {
    const bundleDir = join(moved, 'bundle');
    const client = join(bundleDir, KUBE_CLIENT);
    const sa = join(dir, 'serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'unused');
    await writeFile(join(sa, 'ca.crt'), serve.ca);
    const refused = String(await freePort());
    const env = { ...IMAGE_NODE_ENV, KUBECONFIG: '', HOME: sa };
    const command = { node, nodeFlags: [...IMAGE_NODE_FLAGS, '-r', probe], entry: join(bundleDir, BUNDLE_ENTRY), captureStderr: true };
    const inPod = await startServe(['--namespace-source=cluster', '--service-account-dir', sa], { ...env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: refused }, command);
    try {
      // The informer ran: its first list went to the pod's API server address (refused here).
      const lost = await inPod.waitForLine((l) => l['msg'] === 'namespace watch lost; admission keeps the last known namespaces');
      expect(String(lost['err'])).toContain(`127.0.0.1:${refused}`);
      const { files } = await loadedBy(inPod);
      expect(files).toContain(join(bundleDir, BUNDLE_ENTRY));
      for (const side of Object.values(SIDE_SCRIPTS)) expect(files).not.toContain(join(bundleDir, side));
    } finally {
      await inPod.cleanup();
    }
    const kubeconfig = join(dir, 'client.kubeconfig');
    await writeFile(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${refused}` } }], users: [{ name: 'u', user: { token: 'unused' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }], 'current-context': 'c' }));
    const withKubeconfig = await startServe(['--namespace-source=cluster', '--kubeconfig', kubeconfig], env, command);
    try {
      await withKubeconfig.waitForLine((l) => l['msg'] === 'namespace watch lost; admission keeps the last known namespaces');
      expect((await loadedBy(withKubeconfig)).files).toContain(client);
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
    const informed = await startServe(['--namespace-source=cluster', '--kubeconfig', kubeconfig], { ...IMAGE_NODE_ENV }, { node, nodeFlags: IMAGE_NODE_FLAGS, entry: join(moved, 'bundle', BUNDLE_ENTRY), captureStderr: true });
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
