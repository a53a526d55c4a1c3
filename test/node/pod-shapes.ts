// Issue 9's pod shapes on the real node: the same scenarios as
// test/lifecycle/roles.test.ts, but the pods are admitted by the installed
// webhook, the kubelet runs the injected preStops (in parallel, one per
// container) and sends SIGTERM when each returns, and the processes are the
// example image's programs in containerd's containers:
//  - an app with a WebSocket port and a metrics port that a scraper holds a
//    keep-alive connection to: left out by default, the drain ends with the
//    last session; listed in ws-drain/ports (contrast), the scrape holds it;
//  - a proxy sidecar (a TCP proxy in a container named istio-proxy, and in one
//    named edge that only ws-drain/proxies marks) in front of the app: only the
//    app gets the drain signal, the proxy forwards until the sessions are
//    closed and then gets only the kubelet's SIGTERM;
//  - an app whose own preStop is its drain (an httpGet /drain recognised by the
//    default existing-hook: auto, to a server listening on the pod IP only, and
//    an exec hook with existing-hook: drain):
//    the hook runs at D as the trigger, then the helper waits for the sessions.
// Bare pods (no Service, no ReplicaSet): clients connect to the pod IP, the
// scraper is a keep-alive HTTP client in this process. Outcomes and orderings
// are asserted from `kubectl logs` of each container (the helper's JSON lines
// share the container's stdout with the app's); times are printed only.
import http from 'node:http';
import type { Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Plan } from '../../src/core/types.js';
import type { RealNode } from './node.js';
import { applyObjects, KubectlStream, waitFor } from './workload.js';

type Obj = Record<string, any>;
type Json = Record<string, unknown>;

const NS = 'default';
const SESSIONS = 10;
/** D and C short, S long: drained:true can only mean "ended with the sessions", not "budget over". */
const TIMES = { 'ws-drain/prestop-delay': '1s', 'ws-drain/cleanup': '2s', 'ws-drain/session-p95': '60s' } as const;

const SECURITY = {
  runAsNonRoot: true,
  runAsUser: 65532,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The example server (the image's entrypoint) as the container `app`. */
function app(pod: string, args: string[], more: Obj = {}): Obj {
  return {
    name: 'app',
    args: ['--port', '8080', '--name', pod, '--stagger', '2s', '--drain-signal', 'SIGUSR2', ...args],
    ports: [{ name: 'ws', containerPort: 8080 }],
    ...more,
  };
}

function pod(image: string, name: string, annotations: Record<string, string>, containers: Obj[]): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { 'ws-drain-shape': name }, annotations },
    spec: {
      terminationGracePeriodSeconds: 30,
      containers: containers.map((c) => ({ image, securityContext: SECURITY, resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '96Mi' } }, ...c })),
    },
  };
}

/** The app on loopback only, behind a TCP proxy on 8443: every session comes through the proxy. */
function proxied(image: string, name: string, proxy: string, annotations: Record<string, string>): Obj {
  return pod(image, name, { ...TIMES, 'ws-drain/drain-signal': 'SIGUSR2', ...annotations }, [
    app(name, ['--host', '127.0.0.1']),
    {
      name: proxy,
      command: ['/nodejs/bin/node', '/app/tcp-proxy.cjs'],
      args: ['--listen', '8443', '--to', '127.0.0.1:8080', '--name', proxy],
      // A classic (non-native) Istio injection's shape: it declares Envoy's metrics port too.
      ports: [{ name: 'tls', containerPort: 8443 }, { name: 'http-envoy-prom', containerPort: 15090 }],
    },
  ]);
}

/** Every shape, keyed by pod name. */
function shapes(image: string): Obj[] {
  const metricsApp = (name: string): Obj =>
    app(name, ['--metrics-port', '9464'], { ports: [{ name: 'ws', containerPort: 8080 }, { name: 'metrics', containerPort: 9464 }] });
  return [
    pod(image, 'shape-metrics', { ...TIMES, 'ws-drain/drain-signal': 'SIGUSR2' }, [metricsApp('shape-metrics')]),
    // The contrast: the metrics port listed, and a budget short enough to wait out.
    pod(image, 'shape-metrics-watched', { ...TIMES, 'ws-drain/session-p95': '8s', 'ws-drain/drain-signal': 'SIGUSR2', 'ws-drain/ports': 'ws,metrics' }, [metricsApp('shape-metrics-watched')]),
    proxied(image, 'shape-proxied', 'istio-proxy', {}),
    // The same proxy under a name and image no built-in list knows, named in ws-drain/proxies.
    proxied(image, 'shape-proxied-named', 'edge', { 'ws-drain/proxies': 'edge' }),
    // GET /drain as the pod's own preStop: recognised by the default existing-hook (auto). The
    // server listens on the pod IP only, where kubelet would call a hook without a host.
    pod(image, 'shape-hook-http', { ...TIMES }, [
      app('shape-hook-http', ['--host', '$(POD_IP)'], {
        env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
        lifecycle: { preStop: { httpGet: { path: '/drain', port: 'ws' } } },
      }),
    ]),
    // An exec hook that tells the server to drain (not a command ws-drain knows): existing-hook: drain.
    pod(image, 'shape-hook-exec', { ...TIMES, 'ws-drain/existing-hook': 'drain' }, [
      app('shape-hook-exec', [], { lifecycle: { preStop: { exec: { command: ['/nodejs/bin/node', '-e', "process.kill(1, 'SIGUSR2')"] } } } }),
    ]),
  ];
}

interface Clients {
  closes: Array<{ code: number; t: number }>;
}

/** One WebSocket session; retried until the listener (behind the proxy, too) answers. */
async function openSession(url: string, out: Clients): Promise<void> {
  await waitFor(`a WebSocket session at ${url}`, () =>
    new Promise<boolean>((resolve) => {
      const ws = new WebSocket(url, { handshakeTimeout: 5_000 });
      ws.once('open', () => {
        ws.on('close', (code) => out.closes.push({ code, t: Date.now() }));
        resolve(true);
      });
      // Before open: not there yet, try again; after: the close event reports it.
      ws.on('error', () => resolve(false));
      // The server's going-away notice: answer it, as the fleet's clients do.
      ws.on('message', (data) => {
        if (String(data).includes('"goaway"')) ws.send(JSON.stringify({ goaway: 'ok' }));
      });
    }), 60_000);
}

async function openSessions(url: string, n: number): Promise<Clients> {
  const out: Clients = { closes: [] };
  for (let i = 0; i < n; i++) await openSession(url, out);
  return out;
}

/** Prometheus stand-in: GET /metrics every 500 ms over one keep-alive connection. */
class Scraper {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private timer?: NodeJS.Timeout;
  readonly okAt: number[] = [];
  /** Every connection that was established, with when it opened and closed. */
  readonly connections: Array<{ openedAt: number; closedAt?: number }> = [];

  constructor(private readonly url: string) {}

  start(): void {
    const known = new Set<Socket>();
    const scrape = (): void => {
      const req = http.get(this.url, { agent: this.agent }, (res) => {
        res.resume();
        res.on('end', () => this.okAt.push(Date.now()));
      });
      req.on('socket', (s: Socket) => {
        if (known.has(s)) return;
        known.add(s);
        s.once('connect', () => {
          const c: { openedAt: number; closedAt?: number } = { openedAt: Date.now() };
          this.connections.push(c);
          s.once('close', () => (c.closedAt = Date.now()));
        });
      });
      // Refused once the pod is gone: expected, not counted.
      req.on('error', () => undefined);
    };
    scrape();
    this.timer = setInterval(scrape, 500);
  }

  /** Connections established before `t`. */
  openedBefore(t: number): Array<{ openedAt: number; closedAt?: number }> {
    return this.connections.filter((c) => c.openedAt < t);
  }

  stop(): void {
    clearInterval(this.timer);
    this.agent.destroy();
  }
}

/** The plan's container roles, with the ports a compact annotation lists once for all (plan.ts planAnnotation). */
function rolesOf(plan: Plan & { ports?: number[] }): Array<{ name: string; role: string; ports: number[]; why: string }> {
  return plan.containers.map((c) => ({ name: c.name, role: c.role, ports: c.ports ?? plan.ports ?? [], why: c.why }));
}

interface Terminated {
  /** The pod as admitted (spec with the injected preStops, the plan annotation). */
  pod: Obj;
  plan: Plan & { ports?: number[] };
  /** JSON lines of each container's `kubectl logs -f`, followed until it exited. */
  logs: Map<string, Json[]>;
  deletedAt: number;
  goneAt: number;
}

const ms = (line: Json | undefined): number => Date.parse(String(line?.['ts'] ?? line?.['time'] ?? ''));

async function getPod(node: RealNode, name: string): Promise<Obj> {
  return JSON.parse(await node.kubectl(['-n', NS, 'get', 'pod', name, '-o', 'json'])) as Obj;
}

/** `kubectl delete pod`, following every container's logs, until the pod is gone. */
async function terminate(node: RealNode, name: string): Promise<Terminated> {
  const pod = await getPod(node, name);
  const containers = (pod.spec.containers as Obj[]).map((c) => String(c.name));
  const streams = new Map(containers.map((c) => [c, new KubectlStream(node, ['-n', NS, 'logs', '-f', name, '-c', c])]));
  // Following from before the delete: `logs -f` prints the log so far, then every line until the container exits.
  await waitFor(`kubectl logs -f ${name}`, async () => [...streams.values()].every((s) => s.output.includes('"listening"')), 30_000);
  const deletedAt = Date.now();
  await node.kubectl(['-n', NS, 'delete', 'pod', name, '--wait=true', '--timeout=200s'], { timeoutMs: 210_000 });
  const goneAt = Date.now();
  const logs = new Map<string, Json[]>();
  for (const [c, stream] of streams) {
    await Promise.race([stream.done, new Promise((r) => setTimeout(r, 5_000))]);
    await stream.stop();
    logs.set(c, stream.jsonLines());
  }
  const plan = JSON.parse(String(pod.metadata.annotations['ws-drain/plan'])) as Plan;
  return { pod, plan, logs, deletedAt, goneAt };
}

const helperLines = (lines: Json[]): Json[] => lines.filter((l) => l['component'] === 'ws-drain-helper');
const exitOf = (lines: Json[]): Json | undefined => helperLines(lines).find((l) => l['phase'] === 'exit');
const drainStarts = (lines: Json[]): unknown[] => lines.filter((l) => l['app'] === 'ws-server' && l['event'] === 'drain-start').map((l) => l['source']);
const preStopOf = (pod: Obj, container: string): string[] =>
  ((pod.spec.containers as Obj[]).find((c) => c.name === container)?.lifecycle?.preStop?.exec?.command as string[] | undefined) ?? [];
const codes = (c: Clients): number[] => c.closes.map((x) => x.code);
const lastClose = (c: Clients): number => Math.max(...c.closes.map((x) => x.t));

/**
 * Registers the shape tests in the calling suite (drain.test.ts), so they run
 * on its node and install: one cluster start for the whole real-node suite.
 */
export function podShapeTests(node: () => RealNode): void {
  describe('issue 9 pod shapes (bare pods, clients to the pod IP)', () => {
    const ips = new Map<string, string>();

    beforeAll(async () => {
      const n = node();
      const objects = shapes(n.images.wsEcho);
      await applyObjects(n, objects);
      for (const o of objects) {
        const name = String(o.metadata.name);
        await n.kubectl(['-n', NS, 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=180s'], { timeoutMs: 190_000 });
        ips.set(name, String((await getPod(n, name)).status.podIP));
      }
    });

    it('metrics port scraped over keep-alive: left out by default, the drain ends with the last session; listed in ws-drain/ports, the scrape holds the drain for the budget', async () => {
      const run = async (name: string) => {
        const ip = ips.get(name)!;
        const scraper = new Scraper(`http://${ip}:9464/metrics`);
        scraper.start();
        try {
          await waitFor('the first scrape', async () => scraper.okAt.length > 0, 30_000);
          const clients = await openSessions(`ws://${ip}:8080`, SESSIONS);
          const t = await terminate(node(), name);
          return { t, clients, scraper };
        } finally {
          scraper.stop();
        }
      };
      // Both pods at once: the contrast costs its budget (8 s) once.
      const [byDefault, watched] = await Promise.all([run('shape-metrics'), run('shape-metrics-watched')]);

      // Left out by default, and shown in the plan.
      expect(rolesOf(byDefault.t.plan)).toEqual([{ name: 'app', role: 'app', ports: [8080], why: 'serves session ports' }]);
      expect(byDefault.t.plan.portsLeftOut).toEqual([{ container: 'app', port: 9464, why: 'name metrics' }]);
      expect(preStopOf(byDefault.t.pod, 'app')).toContain('--ports=8080');
      const lines = byDefault.t.logs.get('app')!;
      expect(drainStarts(lines)).toEqual(['SIGUSR2']);
      expect(codes(byDefault.clients)).toEqual(Array(SESSIONS).fill(1001));
      const exit = exitOf(lines);
      expect(exit).toMatchObject({ drained: true, left: 0 });
      // The scraper kept its one connection through the drain: it was open when the drain ended, and served during it.
      const drainStart = ms(lines.find((l) => l['event'] === 'drain-start'));
      const allClosed = ms(helperLines(lines).find((l) => l['msg'] === 'all watched connections closed'));
      const scrapeConnections = byDefault.scraper.openedBefore(allClosed);
      expect(scrapeConnections).toHaveLength(1);
      expect(scrapeConnections[0]!.closedAt ?? Infinity).toBeGreaterThan(allClosed);
      expect(byDefault.scraper.okAt.some((t) => t > drainStart && t < allClosed)).toBe(true);

      // Listed explicitly: the idle scrape is a watched connection that never closes.
      expect(rolesOf(watched.t.plan)).toEqual([{ name: 'app', role: 'app', ports: [8080, 9464], why: 'serves ws-drain/ports' }]);
      expect(watched.t.plan.portsLeftOut).toBeUndefined();
      const watchedLines = watched.t.logs.get('app')!;
      expect(codes(watched.clients)).toEqual(Array(SESSIONS).fill(1001));
      expect(exitOf(watchedLines)).toMatchObject({ drained: false, left: 1 });
      expect(helperLines(watchedLines).some((l) => l['msg'] === 'drain budget elapsed with connections still open')).toBe(true);

      for (const [label, r] of [['left out', byDefault], ['watched', watched]] as const) {
        const exitLine = exitOf(r.t.logs.get('app')!);
        console.log(
          `[shape-metrics ${label}] helper exit ${JSON.stringify({ drained: exitLine?.['drained'], left: exitLine?.['left'], elapsed: exitLine?.['elapsed'] })}, ` +
            `helper exit - last session close ${((ms(exitLine) - lastClose(r.clients)) / 1000).toFixed(1)}s, pod gone ${((r.t.goneAt - r.t.deletedAt) / 1000).toFixed(1)}s after delete, ` +
            `${r.scraper.okAt.length} scrapes over ${r.scraper.connections.length} connection(s)`,
        );
      }
    });

    it('proxy sidecar running a TCP proxy (istio-proxy, recognised; edge, named in ws-drain/proxies): only the app gets the drain signal; the proxy forwards until the last session closed with 1001, then gets only SIGTERM', async () => {
      const run = async (name: string) => {
        const clients = await openSessions(`ws://${ips.get(name)!}:8443`, SESSIONS);
        return { clients, t: await terminate(node(), name) };
      };
      const both = await Promise.all([
        run('shape-proxied').then((r) => ({ ...r, proxy: 'istio-proxy', why: 'mesh proxy' })),
        run('shape-proxied-named').then((r) => ({ ...r, proxy: 'edge', why: 'ws-drain/proxies' })),
      ]);
      for (const { t, clients, proxy, why } of both) {
        // The annotation lists the shared ports once (plan.ts): read as users would.
        expect(rolesOf(t.plan)).toEqual([
          { name: 'app', role: 'app', ports: [8080], why: 'serves session ports' },
          { name: proxy, role: 'proxy', ports: [8080], why },
        ]);
        // Envoy's metrics port is not a session port, and the proxy is not an app: no signal in its preStop.
        expect(preStopOf(t.pod, 'app')).toContain('--signal=SIGUSR2');
        expect(preStopOf(t.pod, proxy)).toContain('--role=proxy');
        expect(preStopOf(t.pod, proxy).some((a) => a.startsWith('--signal'))).toBe(false);

        const appLines = t.logs.get('app')!;
        const proxyLines = t.logs.get(proxy)!;
        expect(drainStarts(appLines)).toEqual(['SIGUSR2']);
        expect(exitOf(appLines)).toMatchObject({ drained: true, left: 0 });
        // The proxy: one signal, the kubelet's SIGTERM once its own preStop returned, with nothing left to carry.
        const signals = proxyLines.filter((l) => l['app'] === 'tcp-proxy' && l['event'] === 'signal');
        expect(signals.map((l) => [l['signal'], l['connections']])).toEqual([['SIGTERM', 0]]);
        expect(helperLines(proxyLines).some((l) => String(l['msg']).startsWith('proxy container: not signalled'))).toBe(true);
        expect(exitOf(proxyLines)).toMatchObject({ drained: true, left: 0 });
        // Every session closed cleanly through the proxy, all before it was told to stop.
        expect(codes(clients)).toEqual(Array(SESSIONS).fill(1001));
        expect(ms(signals[0])).toBeGreaterThanOrEqual(lastClose(clients));
        console.log(
          `[${String(t.pod.metadata.name)}] app helper ${JSON.stringify(exitOf(appLines)?.['elapsed'])}, ${proxy} helper ${JSON.stringify(exitOf(proxyLines)?.['elapsed'])}; ` +
            `${proxy} SIGTERM ${((ms(signals[0]) - lastClose(clients)) / 1000).toFixed(2)}s after the last session closed`,
        );
      }
    });

    it("own preStop is the drain: httpGet /drain (existing-hook default auto) and an exec hook (existing-hook: drain) run at D as the trigger, then the helper waits for the sessions", async () => {
      const run = async (name: string) => {
        const clients = await openSessions(`ws://${ips.get(name)!}:8080`, SESSIONS);
        return { clients, t: await terminate(node(), name) };
      };
      const [viaHttp, viaExec] = await Promise.all([run('shape-hook-http'), run('shape-hook-exec')]);

      for (const [r, source, hookDone] of [
        [viaHttp, 'http', 'original httpGet preStop finished'],
        [viaExec, 'SIGUSR2', 'original exec preStop finished'],
      ] as const) {
        expect(r.t.plan.hooksAsTrigger).toEqual(['app']);
        expect(r.t.plan.signal).toBeUndefined();
        expect(preStopOf(r.t.pod, 'app')).toContain('--hook-at=drain');
        const lines = r.t.logs.get('app')!;
        // One stream (the helper writes to the app's stdout): line order is the order things happened.
        const at = (pred: (l: Json) => boolean): number => lines.findIndex(pred);
        const hookStarted = at((l) => l['component'] === 'ws-drain-helper' && String(l['msg']).startsWith("running the pod's own preStop as the drain trigger"));
        const serverDrains = at((l) => l['app'] === 'ws-server' && l['event'] === 'drain-start');
        const hookFinished = at((l) => l['msg'] === hookDone);
        const allClosed = at((l) => l['msg'] === 'all watched connections closed');
        const exited = at((l) => l['component'] === 'ws-drain-helper' && l['phase'] === 'exit');
        const sigterm = at((l) => l['app'] === 'ws-server' && l['event'] === 'sigterm');
        expect(hookStarted).toBeGreaterThanOrEqual(0);
        expect(serverDrains).toBeGreaterThan(hookStarted);
        expect(hookFinished).toBeGreaterThan(hookStarted);
        expect(allClosed).toBeGreaterThan(serverDrains);
        expect(exited).toBeGreaterThan(allClosed);
        // The kubelet's SIGTERM comes after the preStop returned, with no session left.
        expect(sigterm).toBeGreaterThan(exited);
        expect(lines[sigterm]?.['sessions']).toBe(0);
        expect(drainStarts(lines)).toEqual([source]);
        expect(lines[exited]).toMatchObject({ drained: true, left: 0 });
        expect(codes(r.clients)).toEqual(Array(SESSIONS).fill(1001));
        console.log(
          `[${String(r.t.pod.metadata.name)}] hook as trigger: drain-start ${source}; helper ${JSON.stringify(lines[exited]?.['elapsed'])} ` +
            `(D=1s, S=60s), pod gone ${((r.t.goneAt - r.t.deletedAt) / 1000).toFixed(1)}s after delete`,
        );
      }
      // The exec hook's exit code is reported; the http hook's status is logged.
      expect(exitOf(viaExec.t.logs.get('app')!)).toMatchObject({ hook_exit_code: 0 });
      // Written as 127.0.0.1 (no host on the hook), called where the listener is: the pod IP.
      const podIp = String(viaHttp.t.pod.status.podIP);
      expect(helperLines(viaHttp.t.logs.get('app')!).find((l) => l['msg'] === 'original httpGet preStop finished')).toMatchObject({ status: 202, url: `http://${podIp}:8080/drain` });
    });
  });
}
