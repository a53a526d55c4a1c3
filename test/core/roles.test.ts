// Which ports are sessions and which role each container gets (src/core/roles.ts),
// through the same decide() the webhook and the CLI call.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { imageName, isFrontProxy, isMeshProxy, NON_SESSION_PORT_WORDS, sessionPorts } from '../../src/core/roles.js';
import { CONFIG, container, mutatedPod, pod, preStopArgv, tcp, type Json } from './pod-builders.js';

const mutate = mutatedPod;
const argvOf = preStopArgv;
const byName = (d: { containers: Json[] }, name: string): Json | undefined => d.containers.find((c) => c['name'] === name);
const roleOf = (d: ReturnType<typeof mutatedPod>, name: string) => d.plan.containers.find((c) => c.name === name);

const S = { 'ws-drain/session-p95': '5m' };

describe('session ports', () => {
  it('Socket.IO with a metrics port: only the app port is watched, the metrics port is named in a warning', () => {
    const d = mutate(pod(S, { containers: [container('chat', { ports: [tcp(3000, 'http'), tcp(9464, 'metrics')] })] }));
    expect(roleOf(d, 'chat')).toEqual({ name: 'chat', role: 'app', ports: [3000], why: 'serves session ports' });
    expect(d.plan.portsLeftOut).toEqual([{ container: 'chat', port: 9464, why: 'name metrics' }]);
    expect(argvOf(byName(d, 'chat'))).toContain('--ports=3000');
    expect(d.warnings).toContain('ws-drain: not watched as sessions: 9464 (name metrics); ws-drain/ports overrides');
  });

  it('the pod\'s prometheus.io/port is left out whatever its name', () => {
    const d = mutate(pod({ ...S, 'prometheus.io/port': '8081' }, { containers: [container('a', { ports: [tcp(8080, 'ws'), tcp(8081, 'web')] })] }));
    expect(roleOf(d, 'a')?.ports).toEqual([8080]);
    expect(d.plan.portsLeftOut).toEqual([{ container: 'a', port: 8081, why: 'prometheus.io/port' }]);
  });

  it.each(['http-metrics', 'admin', 'linkerd-admin', 'debug', 'health', 'http-probe', 'management', 'pprof', 'http-envoy-prom', 'monitor'])('a port named %s is left out', (name) => {
    const s = sessionPorts({ name: 'c', ports: [{ containerPort: 8080, name: 'ws' }, { containerPort: 9000, name }] }, undefined);
    expect(s.ports).toEqual([8080]);
    expect(s.leftOut).toEqual([{ container: 'c', port: 9000, why: `name ${name}` }]);
  });

  it.each(['http', 'ws', 'grpc', 'https', 'websocket', 'metricsx', 'admins'])('a port named %s stays a session port', (name) => {
    expect(sessionPorts({ name: 'c', ports: [{ containerPort: 8080, name }] }, undefined).ports).toEqual([8080]);
  });

  it('a port only probes point at is left out; a probed port that is the only candidate stays', () => {
    const probes = { readinessProbe: { httpGet: { port: 'health-http' } }, livenessProbe: { tcpSocket: { port: 8081 } } };
    const twoPorts = sessionPorts({ name: 'c', ports: [{ containerPort: 8080, name: 'ws' }, { containerPort: 8081, name: 'health-http' }], ...probes }, undefined);
    expect(twoPorts.ports).toEqual([8080]);
    const probedOther = sessionPorts({ name: 'c', ports: [{ containerPort: 8080, name: 'ws' }, { containerPort: 8082, name: 'status' }], readinessProbe: { httpGet: { port: 8082 } } }, undefined);
    expect(probedOther).toEqual({ ports: [8080], leftOut: [{ container: 'c', port: 8082, why: 'probe port' }] });
    const single = sessionPorts({ name: 'c', ports: [{ containerPort: 3000, name: 'http' }], readinessProbe: { httpGet: { port: 3000 } } }, undefined);
    expect(single).toEqual({ ports: [3000], leftOut: [] });
  });

  it('when every port of the pod looks like metrics, all are watched and a warning says why', () => {
    const d = mutate(pod({ ...S, 'prometheus.io/port': '3000' }, { containers: [container('a', { ports: [tcp(3000, 'http')] })] }));
    expect(roleOf(d, 'a')?.ports).toEqual([3000]);
    expect(d.warnings.some((w) => w.includes('every port looks like metrics/admin/probe (3000): all are watched'))).toBe(true);
  });

  it('a container with only a metrics port beside an app is left alone', () => {
    const d = mutate(pod(S, { containers: [container('app', { ports: [tcp(8080)] }), container('exporter', { ports: [tcp(9100, 'metrics')] })] }));
    expect(roleOf(d, 'exporter')).toEqual({ name: 'exporter', role: 'none', ports: [], why: 'only metrics/admin/probe ports' });
    expect(argvOf(byName(d, 'exporter'))).toEqual([]);
  });

  it('a gRPC port beside another session port stays watched, with a warning naming it and ws-drain/ports', () => {
    const d = mutate(pod(S, { containers: [container('centrifugo', { ports: [tcp(8000, 'external'), tcp(10000, 'grpc'), tcp(11000, 'uni-grpc')] })] }));
    expect(roleOf(d, 'centrifugo')?.ports).toEqual([8000, 10000, 11000]);
    expect(d.warnings).toContain(
      'ws-drain: centrifugo: gRPC 10000,11000 watched as sessions; idle channels hold the drain (unary? set ws-drain/ports)',
    );
    // The gRPC service alone, or ws-drain/ports set: nothing to warn about.
    for (const quiet of [
      pod(S, { containers: [container('api', { ports: [tcp(9090, 'grpc')] })] }),
      pod({ ...S, 'ws-drain/ports': '8000,10000' }, { containers: [container('c', { ports: [tcp(8000, 'external'), tcp(10000, 'grpc')] })] }),
    ]) {
      expect(mutate(quiet).warnings.some((w) => w.includes('gRPC'))).toBe(false);
    }
  });

  it('ws-drain/ports overrides the rule: a metrics port listed there is watched', () => {
    const d = mutate(pod({ ...S, 'ws-drain/ports': '3000,metrics' }, { containers: [container('a', { ports: [tcp(3000), tcp(9464, 'metrics')] })] }));
    expect(roleOf(d, 'a')?.ports).toEqual([3000, 9464]);
    expect(d.plan.portsLeftOut).toBeUndefined();
  });
});

describe('container roles', () => {
  const istioClassic = (annotations: Record<string, string>) =>
    pod(annotations, {
      containers: [
        container('app', { ports: [tcp(3000, 'http')] }),
        { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0', ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }] },
      ],
    });

  it('classic Istio: istio-proxy is a proxy waiting on the app ports, never signalled', () => {
    const d = mutate(istioClassic({ ...S, 'ws-drain/drain-signal': 'SIGTERM' }));
    expect(roleOf(d, 'istio-proxy')).toEqual({ name: 'istio-proxy', role: 'proxy', ports: [3000], why: 'mesh proxy' });
    const proxyArgv = argvOf(byName(d, 'istio-proxy'));
    expect(proxyArgv).toContain('--role=proxy');
    expect(proxyArgv).toContain('--ports=3000');
    expect(proxyArgv.some((a) => a.startsWith('--signal'))).toBe(false);
    expect(argvOf(byName(d, 'app'))).toContain('--signal=SIGTERM');
  });

  it('Linkerd: linkerd-proxy (by name or image) is a proxy', () => {
    for (const proxy of [
      { name: 'linkerd-proxy', image: 'cr.l5d.io/linkerd/proxy:stable-2.14.10' },
      { name: 'l5d', image: 'cr.l5d.io/linkerd/proxy:edge-24.1.1' },
    ]) {
      const d = mutate(pod(S, { containers: [container('app', { ports: [tcp(8080)] }), { ...proxy, ports: [tcp(4143, 'linkerd-proxy'), tcp(4191, 'linkerd-admin')] }] }));
      expect(roleOf(d, proxy.name)?.role).toBe('proxy');
    }
  });

  it('nginx in front of a Node app with ports "3000" and SIGQUIT: only the app gets SIGQUIT, nginx waits', () => {
    const input = pod({ ...S, 'ws-drain/ports': '3000', 'ws-drain/drain-signal': 'SIGQUIT' }, {
      containers: [
        { name: 'tls', image: 'nginx:1.27-alpine', ports: [tcp(8443, 'https')] },
        container('node', { ports: [tcp(3000, 'http')] }),
      ],
    });
    const d = mutate(input);
    expect(roleOf(d, 'node')?.role).toBe('app');
    expect(roleOf(d, 'tls')).toMatchObject({ role: 'proxy', ports: [3000] });
    // Recognised by its image: a judgement call, said at admission.
    expect(d.warnings).toContain('ws-drain: tls: taken for a proxy (waits, never signalled); ws-drain/containers makes it the app');
    expect(argvOf(byName(d, 'node'))).toContain('--signal=SIGQUIT');
    expect(argvOf(byName(d, 'tls'))).toEqual([
      '/ws-drain/ws-drain-helper', 'prestop', '--container=tls', '--delay=20s', '--budget=300s', '--ports=3000', '--role=proxy',
    ]);
  });

  it('with ports "3000" only the containers declaring 3000 are apps; a sidecar on another port is left alone', () => {
    const d = mutate(pod({ ...S, 'ws-drain/ports': '3000', 'ws-drain/drain-signal': 'SIGUSR2' }, {
      containers: [container('app', { ports: [tcp(3000)] }), container('redis', { ports: [tcp(6379)] })],
    }));
    expect(d.plan.containers.map((c) => [c.name, c.role])).toEqual([['app', 'app'], ['redis', 'none']]);
    expect(argvOf(byName(d, 'redis'))).toEqual([]);
  });

  it('with ports "3000" declared nowhere: every plain container may serve it, proxies still wait', () => {
    const d = mutate(pod({ ...S, 'ws-drain/ports': '3000' }, {
      containers: [container('a'), container('b'), { name: 'envoy', image: 'envoyproxy/envoy:v1.31.0', ports: [tcp(10000)] }],
    }));
    expect(d.plan.containers.map((c) => [c.name, c.role])).toEqual([['a', 'app'], ['b', 'app'], ['envoy', 'proxy']]);
    expect(d.warnings.some((w) => w.includes('no container declares port 3000'))).toBe(true);
  });

  it('naming a proxy in ws-drain/containers makes it the app (asked for exactly that)', () => {
    const d = mutate(pod({ ...S, 'ws-drain/containers': 'nginx', 'ws-drain/drain-signal': 'SIGQUIT' }, {
      containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [tcp(443)] }, container('app', { ports: [tcp(8080)] })],
    }));
    expect(roleOf(d, 'nginx')?.role).toBe('app');
    expect(argvOf(byName(d, 'nginx'))).toContain('--signal=SIGQUIT');
    expect(roleOf(d, 'app')?.role).toBe('none');
  });

  it('an nginx gateway beside its Prometheus exporter is the app; the exporter is left alone, not signalled', () => {
    const d = mutate(pod({ ...S, 'ws-drain/drain-signal': 'SIGQUIT' }, {
      containers: [
        { name: 'nginx', image: 'nginx:1.27', ports: [tcp(80, 'http')] },
        { name: 'exporter', image: 'nginx/nginx-prometheus-exporter:1.3.0', ports: [tcp(9113, 'metrics')] },
      ],
    }));
    expect(roleOf(d, 'nginx')).toEqual({ name: 'nginx', role: 'app', ports: [80], why: 'serves session ports' });
    expect(roleOf(d, 'exporter')).toEqual({ name: 'exporter', role: 'none', ports: [], why: 'only metrics/admin/probe ports' });
    expect(argvOf(byName(d, 'nginx'))).toContain('--signal=SIGQUIT');
    expect(argvOf(byName(d, 'exporter'))).toEqual([]);
    expect(d.plan.portsLeftOut).toEqual([{ container: 'exporter', port: 9113, why: 'name metrics' }]);
  });

  it('an nginx that is the only serving container is the app', () => {
    const d = mutate(pod(S, { containers: [{ name: 'gateway', image: 'nginx:1.27', ports: [tcp(80)] }] }));
    expect(roleOf(d, 'gateway')?.role).toBe('app');
  });

  it('in sleep mode a proxy still waits for the app sessions (they close after SIGTERM)', () => {
    const d = mutate(istioClassic({ ...S, 'ws-drain/mode': 'sleep' }));
    expect(argvOf(byName(d, 'istio-proxy'))).toContain('--budget=300s');
    expect((byName(d, 'app')?.['lifecycle'] as Json)['preStop']).toEqual({ sleep: { seconds: 20 } });
  });

  describe('ws-drain/proxies: a proxy the fixed lists do not know', () => {
    // An in-house TLS terminator: image and name match no known proxy.
    const tlsSidecar = (annotations: Record<string, string>) =>
      pod(annotations, {
        containers: [
          { name: 'edge', image: 'registry.example.com/platform/edge-tls:3.2', ports: [tcp(8443, 'https')] },
          container('app', { ports: [tcp(8080, 'ws')] }),
        ],
      });

    it('without it, the unknown TLS sidecar is taken for a second app and gets the signal', () => {
      const d = mutate(tlsSidecar({ ...S, 'ws-drain/drain-signal': 'SIGQUIT' }));
      expect(roleOf(d, 'edge')?.role).toBe('app');
      expect(argvOf(byName(d, 'edge'))).toContain('--signal=SIGQUIT');
    });

    it('named, it is a proxy: waits on the app ports, never signalled, never called; the plan says why', () => {
      const d = mutate(tlsSidecar({ ...S, 'ws-drain/drain-signal': 'SIGQUIT', 'ws-drain/drain-http': 'POST :8080/drain', 'ws-drain/proxies': 'edge' }));
      expect(roleOf(d, 'edge')).toEqual({ name: 'edge', role: 'proxy', ports: [8080], why: 'ws-drain/proxies' });
      // Asked for: no "taken for a proxy" warning.
      expect(d.warnings.some((w) => w.includes('taken for a proxy'))).toBe(false);
      expect(roleOf(d, 'app')).toEqual({ name: 'app', role: 'app', ports: [8080], why: 'serves session ports' });
      expect(argvOf(byName(d, 'edge'))).toEqual([
        '/ws-drain/ws-drain-helper', 'prestop', '--container=edge', '--delay=20s', '--budget=300s', '--ports=8080', '--role=proxy',
      ]);
      expect(argvOf(byName(d, 'app'))).toContain('--signal=SIGQUIT');
    });

    it('with ws-drain/ports declared nowhere, a named proxy is not one of the containers that may serve it', () => {
      const d = mutate(pod({ ...S, 'ws-drain/ports': '3000', 'ws-drain/proxies': 'edge' }, { containers: [container('edge'), container('app')] }));
      expect(d.plan.containers.map((c) => [c.name, c.role])).toEqual([['edge', 'proxy'], ['app', 'app']]);
    });

    it('with ws-drain/ports declared by the proxy too, the proxy stays a proxy', () => {
      const d = mutate(pod({ ...S, 'ws-drain/ports': '8080', 'ws-drain/proxies': 'edge' }, {
        containers: [container('edge', { ports: [tcp(8080)] }), container('app', { ports: [tcp(8080)] })],
      }));
      expect(d.plan.containers.map((c) => [c.name, c.role])).toEqual([['edge', 'proxy'], ['app', 'app']]);
    });

    it('sits beside the recognised proxies: istio-proxy stays a mesh proxy', () => {
      const d = mutate(pod({ ...S, 'ws-drain/proxies': 'edge' }, {
        containers: [container('edge', { ports: [tcp(8443)] }), container('app', { ports: [tcp(8080)] }), { name: 'istio-proxy', image: 'istio/proxyv2:1.24.0', ports: [tcp(15090)] }],
      }));
      expect(d.plan.containers.map((c) => [c.name, c.role, c.why])).toEqual([['edge', 'proxy', 'ws-drain/proxies'], ['app', 'app', 'serves session ports'], ['istio-proxy', 'proxy', 'mesh proxy']]);
    });

    const denied = (annotations: Record<string, string>, spec: Json): string => {
      const d = decide(pod(annotations, spec), 'default', CONFIG);
      if (d.kind !== 'deny') throw new Error(`expected a denial, got ${d.kind}`);
      return d.message;
    };
    const two = { containers: [container('edge', { ports: [tcp(8443)] }), container('app', { ports: [tcp(8080)] })], initContainers: [container('setup')] };

    it.each([
      ['a name that is not a container', { 'ws-drain/proxies': 'egde' }, 'ws-drain/proxies: "egde" is not a container of this pod; its containers are edge, app'],
      ['an init container', { 'ws-drain/proxies': 'setup' }, 'ws-drain/proxies: "setup" is an init container; a native sidecar already stays up until the app has stopped, name regular containers only (edge, app)'],
      ['a container also named an app', { 'ws-drain/proxies': 'edge', 'ws-drain/containers': 'edge' }, '"edge" is named in both ws-drain/containers and ws-drain/proxies; a container is either an app (gets the drain trigger) or a proxy (never signalled), remove it from one'],
      ['every serving container', { 'ws-drain/proxies': 'edge,app' }, 'ws-drain/proxies names every container that could serve the sessions'],
      ['not a list of names', { 'ws-drain/proxies': 'edge,,app' }, 'ws-drain/proxies: "edge,,app" is not accepted; use a comma-separated list of container names such as "tls-terminator"'],
    ])('denies %s, naming the annotation and what it accepts', (_what, extra, message) => {
      expect(denied({ ...S, ...extra }, two)).toContain(message);
    });
  });

  it('recognises images and names', () => {
    expect(imageName('docker.io/library/nginx:1.27@sha256:abc')).toBe('nginx');
    expect(imageName('localhost:5000/envoy')).toBe('envoy');
    expect(isMeshProxy({ name: 'x', image: 'gcr.io/istio-testing/proxy_debug:costin2' })).toBe(true);
    expect(isMeshProxy({ name: 'x', image: 'registry.istio.io/testing/proxyv2:latest' })).toBe(true);
    expect(isMeshProxy({ name: 'app', image: 'example/proxyv2-app:1' })).toBe(false);
    expect(isFrontProxy({ name: 'cloudsql-proxy', image: 'gcr.io/cloudsql-docker/gce-proxy:1.11' })).toBe(true);
    expect(isFrontProxy({ name: 'waf', image: 'owasp/modsecurity-crs:nginx-alpine' })).toBe(true);
    expect(isFrontProxy({ name: 'web', image: 'example/nginx-app:1' })).toBe(false);
  });
});

describe('role properties', () => {
  const portName = fc.constantFrom(undefined, 'http', 'ws', 'metrics', 'http-metrics', 'admin', 'grpc', 'health');
  const containerArb = fc.record({
    name: fc.constantFrom('app', 'api', 'istio-proxy', 'linkerd-proxy', 'nginx', 'sidecar', 'tls-proxy', 'worker'),
    image: fc.constantFrom('example/app:1', 'nginx:1.27', 'istio/proxyv2:1.2', 'envoyproxy/envoy:v1', 'node:22'),
    ports: fc.array(fc.record({ containerPort: fc.constantFrom(80, 3000, 8080, 9090, 15090, 4191), name: portName }), { maxLength: 3 }),
    probe: fc.option(fc.constantFrom(80, 3000, 8080, 9090), { nil: undefined }),
  });
  const podArb = fc.record({
    containers: fc.uniqueArray(containerArb, { minLength: 1, maxLength: 4, selector: (c) => c.name }),
    ports: fc.option(fc.constantFrom('3000', '8080,9090', '80'), { nil: undefined }),
    signal: fc.option(fc.constantFrom('SIGQUIT', 'SIGTERM'), { nil: undefined }),
    proxies: fc.option(fc.constantFrom('sidecar', 'worker', 'sidecar,nginx'), { nil: undefined }),
    prom: fc.option(fc.constantFrom('9090', '8080'), { nil: undefined }),
  });

  it('the signal only ever goes to apps, proxies only wait, and without ws-drain/ports every app port is watched or named as left out', () => {
    fc.assert(
      fc.property(podArb, (p) => {
        const annotations: Record<string, string> = { ...S };
        if (p.ports) annotations['ws-drain/ports'] = p.ports;
        if (p.signal) annotations['ws-drain/drain-signal'] = p.signal;
        if (p.prom) annotations['prometheus.io/port'] = p.prom;
        if (p.proxies) annotations['ws-drain/proxies'] = p.proxies;
        const containers = p.containers.map((c) => ({
          name: c.name,
          image: c.image,
          ports: c.ports.map((x) => (x.name ? { containerPort: x.containerPort, name: x.name } : { containerPort: x.containerPort })),
          ...(c.probe ? { readinessProbe: { tcpSocket: { port: c.probe } } } : {}),
        }));
        const d = decide(pod(annotations, { containers }), 'default', CONFIG);
        if (d.kind !== 'mutate') return; // duplicate port names and the like are denied elsewhere
        // A container named in ws-drain/proxies is a proxy, whatever its ports or name.
        for (const name of p.proxies?.split(',') ?? []) {
          const named = d.plan.containers.find((c) => c.name === name);
          if (named) expect(named).toMatchObject({ role: 'proxy', why: 'ws-drain/proxies' });
        }
        const out = (d.pod as { spec: { containers: Json[] } }).spec.containers;
        expect(d.plan.containers.map((c) => c.name)).toEqual(containers.map((c) => c.name));
        for (const role of d.plan.containers) {
          const argv = argvOf(out.find((c) => c['name'] === role.name));
          if (role.role === 'none') expect(argv).toEqual([]);
          if (role.role === 'proxy') {
            expect(argv).toContain('--role=proxy');
            expect(argv.some((a) => a.startsWith('--signal') || a.startsWith('--drain-url'))).toBe(false);
          }
          if (argv.some((a) => a.startsWith('--signal='))) expect(role.role).toBe('app');
          if (role.role === 'app' && !p.ports) {
            const declared = new Set<number>((containers.find((c) => c.name === role.name)?.ports ?? []).map((x) => x.containerPort));
            const left = (d.plan.portsLeftOut ?? []).filter((l) => l.container === role.name).map((l) => l.port);
            expect(new Set([...role.ports, ...left])).toEqual(declared);
            for (const x of role.ports) expect(declared.has(x)).toBe(true);
          }
        }
        if (p.ports) for (const a of d.plan.containers.filter((c) => c.role === 'app')) expect(a.ports.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it('every word of the list is recognised inside a longer port name', () => {
    for (const w of NON_SESSION_PORT_WORDS) {
      expect(sessionPorts({ name: 'c', ports: [{ containerPort: 1, name: 'ws' }, { containerPort: 2, name: `x-${w}` }] }, undefined).ports).toEqual([1]);
    }
  });
});
