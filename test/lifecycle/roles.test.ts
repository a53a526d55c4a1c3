// Issue 9 on real processes: the argv comes from the webhook's decide() for a
// pod of the shape under test, the real helper runs inside the pod's
// namespaces, the example WebSocket server is the app, real clients connect.
//  1. an app plus a metrics port scraped over keep-alive: the drain ends when
//     the sessions are closed, not at the budget (and, as control, the same
//     pod with the metrics port listed in ws-drain/ports waits the budget);
//     the app listens on the pod IP only, so drain-http must find it there;
//  2. a proxy container in front of the app (own PID namespace, same network
//     namespace, like a sidecar): never signalled, stays up until the app's
//     sessions are closed;
//  3. an app whose own preStop is its drain: it runs at D as the trigger;
//  4. shareProcessNamespace: a helper in another container (own mount
//     namespace, the pod's PID namespace) sees the app's listener but does
//     not signal it.
// Counts, codes and orderings are asserted; durations are printed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { decide } from '../../src/core/decide.js';
import type { Plan } from '../../src/core/types.js';
import { exampleServerBundle, removeExampleServerBundle } from './harness/app-bundle.js';
import { installHelper, removeInstalledHelper } from './harness/helper-binary.js';
import { PodSandbox } from './harness/pod-sandbox.js';

const NODE = process.execPath;
const PATH_ENV = `${path.dirname(NODE)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
const CLIENTS = 10;
type Json = Record<string, unknown>;

let helper: string;
beforeAll(() => {
  helper = installHelper();
});
afterAll(() => {
  if (helper) removeInstalledHelper(helper);
  removeExampleServerBundle();
});

/** The preStop argv the webhook writes for `container`, pointed at the installed helper. */
function injected(annotations: Record<string, string>, containers: Json[], container: string): { argv: string[]; plan: Plan } {
  const d = decide({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations }, spec: { containers } }, 'default', DEFAULT_CONFIG);
  if (d.kind !== 'mutate') throw new Error(`not mutated: ${JSON.stringify(d)}`);
  const c = (d.pod as { spec: { containers: Json[] } }).spec.containers.find((x) => x['name'] === container);
  const argv = (((c?.['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as Json | undefined)?.['command'] as string[] | undefined;
  if (!argv) throw new Error(`${container}: no preStop exec`);
  return { argv: [helper, ...argv.slice(1)], plan: d.plan };
}

async function startServer(pod: PodSandbox, extra: string[]): Promise<void> {
  await pod.startApp([NODE, exampleServerBundle(), '--port', '8080', '--name', 'app', '--stagger', '1500ms', ...extra], {
    cwd: '/',
    env: { PATH: PATH_ENV },
    readyEvent: 'listening',
  });
}

interface Clients {
  closes: Array<{ code: number; t: number }>;
}
async function connect(url: string, n: number): Promise<Clients> {
  const out: Clients = { closes: [] };
  await Promise.all(
    Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.on('close', (code) => out.closes.push({ code, t: Date.now() }));
    })),
  );
  return out;
}

/** Prometheus stand-in: GET /metrics every 300 ms over one keep-alive connection. */
class Scraper {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly sockets = new Set<unknown>();
  scrapes = 0;
  lastOkAt = 0;
  private timer?: NodeJS.Timeout;
  constructor(private readonly url: string) {}
  start(): void {
    const scrape = (): void => {
      const req = http.get(this.url, { agent: this.agent }, (res) => {
        this.sockets.add(res.socket);
        res.resume();
        res.on('end', () => {
          this.scrapes++;
          this.lastOkAt = Date.now();
        });
      });
      req.on('error', () => undefined);
    };
    scrape();
    this.timer = setInterval(scrape, 300);
  }
  stop(): void {
    clearInterval(this.timer);
    this.agent.destroy();
  }
}

function runHelperIn(pod: PodSandbox, argv: string[]): Promise<{ code: number | null; t: number }> {
  return pod.exec(argv, { cwd: '/', env: { PATH: PATH_ENV } }).done;
}

const helperLines = (pod: PodSandbox, container: string): Json[] =>
  pod.jsonLogs().filter((l) => l['component'] === 'ws-drain-helper' && l['container'] === container);
const exitLine = (lines: Json[]): Json | undefined => lines.find((l) => l['phase'] === 'exit');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const METRICS_SERVER =
  "const s=require('http').createServer((q,r)=>r.end('up 1\\n'));s.keepAliveTimeout=600000;s.listen(9464,'0.0.0.0')";

describe('a metrics port scraped over keep-alive', () => {
  const containers = [{ name: 'app', image: 'ghcr.io/example/chat:1', ports: [{ name: 'ws', containerPort: 8080 }, { name: 'metrics', containerPort: 9464 }] }];

  async function scenario(annotations: Record<string, string>) {
    const pod = PodSandbox.create('metrics');
    const scraper = new Scraper(`http://${pod.podIp}:9464/metrics`);
    try {
      // The app listens on the pod IP only: 127.0.0.1 would get no answer.
      await startServer(pod, ['--host', pod.podIp]);
      pod.exec([NODE, '-e', METRICS_SERVER], { cwd: '/', env: { PATH: PATH_ENV } });
      scraper.start();
      await until('the first scrape', () => scraper.scrapes > 0);
      const clients = await connect(`ws://${pod.podIp}:8080`, CLIENTS);
      const { argv, plan } = injected(annotations, containers, 'app');
      const startedAt = Date.now();
      const done = await runHelperIn(pod, argv);
      await sleep(700); // two more scrape intervals: the scrape connection outlives the drain
      const lines = helperLines(pod, 'app');
      const result = { done, startedAt, lines, plan, clients, scrapes: scraper.scrapes, scrapeSockets: scraper.sockets.size, scrapedAfterHelper: scraper.lastOkAt >= done.t, appLogs: pod.jsonLogs() };
      return result;
    } finally {
      scraper.stop();
      await pod.destroy();
    }
  }

  it('the drain ends when the sessions are closed; the scrape connection is left out, and drain-http reaches the pod-IP listener', async () => {
    const r = await scenario({ 'ws-drain/session-p95': '30s', 'ws-drain/prestop-delay': '1s', 'ws-drain/cleanup': '2s', 'ws-drain/drain-http': 'POST :8080/drain' });
    const lastClose = Math.max(...r.clients.closes.map((c) => c.t));
    console.log(
      `metrics port left out: helper ${r.done.t - r.startedAt} ms (D=1s, S=30s); helper exit - last session close = ${r.done.t - lastClose} ms ` +
        `(poll interval 200 ms); scrapes=${r.scrapes} over ${r.scrapeSockets} connection(s)`,
    );
    expect(r.plan.portsLeftOut).toEqual([{ container: 'app', port: 9464, why: 'name metrics' }]);
    expect(r.done.code).toBe(0);
    expect(r.appLogs.filter((l) => l['event'] === 'drain-start').map((l) => l['source'])).toEqual(['http']);
    expect(r.lines.find((l) => l['msg'] === 'drain-url called')?.['drain_url']).toMatch(/^http:\/\/10\.213\./);
    expect(exitLine(r.lines)).toMatchObject({ drained: true, left: 0 });
    expect(r.clients.closes.map((c) => c.code)).toEqual(Array(CLIENTS).fill(1001));
    // The scraper kept one connection open through the whole drain, and was still served after it.
    expect(r.scrapeSockets).toBe(1);
    expect(r.scrapedAfterHelper).toBe(true);
    // It ended with the sessions, long before the budget.
    expect(r.done.t).toBeLessThan(r.startedAt + 30_000);
  });

  it('control: with the metrics port listed in ws-drain/ports the same scrape holds the drain for the whole budget', async () => {
    const r = await scenario({ 'ws-drain/session-p95': '4s', 'ws-drain/prestop-delay': '1s', 'ws-drain/cleanup': '2s', 'ws-drain/drain-http': 'POST :8080/drain', 'ws-drain/ports': 'ws,metrics' });
    console.log(`metrics port watched: helper ${r.done.t - r.startedAt} ms (D=1s, S=4s), exit ${JSON.stringify(exitLine(r.lines))}`);
    expect(exitLine(r.lines)).toMatchObject({ drained: false, left: 1 });
    expect(r.clients.closes.map((c) => c.code)).toEqual(Array(CLIENTS).fill(1001));
  });
});

// A TCP proxy in front of the app, in its own PID namespace and the pod's
// network namespace (a sidecar container), logging every signal it receives.
const PROXY =
  "const net=require('net');const log=(e,x)=>console.log(JSON.stringify({app:'proxy',event:e,t:Date.now(),...x}));" +
  "for(const s of ['SIGUSR1','SIGUSR2','SIGQUIT','SIGHUP','SIGINT'])process.on(s,()=>log('signal',{signal:s}));" +
  "process.on('SIGTERM',()=>{log('signal',{signal:'SIGTERM'});process.exit(0)});" +
  "net.createServer(c=>{const u=net.connect(8080,'127.0.0.1');c.pipe(u);u.pipe(c);const end=()=>{c.destroy();u.destroy()};" +
  "c.on('error',end);u.on('error',end);c.on('close',end);u.on('close',end)}).listen(8443,'0.0.0.0',()=>log('listening',{}))";

class ProxyContainer {
  readonly lines: Json[] = [];
  private readonly child: ChildProcess;
  pid?: number;
  constructor(netns: string) {
    this.child = spawn('ip', ['netns', 'exec', netns, 'unshare', '--pid', '--fork', '--mount-proc', '--', NODE, '-e', PROXY], { stdio: ['ignore', 'pipe', 'inherit'] });
    if (this.child.stdout) {
      createInterface({ input: this.child.stdout }).on('line', (text) => {
        try {
          this.lines.push(JSON.parse(text) as Json);
        } catch {
          // not a log line
        }
      });
    }
  }
  async ready(): Promise<void> {
    await until('the proxy to listen', () => this.lines.some((l) => l['event'] === 'listening'));
    const text = spawnSync('cat', [`/proc/${this.child.pid}/task/${this.child.pid}/children`], { encoding: 'utf8' }).stdout.trim();
    this.pid = Number(text.split(/\s+/)[0]);
  }
  /** Like a container exec hook: the proxy container's namespaces, its own logs on stderr. */
  runHelper(argv: string[]): Promise<{ code: number | null; t: number; lines: Json[] }> {
    const lines: Json[] = [];
    const child = spawn('nsenter', ['--target', String(this.pid), '--net', '--pid', '--mount', '--', ...argv], { env: { PATH: PATH_ENV, WS_DRAIN_LOG: 'stderr' }, stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.stderr) createInterface({ input: child.stderr }).on('line', (t) => { try { lines.push(JSON.parse(t) as Json); } catch { /* plain */ } });
    return new Promise((resolve) => child.once('exit', (code) => setTimeout(() => resolve({ code, t: Date.now(), lines }), 50)));
  }
  signal(sig: NodeJS.Signals): void {
    if (this.pid) process.kill(this.pid, sig);
  }
  kill(): void {
    try {
      if (this.pid) process.kill(this.pid, 'SIGKILL');
    } catch {
      // gone
    }
    this.child.kill('SIGKILL');
  }
}

describe('a proxy container in front of the app', () => {
  it('the app gets the drain signal, the proxy is never signalled and stays up until the sessions are closed', async () => {
    const annotations = { 'ws-drain/session-p95': '30s', 'ws-drain/prestop-delay': '1s', 'ws-drain/cleanup': '2s', 'ws-drain/drain-signal': 'SIGUSR2' };
    const containers = [
      { name: 'tls', image: 'nginx:1.27-alpine', ports: [{ name: 'https', containerPort: 8443 }] },
      { name: 'app', image: 'ghcr.io/example/chat:1', ports: [{ name: 'ws', containerPort: 8080 }] },
    ];
    const app = injected(annotations, containers, 'app');
    const proxy = injected(annotations, containers, 'tls');
    expect(proxy.argv).toContain('--role=proxy');

    const pod = PodSandbox.create('proxy');
    const side = new ProxyContainer(pod.netns);
    try {
      await startServer(pod, ['--host', '127.0.0.1', '--drain-signal', 'SIGUSR2']);
      await side.ready();
      const clients = await connect(`ws://${pod.podIp}:8443`, CLIENTS);

      // kubelet: both preStops at once; each container gets SIGTERM when its own preStop returns.
      const startedAt = Date.now();
      const [appDone, proxyDone] = await Promise.all([
        runHelperIn(pod, app.argv).then((d) => {
          pod.signalApp('SIGTERM');
          return d;
        }),
        side.runHelper(proxy.argv).then((d) => {
          side.signal('SIGTERM');
          return d;
        }),
      ]);
      await sleep(200);
      const lastClose = Math.max(...clients.closes.map((c) => c.t));
      const proxySigterm = side.lines.find((l) => l['event'] === 'signal' && l['signal'] === 'SIGTERM')?.['t'] as number;
      console.log(
        `proxy in front: app preStop ${appDone.t - startedAt} ms, proxy preStop ${proxyDone.t - startedAt} ms, ` +
          `proxy SIGTERM - last session close = ${proxySigterm - lastClose} ms`,
      );

      expect(pod.jsonLogs().filter((l) => l['event'] === 'drain-start').map((l) => l['source'])).toEqual(['SIGUSR2']);
      expect(side.lines.filter((l) => l['event'] === 'signal').map((l) => l['signal'])).toEqual(['SIGTERM']);
      expect(exitLine(proxyDone.lines)).toMatchObject({ drained: true, left: 0 });
      expect(proxyDone.lines.some((l) => String(l['msg']).startsWith('proxy container: not signalled'))).toBe(true);
      expect(clients.closes.map((c) => c.code)).toEqual(Array(CLIENTS).fill(1001));
      // Every session was closed (with 1001, through the proxy) before the proxy was told to stop.
      expect(proxySigterm).toBeGreaterThanOrEqual(lastClose);
    } finally {
      side.kill();
      await pod.destroy();
    }
  });
});

describe('an app whose own preStop is its drain', () => {
  const containers = (preStop: Json) => [{ name: 'app', image: 'ghcr.io/example/chat:1', ports: [{ name: 'ws', containerPort: 8080 }], lifecycle: { preStop } }];
  const hook = { exec: { command: ['sh', '-c', 'kill -USR2 1'] } };

  async function scenario(annotations: Record<string, string>) {
    const pod = PodSandbox.create('hook');
    try {
      await startServer(pod, ['--host', '0.0.0.0', '--drain-signal', 'SIGUSR2']);
      const clients = await connect(`ws://${pod.podIp}:8080`, CLIENTS);
      const { argv } = injected(annotations, containers(hook), 'app');
      const startedAt = Date.now();
      const done = await runHelperIn(pod, argv);
      await sleep(100);
      return { argv, done, startedAt, clients, lines: helperLines(pod, 'app'), drainSources: pod.jsonLogs().filter((l) => l['event'] === 'drain-start').map((l) => l['source']) };
    } finally {
      await pod.destroy();
    }
  }

  it('existing-hook: drain runs it at D while the helper watches; the drain ends with the sessions', async () => {
    const r = await scenario({ 'ws-drain/session-p95': '30s', 'ws-drain/prestop-delay': '1s', 'ws-drain/cleanup': '2s', 'ws-drain/existing-hook': 'drain' });
    console.log(`hook as trigger: helper ${r.done.t - r.startedAt} ms (D=1s, S=30s)`);
    expect(r.argv).toContain('--hook-at=drain');
    const started = r.lines.findIndex((l) => String(l['msg']).includes('own preStop as the drain trigger'));
    const closed = r.lines.findIndex((l) => l['msg'] === 'all watched connections closed');
    expect(started).toBeGreaterThanOrEqual(0);
    expect(closed).toBeGreaterThan(started);
    expect(exitLine(r.lines)).toMatchObject({ drained: true, left: 0, hook_exit_code: 0 });
    expect(r.drainSources).toEqual(['SIGUSR2']);
    expect(r.clients.closes.map((c) => c.code)).toEqual(Array(CLIENTS).fill(1001));
  });

  it('control: run after the drain (existing-hook: after), the same hook starts the drain only when the budget is gone', async () => {
    const r = await scenario({ 'ws-drain/session-p95': '3s', 'ws-drain/prestop-delay': '1s', 'ws-drain/cleanup': '2s', 'ws-drain/existing-hook': 'after' });
    expect(r.argv).not.toContain('--hook-at=drain');
    expect(exitLine(r.lines)).toMatchObject({ drained: false, left: CLIENTS });
    const budgetOver = r.lines.findIndex((l) => l['msg'] === 'drain budget elapsed with connections still open');
    const hookRan = r.lines.findIndex((l) => l['msg'] === 'running the original exec preStop');
    expect(hookRan).toBeGreaterThan(budgetOver);
  });
});

describe('shareProcessNamespace: the listener belongs to another container', () => {
  it("a helper in the sidecar's mount namespace sees the app's listener and does not signal it", async () => {
    const pod = PodSandbox.create('shared-pid');
    try {
      await startServer(pod, ['--host', '0.0.0.0', '--drain-signal', 'SIGUSR2']);
      const clients = await connect(`ws://${pod.podIp}:8080`, 2);
      // The pod's network and PID namespaces, a mount namespace of its own with
      // that PID namespace's /proc: another container of a shareProcessNamespace pod.
      const argv = [helper, 'prestop', '--container=sidecar', '--delay=0s', '--budget=1s', '--ports=8080', '--signal=SIGUSR2'];
      const child = spawn('nsenter', ['--target', String(pod.appPid), '--net', '--pid', '--', 'unshare', '--mount', '--mount-proc', '--', ...argv], {
        env: { PATH: PATH_ENV, WS_DRAIN_LOG: 'stderr' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const lines: Json[] = [];
      if (child.stderr) createInterface({ input: child.stderr }).on('line', (t) => { try { lines.push(JSON.parse(t) as Json); } catch { /* plain */ } });
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => setTimeout(() => resolve(c), 50)));
      await sleep(300);
      const trigger = lines.find((l) => l['phase'] === 'trigger');
      expect(code).toBe(0);
      expect(trigger?.['msg']).toBe('no process signalled');
      expect(String(trigger?.['reason'])).toContain('it is in another container of the pod: 1');
      expect(pod.jsonLogs().some((l) => l['event'] === 'drain-start')).toBe(false);
      expect(clients.closes).toEqual([]);
      // The same helper in the app's own container signals it.
      const own = await runHelperIn(pod, argv.map((a) => (a === '--container=sidecar' ? '--container=app' : a)));
      expect(own.code).toBe(0);
      await until('the app to start draining', () => pod.jsonLogs().some((l) => l['event'] === 'drain-start'));
      expect(pod.jsonLogs().filter((l) => l['event'] === 'drain-start').map((l) => l['source'])).toEqual(['SIGUSR2']);
    } finally {
      await pod.destroy();
    }
  });
});
