// The CLI as a user runs it: a real subprocess.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runProcess, type Run } from '../e2e/controlplane/run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const FIXTURE = fileURLToPath(new URL('./fixtures/app.yaml', import.meta.url));

function wsDrain(args: string[], stdin?: string, env: Record<string, string> = {}): Promise<Run> {
  return runProcess(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdin });
}

// Each case spawns a few Node processes that transpile TypeScript; on a loaded
// machine that is seconds each. A harness bound, not a performance assertion.
const SUBPROCESS_TIMEOUT_MS = 120_000;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML in assertions

describe('ws-drain inject', { timeout: SUBPROCESS_TIMEOUT_MS }, () => {
  it('injects the Deployment template and leaves the other documents byte for byte', async () => {
    const source = await readFile(FIXTURE, 'utf8');
    const r = await wsDrain(['inject', '-f', FIXTURE, '--helper-image', 'registry.example.com/ws-drain-helper:9.9']);
    expect(r.stderr).not.toMatch(/denied/);
    expect(r.code).toBe(0);
    const [configMap, , service] = source.split(/^---\n/m);
    expect(r.stdout.startsWith(configMap!)).toBe(true);
    expect(r.stdout.endsWith(`---\n${service!}`)).toBe(true);

    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Json);
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Deployment', 'Service']);
    const template = docs[1]!.spec.template;
    expect(template.metadata.annotations['ws-drain/injected']).toBeTruthy();
    expect(JSON.parse(template.metadata.annotations['ws-drain/plan'])).toMatchObject({ sessionP95Seconds: 120, signal: 'SIGUSR1' });
    expect(template.spec.initContainers[0]).toMatchObject({ name: 'ws-drain-install', image: 'registry.example.com/ws-drain-helper:9.9' });
    expect(template.spec.terminationGracePeriodSeconds).toBe(195);
    expect(template.spec.containers[0].lifecycle.preStop.exec.command).toContain('--signal=SIGUSR1');
  });

  it('reads stdin with -f - and is idempotent: injecting its own output changes nothing', async () => {
    const source = await readFile(FIXTURE, 'utf8');
    const first = await wsDrain(['inject', '-f', '-'], source);
    expect(first.code).toBe(0);
    expect(first.stdout).not.toBe(source);
    const second = await wsDrain(['inject', '-f', '-'], first.stdout);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
  });

  it('exits 1 on a bad annotation, naming the document and giving the webhook message', async () => {
    const source = (await readFile(FIXTURE, 'utf8')).replace('ws-drain/session-p95: 2m', 'ws-drain/session-p95: "-5m"');
    const r = await wsDrain(['inject', '-f', '-'], source);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('document 2 (Deployment/chat)');
    expect(r.stderr).toContain('ws-drain/session-p95');
    expect(r.stderr).toContain('-5m');
  });

  it('exits 1 on invalid YAML and 2 on a missing -f or an unknown flag', async () => {
    const bad = await wsDrain(['inject', '-f', '-'], 'a: [1, 2\nb: }');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/YAML/);
    const noFile = await wsDrain(['inject']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('-f FILE');
    const unknown = await wsDrain(['inject', '-f', FIXTURE, '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--frobnicate');
  });

  it('injects the items of a kind: List and an Argo Rollout; warns on stderr for what would change nothing, exit 0', async () => {
    const input = `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: misplaced
      annotations:
        ws-drain/session-p95: 5m
    spec:
      template:
        spec:
          containers: [{ name: chat, image: chat:1, ports: [{ containerPort: 8080 }] }]
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: { name: canary }
    spec:
      template:
        metadata:
          annotations: { ws-drain/session-p95: 1m }
        spec:
          containers: [{ name: chat, image: chat:1, ports: [{ containerPort: 8080 }] }]
---
apiVersion: extensions/v1beta1
kind: Deployment
metadata: { name: old }
spec:
  template:
    metadata:
      annotations: { ws-drain/session-p95: 5m }
    spec:
      containers: [{ name: chat, image: chat:1 }]
`;
    const r = await wsDrain(['inject', '-f', '-'], input);
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Json);
    expect(docs[0]!['kind']).toBe('List');
    const [misplaced, canary] = docs[0]!['items'] as Json[];
    expect(misplaced!['spec']['template']['spec']['initContainers']).toBeUndefined();
    expect(canary!['spec']['template']['metadata']['annotations']['ws-drain/injected']).toBeDefined();
    expect(canary!['spec']['template']['spec']['initContainers'][0]['name']).toBe('ws-drain-install');
    expect(docs[1]!['apiVersion']).toBe('extensions/v1beta1');
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
      "warning: document 1 (List) item 0 (Deployment/misplaced): ws-drain/session-p95 on the Deployment itself is not read: move it to spec.template.metadata.annotations",
      'warning: document 1 (List) item 1 (Rollout/canary): ws-drain: terminationGracePeriodSeconds raised from 30 to 117 for the drain plan',
      'warning: document 2 (Deployment/old): extensions/v1beta1 Deployment is not served since Kubernetes 1.16; left unchanged: use apiVersion apps/v1',
    ]);
  });

  it('exits 1 naming the path for a directory or an endless device, instead of reading forever', async () => {
    const dir = await wsDrain(['inject', '-f', '/proc']);
    expect(dir.code).toBe(1);
    expect(dir.stderr).toBe('ws-drain inject: -f /proc: is a directory\n');
    const endless = await wsDrain(['inject', '-f', '/dev/zero']);
    expect(endless.code).toBe(1);
    expect(endless.stderr).toBe('ws-drain inject: -f /dev/zero: longer than 67108864 bytes\n');
  });
});

describe('ws-drain plan', { timeout: SUBPROCESS_TIMEOUT_MS }, () => {
  it('explains the plan as text and as JSON', async () => {
    const text = await wsDrain(['plan', '--session-p95', '5m']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('429');
    const json = await wsDrain(['plan', '--session-p95', '5m', '--prestop-delay', '10s', '--cleanup', '5s', '--grace-margin', '50%', '--json']);
    expect(json.code).toBe(0);
    // ceil((10 + 300 + 5) * 1.5) = 473
    expect(JSON.parse(json.stdout)).toMatchObject({ prestopDelaySeconds: 10, sessionP95Seconds: 300, cleanupSeconds: 5, margin: 0.5, requiredGraceSeconds: 473 });
  });

  it('exits 2 naming the flag for a bad duration, and 1 when the plan exceeds --max-grace', async () => {
    const bad = await wsDrain(['plan', '--session-p95', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--session-p95');
    expect(bad.stderr).toContain('soon');
    const tooLong = await wsDrain(['plan', '--session-p95', '2h', '--max-grace', '1h']);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toMatch(/3600|1h/);
  });

  it('takes config from the environment, flags winning', async () => {
    const fromEnv = await wsDrain(['plan', '--json'], undefined, { WS_DRAIN_DEFAULT_SESSION_P95: '1m' });
    expect(JSON.parse(fromEnv.stdout).sessionP95Seconds).toBe(60);
    const flagWins = await wsDrain(['plan', '--json', '--default-session-p95', '2m'], undefined, { WS_DRAIN_DEFAULT_SESSION_P95: '1m' });
    expect(JSON.parse(flagWins.stdout).sessionP95Seconds).toBe(120);
    const badEnv = await wsDrain(['plan'], undefined, { WS_DRAIN_DEFAULT_MARGIN: 'lots' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('--default-margin');
  });
});

describe('ws-drain certs', { timeout: SUBPROCESS_TIMEOUT_MS }, () => {
  it('writes a CA and a serving certificate that verifies against it, keys 0600', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ws-drain-certs-'));
    try {
      const r = await wsDrain(['certs', '--out', out, '--hosts', 'localhost,ws-drain.ws-drain-system.svc,10.0.0.7']);
      expect(r.code).toBe(0);
      const ca = new X509Certificate(await readFile(join(out, 'ca.crt')));
      const leaf = new X509Certificate(await readFile(join(out, 'tls.crt')));
      expect(ca.ca).toBe(true);
      expect(leaf.ca).toBe(false);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(leaf.checkIP('10.0.0.7')).toBe('10.0.0.7');
      expect(leaf.checkHost('ws-drain.ws-drain-system.svc')).toBe('ws-drain.ws-drain-system.svc');
      expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      for (const key of ['ca.key', 'tls.key']) expect((await stat(join(out, key))).mode & 0o777).toBe(0o600);
      const bad = await wsDrain(['certs', '--out', out, '--hosts', 'not a host!']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--hosts');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('exits 1 with the cause for a directory it cannot create (it used to spin forever on /proc/nope)', async () => {
    const r = await wsDrain(['certs', '--out', '/proc/nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ws-drain certs: cannot write certificates to /proc/nope: cannot create directory /proc/nope: /proc does not allow new directories\n');
  });
});

describe('ws-drain', { timeout: SUBPROCESS_TIMEOUT_MS }, () => {
  it('prints usage and exits 2 for an unknown command, 0 for --help; prints the version', async () => {
    const unknown = await wsDrain(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"[\s\S]*Usage: ws-drain COMMAND/);
    for (const cmd of ['serve', 'inject', 'plan', 'certs']) {
      const help = await wsDrain([cmd, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: ws-drain ${cmd}`);
    }
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['version', '--version']) {
      const version = await wsDrain([flag]);
      expect(version.code).toBe(0);
      expect(version.stdout.trim()).toBe(`ws-drain ${pkg.version}`);
    }
  });

  it('serve: answers over TLS, takes config from env, and on SIGTERM shuts down and exits 0', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ws-drain-serve-'));
    try {
      expect((await wsDrain(['certs', '--out', out])).code).toBe(0);
      const ca = await readFile(join(out, 'ca.crt'), 'utf8');
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0', '--metrics-port', '0', '--tls-cert', join(out, 'tls.crt'), '--tls-key', join(out, 'tls.key')], { cwd: ROOT, env: { ...process.env, WS_DRAIN_MAX_GRACE: '2h', WS_DRAIN_NAMESPACE_SOURCE: 'none' } });
      const lines: Array<Record<string, unknown>> = [];
      let buffered = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          buffered += c.toString();
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
            buffered = buffered.slice(nl + 1);
            lines.push(line);
            if (line['msg'] === 'ws-drain webhook listening') resolve(line);
          }
        });
        child.on('close', (code) => reject(new Error(`serve exited early with ${code}`)));
      });
      const started = await listening;
      expect((started['config'] as Json).maxGraceSeconds).toBe(7200);
      const port = started['port'] as number;
      const get = (path: string) =>
        new Promise<number>((resolve, reject) => {
          httpsRequest({ host: '127.0.0.1', port, path, ca, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
            .on('error', reject)
            .end();
        });
      expect(await get('/readyz')).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines.map((l) => l['msg'])).toEqual(expect.arrayContaining(['signal received', 'shutdown complete']));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('serve: exits 2 naming the flag for bad values', async () => {
    const badPort = await wsDrain(['serve', '--port', '70000']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port');
    const badGrace = await wsDrain(['serve', '--max-grace=-1m']);
    expect(badGrace.code).toBe(2);
    expect(badGrace.stderr).toMatch(/--max-grace.*duration/);
    const badLevel = await wsDrain(['serve', '--log-level', 'loud']);
    expect(badLevel.code).toBe(2);
    const missingCert = await wsDrain(['serve', '--tls-cert', '/nonexistent/tls.crt', '--tls-key', '/nonexistent/tls.key']);
    expect(missingCert.code).toBe(2);
    expect(missingCert.stderr).toContain('/nonexistent/tls.crt');
    const badSource = await wsDrain(['serve', '--namespace-source', 'etcd']);
    expect(badSource.code).toBe(2);
    expect(badSource.stderr).toContain('--namespace-source="etcd": expected cluster or none');
    const badCache = await wsDrain(['serve', '--answer-cache-size', '10001']);
    expect(badCache.code).toBe(2);
    expect(badCache.stderr).toContain('--answer-cache-size="10001": expected a whole number 0-10000');
    const badCacheEnv = await wsDrain(['serve'], undefined, { WS_DRAIN_ANSWER_CACHE_SIZE: '-1' });
    expect(badCacheEnv.code).toBe(2);
    expect(badCacheEnv.stderr).toContain('--answer-cache-size="-1"');
  });
});
