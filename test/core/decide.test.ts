import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import type { Decision } from '../../src/core/types.js';
import { CONFIG, container, pod, tcp, webPod, type Json } from './pod-builders.js';

type Mutate = Extract<Decision, { kind: 'mutate' }>;
type Spec = { containers: Json[]; initContainers?: Json[]; volumes?: Json[]; terminationGracePeriodSeconds?: number };

function mutate(input: unknown, namespace = 'default'): Mutate & { spec: Spec; annotations: Record<string, string> } {
  const d = decide(input, namespace, CONFIG);
  if (d.kind !== 'mutate') throw new Error(`expected mutate, got ${JSON.stringify(d)}`);
  const p = d.pod as { spec: Spec; metadata: { annotations: Record<string, string> } };
  return { ...d, spec: p.spec, annotations: p.metadata.annotations };
}
function denial(input: unknown, namespace = 'default'): { code: number; message: string } {
  const d = decide(input, namespace, CONFIG);
  if (d.kind !== 'deny') throw new Error(`expected deny, got ${JSON.stringify(d)}`);
  return d;
}
const preStopOf = (c: Json | undefined): Json | undefined => (c?.['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined;
const argvOf = (c: Json | undefined): string[] => ((preStopOf(c)?.['exec'] as Json | undefined)?.['command'] as string[]) ?? [];

describe('opt-in and skips', () => {
  it('a pod without opt-in is skipped without validating anything', () => {
    expect(decide({ metadata: { name: 'x' }, spec: 'not a spec' }, 'default', CONFIG)).toEqual({
      kind: 'skip',
      reason: 'not-opted-in',
      warnings: [],
    });
  });

  it('stray ws-drain keys without opt-in give a warning, no change', () => {
    const d = decide(webPod({ 'ws-drain/prestop-delay': '5s' }), 'default', CONFIG);
    expect(d.kind).toBe('skip');
    expect(d.kind === 'skip' && d.warnings[0]).toMatch(/^ws-drain: ws-drain\/\* annotations ignored/);
  });

  it('enabled: "false" opts out even with bad values', () => {
    expect(decide(webPod({ 'ws-drain/enabled': 'false', 'ws-drain/session-p95': 'bogus' }), 'default', CONFIG)).toMatchObject({
      kind: 'skip',
      reason: 'opted-out',
    });
  });

  it('enabled other than true/false is denied', () => {
    expect(denial(webPod({ 'ws-drain/enabled': 'yes' }))).toEqual({
      kind: 'deny',
      code: 422,
      message: 'ws-drain/enabled: "yes" is not accepted; use "true" or "false"',
    });
  });

  it('kube-system and configured namespaces are never touched', () => {
    expect(decide(webPod(), 'kube-system', { ...CONFIG, excludeNamespaces: [] })).toMatchObject({ kind: 'skip', reason: 'excluded-namespace' });
    expect(decide(webPod(), 'ws-drain-system', CONFIG)).toMatchObject({ kind: 'skip', reason: 'excluded-namespace' });
    expect(decide(webPod(), 'team-a', { ...CONFIG, excludeNamespaces: ['team-a'] })).toMatchObject({ reason: 'excluded-namespace' });
  });

  it('Windows pods are skipped with a warning (os.name or nodeSelector)', () => {
    const byOs = webPod();
    (byOs['spec'] as Json)['os'] = { name: 'windows' };
    const bySelector = webPod();
    (bySelector['spec'] as Json)['nodeSelector'] = { 'kubernetes.io/os': 'windows' };
    for (const p of [byOs, bySelector]) {
      const d = decide(p, 'default', CONFIG);
      expect(d).toMatchObject({ kind: 'skip', reason: 'windows' });
      expect(d.kind === 'skip' && d.warnings[0]).toMatch(/^ws-drain: Windows pod left unchanged/);
    }
  });

  it('an injected pod is skipped: its parts with ws-drain/injected, or both annotations', () => {
    const once = mutate(webPod()).pod;
    expect(decide(once, 'default', CONFIG)).toMatchObject({ kind: 'skip', reason: 'already-injected' });

    const hook = { lifecycle: { preStop: { exec: { command: ['/ws-drain/ws-drain-helper', 'prestop'] } } } };
    const hookMarked = webPod({ 'ws-drain/session-p95': '5m', 'ws-drain/injected': '0.1.0' }, hook);
    expect(decide(hookMarked, 'default', CONFIG)).toMatchObject({ reason: 'already-injected' });

    const annotated = webPod({ 'ws-drain/session-p95': '5m', 'ws-drain/injected': '0.1.0', 'ws-drain/plan': '{}' });
    expect(decide(annotated, 'default', CONFIG)).toMatchObject({ reason: 'already-injected' });
  });
});

describe('malformed input', () => {
  it.each([null, 42, 'pod', [], true])('%j is denied with 400', (input) => {
    expect(denial(input)).toMatchObject({ code: 400, message: expect.stringContaining('not a Pod') });
  });

  it('opted-in pod with a bad spec is denied with 400 naming the field', () => {
    const d = denial(pod({ 'ws-drain/session-p95': '5m' }, { containers: [{ name: 'web', ports: [{ containerPort: 'http' }] }] }));
    expect(d.code).toBe(400);
    expect(d.message).toContain('spec.containers.0.ports.0.containerPort');
  });

  it('non-string annotations are denied with 400', () => {
    expect(denial({ metadata: { annotations: { 'ws-drain/session-p95': 300 } }, spec: {} }).code).toBe(400);
  });

  // Annotations, labels and nodeSelector are string maps (StringMap): each bad member is named by its path.
  it.each([
    ['a non-string annotation', { annotations: { 'ws-drain/session-p95': '5m', 'example.com/n': 3 } }, {}, 'metadata.annotations.example.com/n: Invalid input: expected string, received number'],
    ['annotations as a list', { annotations: ['ws-drain/session-p95'] }, {}, 'metadata.annotations: Invalid input: expected object, received array'],
    ['a non-string label', { annotations: { 'ws-drain/session-p95': '5m' }, labels: { app: null } }, {}, 'metadata.labels.app: Invalid input: expected string, received null'],
    ['a non-string nodeSelector value', { annotations: { 'ws-drain/session-p95': '5m' } }, { nodeSelector: { 'kubernetes.io/os': { linux: true } } }, 'spec.nodeSelector.kubernetes.io/os: Invalid input: expected string, received object'],
  ])('%s is denied with 400 naming the member', (_, metadata, spec, message) => {
    const d = denial({ metadata, spec: { containers: [container('web', { ports: [tcp(8080)] })], ...spec } });
    expect(d.code).toBe(400);
    expect(d.message).toContain(message);
  });
});

describe('drain injection', () => {
  it('injects volume, restricted init container, read-only mount, helper preStop, grace and annotations', () => {
    const d = mutate(webPod());
    expect(d.spec.volumes).toEqual([{ name: 'ws-drain', emptyDir: { sizeLimit: '16Mi' } }]);
    expect(d.spec.initContainers).toEqual([
      {
        name: 'ws-drain-install',
        image: 'ghcr.io/ws-drain/ws-drain-helper:0.1.0',
        imagePullPolicy: 'IfNotPresent',
        command: ['/ws-drain-helper', 'install', '/ws-drain'],
        volumeMounts: [{ name: 'ws-drain', mountPath: '/ws-drain' }],
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
          readOnlyRootFilesystem: true,
        },
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } },
      },
    ]);
    const web = d.spec.containers[0];
    expect(web?.['volumeMounts']).toEqual([{ name: 'ws-drain', mountPath: '/ws-drain', readOnly: true }]);
    expect(argvOf(web)).toEqual([
      '/ws-drain/ws-drain-helper',
      'prestop',
      '--container=web',
      '--delay=20s',
      '--budget=300s',
      '--ports=8080',
    ]);
    expect(d.spec.terminationGracePeriodSeconds).toBe(429);
    expect(d.warnings).toEqual(['ws-drain: terminationGracePeriodSeconds raised from 30 to 429 for the drain plan']);
    expect(d.annotations['ws-drain/injected']).toBe('0.1.0');
    expect(JSON.parse(d.annotations['ws-drain/plan'] ?? '')).toEqual(d.plan);
  });

  it('uses the configured helper image and version', () => {
    const d = decide(webPod(), 'default', { ...CONFIG, helperImage: 'registry.local/helper:9', helperVersion: '9.9.9' });
    const p = (d as Mutate).pod as { spec: Spec; metadata: { annotations: Record<string, string> } };
    expect(p.spec.initContainers?.[0]?.['image']).toBe('registry.local/helper:9');
    expect(p.metadata.annotations['ws-drain/injected']).toBe('9.9.9');
  });

  it('does not mutate its input', () => {
    const input = webPod(undefined, { lifecycle: { preStop: { sleep: { seconds: 5 } } } });
    const copy = structuredClone(input);
    mutate(input);
    expect(input).toEqual(copy);
  });

  it('keeps fields it does not know, and existing mounts, volumes and init containers', () => {
    const sidecar = container('proxy', { restartPolicy: 'Always', ports: [tcp(15000)] });
    const input = pod(
      { 'ws-drain/session-p95': '1m', 'example.com/team': 'a' },
      {
        containers: [container('web', { ports: [tcp(8080)], volumeMounts: [{ name: 'data', mountPath: '/data' }], env: [{ name: 'A', value: 'b' }] })],
        initContainers: [sidecar],
        volumes: [{ name: 'data', emptyDir: {} }],
        priorityClassName: 'high',
      },
    );
    const d = mutate(input);
    expect(d.spec.initContainers?.map((c) => c['name'])).toEqual(['proxy', 'ws-drain-install']);
    expect(d.spec.initContainers?.[0]).toEqual(sidecar); // the native sidecar is not a target
    expect(d.spec.volumes?.map((v) => v['name'])).toEqual(['data', 'ws-drain']);
    expect(d.spec.containers[0]?.['volumeMounts']).toEqual([
      { name: 'data', mountPath: '/data' },
      { name: 'ws-drain', mountPath: '/ws-drain', readOnly: true },
    ]);
    expect(d.spec.containers[0]?.['env']).toEqual([{ name: 'A', value: 'b' }]);
    expect((d.pod as { spec: Json }).spec['priorityClassName']).toBe('high');
    expect(d.annotations['example.com/team']).toBe('a');
  });

  it('hostNetwork gives a warning', () => {
    const input = webPod();
    (input['spec'] as Json)['hostNetwork'] = true;
    expect(mutate(input).warnings).toContain("ws-drain: hostNetwork pod: connection counts include the node's own sockets on the watched ports");
  });

  it('drain-signal goes to every target, drain-http to the container that declares the port only', () => {
    const input = pod(
      { 'ws-drain/session-p95': '2m', 'ws-drain/drain-signal': 'SIGUSR1', 'ws-drain/drain-http': 'POST :9090/drain' },
      { containers: [container('a', { ports: [tcp(8080)] }), container('b', { ports: [tcp(9090)] })] },
    );
    const d = mutate(input);
    const [a, b] = d.spec.containers;
    expect(argvOf(a)).toContain('--signal=SIGUSR1');
    expect(argvOf(b)).toContain('--signal=SIGUSR1');
    expect(argvOf(a).some((x) => x.startsWith('--drain-url'))).toBe(false);
    expect(argvOf(b)).toEqual(expect.arrayContaining(['--drain-url=http://127.0.0.1:9090/drain', '--drain-method=POST']));
    expect(d.plan.signal).toBe('SIGUSR1');
    expect(d.plan.http).toEqual({ method: 'POST', port: 9090, path: '/drain' });
  });
});

describe('target containers and ports', () => {
  const twoContainers = (annotations: Record<string, string>) =>
    pod(annotations, {
      containers: [
        container('web', { ports: [tcp(8080, 'http'), { containerPort: 5353, protocol: 'UDP', name: 'dns' }] }),
        container('log-shipper'),
        container('api', { ports: [tcp(9000, 'grpc')] }),
      ],
    });

  it('default: every regular container with a TCP containerPort is an app watching its own TCP ports; the rest are listed as left alone', () => {
    const d = mutate(twoContainers({ 'ws-drain/session-p95': '5m' }));
    expect(d.plan.containers).toEqual([
      { name: 'web', role: 'app', ports: [8080], why: 'serves session ports' },
      { name: 'log-shipper', role: 'none', ports: [], why: 'no session port' },
      { name: 'api', role: 'app', ports: [9000], why: 'serves session ports' },
    ]);
    expect(preStopOf(d.spec.containers[1])).toBeUndefined();
    expect(d.spec.containers[1]?.['volumeMounts']).toBeUndefined();
  });

  it('containers annotation picks targets', () => {
    const d = mutate(twoContainers({ 'ws-drain/session-p95': '5m', 'ws-drain/containers': 'api' }));
    expect(d.plan.containers.filter((c) => c.role === 'app')).toEqual([{ name: 'api', role: 'app', ports: [9000], why: 'ws-drain/containers' }]);
    expect(preStopOf(d.spec.containers[0])).toBeUndefined();
  });

  it('unknown container name → deny listing the regular containers', () => {
    expect(denial(twoContainers({ 'ws-drain/session-p95': '5m', 'ws-drain/containers': 'wbe' })).message).toBe(
      'ws-drain/containers: "wbe" is not a container of this pod; its containers are web, log-shipper, api',
    );
  });

  it('naming an init container → deny', () => {
    const input = webPod({ 'ws-drain/session-p95': '5m', 'ws-drain/containers': 'migrate' });
    (input['spec'] as Json)['initContainers'] = [container('migrate')];
    expect(denial(input).message).toContain('ws-drain/containers: "migrate" is an init container; name regular containers only (web)');
  });

  it('a named target without TCP ports → deny pointing at ws-drain/ports', () => {
    expect(denial(twoContainers({ 'ws-drain/session-p95': '5m', 'ws-drain/containers': 'log-shipper' })).message).toContain(
      'container log-shipper has no TCP containerPort to watch; set ws-drain/ports',
    );
  });

  it('ports annotation: the containers that declare one of the ports watch all of them; names resolved across the pod', () => {
    const d = mutate(twoContainers({ 'ws-drain/session-p95': '5m', 'ws-drain/ports': 'http,grpc,7000' }));
    expect(d.plan.containers.filter((c) => c.role === 'app').map((c) => c.name)).toEqual(['web', 'api']);
    for (const c of d.plan.containers.filter((c) => c.role === 'app')) expect(c.ports).toEqual([8080, 9000, 7000]);
    expect(argvOf(d.spec.containers[0])).toContain('--ports=8080,9000,7000');
    expect(preStopOf(d.spec.containers[1])).toBeUndefined();
  });

  it('unknown or UDP-only port name → deny listing the TCP port names', () => {
    expect(denial(twoContainers({ 'ws-drain/session-p95': '5m', 'ws-drain/ports': 'dns' })).message).toBe(
      'ws-drain/ports: "dns" is not a TCP containerPort name in this pod; named ports are http, grpc',
    );
  });

  it('a port name meaning different numbers in different containers → deny', () => {
    const input = pod({ 'ws-drain/session-p95': '5m', 'ws-drain/ports': 'http' }, {
      containers: [container('a', { ports: [tcp(80, 'http')] }), container('b', { ports: [tcp(81, 'http')] })],
    });
    expect(denial(input).message).toContain('"http" names different ports (80, 81)');
  });

  it('no container with a TCP port → deny telling what to set', () => {
    expect(denial(pod({ 'ws-drain/session-p95': '5m' }, { containers: [container('worker')] })).message).toBe(
      'no container declares a TCP containerPort, so ws-drain does not know which connections to watch; set ws-drain/ports (e.g. "8080") or declare a containerPort',
    );
  });

  it('collects annotation errors together with code 422', () => {
    const d = denial(webPod({ 'ws-drain/session-p95': 'soon', 'ws-drain/mode': 'fast' }));
    expect(d.code).toBe(422);
    expect(d.message.split('; ws-drain/').length).toBe(2);
  });
});

describe('existing preStop hooks', () => {
  it('exec: kept after --, bounded by --hook-timeout = C, with a warning', () => {
    const d = mutate(webPod({ 'ws-drain/session-p95': '5m', 'ws-drain/cleanup': '15s' }, {
      lifecycle: { preStop: { exec: { command: ['/bin/app', 'shutdown', '--now'] } }, postStart: { exec: { command: ['/bin/true'] } } },
    }));
    const web = d.spec.containers[0];
    expect(argvOf(web)).toEqual([
      '/ws-drain/ws-drain-helper', 'prestop', '--container=web', '--delay=20s', '--budget=300s', '--ports=8080',
      '--hook-timeout=15s', '--', '/bin/app', 'shutdown', '--now',
    ]);
    expect((web?.['lifecycle'] as Json)['postStart']).toEqual({ exec: { command: ['/bin/true'] } });
    expect(d.warnings).toContain('ws-drain: web: exec preStop runs after the drain; its time counts only if cleanup covers it');
  });

  it('httpGet: becomes --hook-url (scheme lowercased, host default, named port) with headers', () => {
    const d = mutate(webPod(undefined, {
      lifecycle: {
        preStop: {
          httpGet: { path: 'shutdown', port: 'http', scheme: 'HTTP', httpHeaders: [{ name: 'X-Token', value: 'a b' }, { name: 'X-Mode', value: 'fast' }] },
        },
      },
    }));
    const argv = argvOf(d.spec.containers[0]);
    expect(argv).toEqual(expect.arrayContaining([
      '--hook-url=http://127.0.0.1:8080/shutdown',
      '--hook-header=X-Token: a b',
      '--hook-header=X-Mode: fast',
      '--hook-timeout=10s',
    ]));
    expect(argv).not.toContain('--');
    expect(d.warnings).toContain('ws-drain: web: httpGet preStop runs after the drain; its time counts only if cleanup covers it');
  });

  it('httpGet with an explicit host and IPv6 host', () => {
    const v4 = mutate(webPod(undefined, { lifecycle: { preStop: { httpGet: { host: 'localhost', port: 9000, path: '/x' } } } }));
    expect(argvOf(v4.spec.containers[0])).toContain('--hook-url=http://localhost:9000/x');
    const v6 = mutate(webPod(undefined, { lifecycle: { preStop: { httpGet: { host: '::1', port: 9000 } } } }));
    expect(argvOf(v6.spec.containers[0])).toContain('--hook-url=http://[::1]:9000/');
  });

  it('httpGet with scheme HTTPS → deny (the helper cannot call it, so it would never run)', () => {
    expect(denial(webPod(undefined, { lifecycle: { preStop: { httpGet: { port: 8080, path: '/stop', scheme: 'HTTPS' } } } })).message).toBe(
      'container web: preStop httpGet scheme "HTTPS" cannot run after the drain (the helper speaks plain HTTP); use scheme HTTP or an exec hook',
    );
  });

  it('httpGet with an unknown named port → deny', () => {
    expect(denial(webPod(undefined, { lifecycle: { preStop: { httpGet: { port: 'admin', path: '/' } } } })).message).toBe(
      'container web: preStop httpGet port "admin" is not a containerPort of web',
    );
  });

  it('native sleep: seconds added to D (max over targets), hook replaced by the helper', () => {
    const input = pod({ 'ws-drain/session-p95': '5m' }, {
      containers: [
        container('a', { ports: [tcp(80)], lifecycle: { preStop: { sleep: { seconds: 5 } } } }),
        container('b', { ports: [tcp(81)], lifecycle: { preStop: { sleep: { seconds: 12 } } } }),
      ],
    });
    const d = mutate(input);
    expect(d.plan.prestopDelaySeconds).toBe(32);
    expect(d.plan.foldedSleepSeconds).toBe(12);
    expect(d.plan.requiredGraceSeconds).toBe(Math.ceil(((32 + 300 + 10) * 13) / 10));
    for (const c of d.spec.containers) {
      expect(preStopOf(c)?.['sleep']).toBeUndefined();
      expect(argvOf(c)).toContain('--delay=32s');
    }
  });

  it('tcpSocket: dropped with a warning', () => {
    const d = mutate(webPod(undefined, { lifecycle: { preStop: { tcpSocket: { port: 8080 } } } }));
    expect(preStopOf(d.spec.containers[0])?.['tcpSocket']).toBeUndefined();
    expect(argvOf(d.spec.containers[0])[1]).toBe('prestop');
    expect(d.warnings).toContain('ws-drain: web: tcpSocket preStop removed (kubelet ignores it)');
  });
});

describe('conflicts', () => {
  it('a volume named ws-drain → deny', () => {
    const input = webPod();
    (input['spec'] as Json)['volumes'] = [{ name: 'ws-drain', emptyDir: {} }];
    expect(denial(input).message).toContain('already has a volume named "ws-drain"');
  });
  it('a mount at /ws-drain → deny', () => {
    expect(denial(webPod(undefined, { volumeMounts: [{ name: 'x', mountPath: '/ws-drain/' }] })).message).toContain(
      'container web already mounts something at /ws-drain',
    );
  });
});

describe('enforce modes and the cap', () => {
  const withGrace = (enforce: string, grace: number | undefined) => {
    const input = webPod({ 'ws-drain/session-p95': '5m', 'ws-drain/enforce': enforce });
    if (grace !== undefined) (input['spec'] as Json)['terminationGracePeriodSeconds'] = grace;
    return input;
  };
  it('raise keeps a higher value and does not warn about it', () => {
    const d = mutate(withGrace('raise', 900));
    expect(d.spec.terminationGracePeriodSeconds).toBe(900);
    expect(d.plan.graceSeconds).toBe(900);
    // Only the platform limit: 900 s is more than cluster-autoscaler gives on scale-down.
    expect(d.warnings).toEqual(['ws-drain: grace 900s > 600s allowed by cluster-autoscaler on scale-down (default --max-graceful-termination-sec)']);
  });
  it('reject denies a lower value with the number needed', () => {
    expect(denial(withGrace('reject', 60)).message).toContain('needs at least 429');
    expect(denial(withGrace('reject', undefined)).message).toContain('terminationGracePeriodSeconds is 30');
    expect(mutate(withGrace('reject', 429)).spec.terminationGracePeriodSeconds).toBe(429);
  });
  it('warn keeps a lower value with a warning', () => {
    const d = mutate(withGrace('warn', 60));
    expect(d.spec.terminationGracePeriodSeconds).toBe(60);
    expect(d.warnings[0]).toContain('below the 429');
  });
  it('a plan above --max-grace is denied saying by how much', () => {
    expect(denial(webPod({ 'ws-drain/session-p95': '1h' })).message).toContain('needs terminationGracePeriodSeconds 4719, which exceeds --max-grace=3600 by 1119 seconds');
  });
});

describe('sleep mode', () => {
  it('native preStop sleep of D, no volume or init container', () => {
    const d = mutate(webPod({ 'ws-drain/enabled': 'true', 'ws-drain/mode': 'sleep', 'ws-drain/prestop-delay': '15s' }));
    expect(preStopOf(d.spec.containers[0])).toEqual({ sleep: { seconds: 15 } });
    expect(d.spec.initContainers).toBeUndefined();
    expect(d.spec.volumes).toBeUndefined();
    expect(d.spec.containers[0]?.['volumeMounts']).toBeUndefined();
    expect(d.plan.mode).toBe('sleep');
  });

  it('an exec hook gets the helper with --budget=0s, and then needs the init container', () => {
    const input = pod({ 'ws-drain/session-p95': '1m', 'ws-drain/mode': 'sleep' }, {
      containers: [
        container('web', { ports: [tcp(8080)] }),
        container('cache', { ports: [tcp(6379)], lifecycle: { preStop: { exec: { command: ['/bin/flush'] } } } }),
      ],
    });
    const d = mutate(input);
    expect(preStopOf(d.spec.containers[0])).toEqual({ sleep: { seconds: 20 } });
    expect(argvOf(d.spec.containers[1])).toEqual([
      '/ws-drain/ws-drain-helper', 'prestop', '--container=cache', '--delay=20s', '--budget=0s', '--ports=6379',
      '--hook-timeout=10s', '--', '/bin/flush',
    ]);
    expect(d.spec.initContainers?.map((c) => c['name'])).toEqual(['ws-drain-install']);
    expect(d.spec.containers[0]?.['volumeMounts']).toBeUndefined();
  });

  it('a hook container without ports gets an empty --ports= (nothing is watched with --budget=0s)', () => {
    const d = mutate(pod({ 'ws-drain/enabled': 'true', 'ws-drain/mode': 'sleep' }, {
      containers: [container('worker', { lifecycle: { preStop: { exec: { command: ['/bin/flush'] } } } })],
    }));
    expect(argvOf(d.spec.containers[0])).toEqual([
      '/ws-drain/ws-drain-helper', 'prestop', '--container=worker', '--delay=20s', '--budget=0s', '--ports=',
      '--hook-timeout=10s', '--', '/bin/flush',
    ]);
  });

  it('without any TCP port every regular container gets the sleep', () => {
    const d = mutate(pod({ 'ws-drain/session-p95': '0s', 'ws-drain/mode': 'sleep' }, { containers: [container('a'), container('b')] }));
    expect(d.spec.containers.map((c) => preStopOf(c))).toEqual([{ sleep: { seconds: 20 } }, { sleep: { seconds: 20 } }]);
    expect(d.plan.requiredGraceSeconds).toBe(39);
  });

  it('an existing sleep is folded into the native sleep', () => {
    const d = mutate(webPod({ 'ws-drain/enabled': 'true', 'ws-drain/mode': 'sleep' }, { lifecycle: { preStop: { sleep: { seconds: 10 } } } }));
    expect(preStopOf(d.spec.containers[0])).toEqual({ sleep: { seconds: 30 } });
  });

  it('a kept grace shorter than the sleep is denied (the API server would reject it)', () => {
    const input = webPod({ 'ws-drain/enabled': 'true', 'ws-drain/mode': 'sleep', 'ws-drain/enforce': 'warn' });
    (input['spec'] as Json)['terminationGracePeriodSeconds'] = 10;
    expect(denial(input).message).toContain('shorter than the preStop sleep of 20s');
  });
});

describe('warnings', () => {
  it('are prefixed and shorter than 120 characters even with long names', () => {
    const long = 'c'.repeat(63);
    const input = pod({ 'ws-drain/session-p95': '5m' }, {
      containers: [container(long, { ports: [tcp(80)], lifecycle: { preStop: { httpGet: { port: 80 } } } })],
      hostNetwork: true,
    });
    const d = mutate(input);
    expect(d.warnings.length).toBe(3);
    for (const w of d.warnings) {
      expect(w.startsWith('ws-drain: ')).toBe(true);
      expect(w.length).toBeLessThan(120);
    }
  });
});
