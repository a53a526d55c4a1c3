// Generators of pods and ws-drain/ annotations for property tests: mostly
// valid values, so that many pods get mutated, and hostile ones often enough to
// reach every key (test/core/properties.test.ts, test/server/answer-memo.test.ts).
import fc from 'fast-check';
import type { Json } from './pod-builders.js';

const validDuration = fc.oneof(
  fc.integer({ min: 0, max: 900 }).map(String),
  fc.integer({ min: 0, max: 90 }).map((n) => `${n}s`),
  fc.integer({ min: 1, max: 20 }).map((n) => `${n}m`),
  fc.constantFrom('1h', '1h30m', '1.5m', '500ms', '0s', '2m30s'),
);
const hostileText = fc.oneof(
  fc.string(),
  fc.constantFrom('; rm -rf /', '$(reboot)', '`id`', 'a b', "'quoted'", '"x"', 'sh -c "x"', '\n', '-c', 'sh', '&& true', ':8080/x;id'),
);
// Mostly valid values so that many pods get mutated; hostile ones often enough to be tried on every key.
const value = (valid: fc.Arbitrary<string>) => fc.oneof({ weight: 15, arbitrary: valid }, { weight: 1, arbitrary: hostileText });

// Annotations for a pod whose regular containers are `names`.
export const annotationsFor = (names: string[]) =>
  fc
    .record(
      {
        'ws-drain/session-p95': value(validDuration),
        'ws-drain/enabled': value(fc.oneof({ weight: 19, arbitrary: fc.constant('true') }, { weight: 1, arbitrary: fc.constant('false') })),
        'ws-drain/prestop-delay': value(validDuration),
        'ws-drain/cleanup': value(validDuration),
        'ws-drain/grace-margin': value(fc.constantFrom('30%', '0.3', '0', '100%', '12.5%')),
        'ws-drain/containers': value(fc.subarray(names, { minLength: 1 }).map((n) => n.join(','))),
        'ws-drain/ports': value(fc.constantFrom('8080', '8080,9000', 'http', '1')),
        'ws-drain/drain-signal': value(fc.constantFrom('SIGUSR1', 'SIGTERM', 'SIGQUIT')),
        'ws-drain/drain-http': value(fc.constantFrom(':8080/drain', 'POST :9000/x', 'http://127.0.0.1:8080/d?x=1')),
        'ws-drain/mode': value(fc.constantFrom('drain', 'drain', 'sleep')),
        'ws-drain/enforce': value(fc.constantFrom('raise', 'reject', 'warn')),
        'other.example/key': fc.string(),
      },
      { requiredKeys: [] },
    )
    .chain((a) =>
      // Drain triggers with mode sleep are a denial; keep that case rare so sleep pods get mutated too.
      a['ws-drain/mode'] === 'sleep'
        ? fc.integer({ min: 0, max: 7 }).map((n) => {
            const keep = n === 0;
            if (keep) return a;
            const { 'ws-drain/drain-signal': _s, 'ws-drain/drain-http': _h, ...rest } = a;
            return rest;
          })
        : fc.constant(a),
    );

const preStopArb = fc.oneof(
  fc.constant(undefined),
  fc.record({ exec: fc.record({ command: fc.array(hostileText, { minLength: 1, maxLength: 4 }) }) }),
  fc.record({ sleep: fc.record({ seconds: fc.integer({ min: 0, max: 60 }) }) }),
  fc.record({
    httpGet: fc.record(
      {
        port: fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constantFrom('http', 'grpc')),
        path: fc.constantFrom('/stop', 'stop', ''),
        scheme: fc.constantFrom('HTTP', 'HTTPS'),
        httpHeaders: fc.array(fc.record({ name: fc.constantFrom('X-A', 'X-B'), value: hostileText }), { maxLength: 2 }),
      },
      { requiredKeys: ['port'] },
    ),
  }),
  fc.record({ tcpSocket: fc.record({ port: fc.constant(8080) }) }),
);

const portsArb = fc.array(
  fc.record(
    {
      containerPort: fc.constantFrom(80, 8080, 9000, 5353),
      name: fc.constantFrom('http', 'grpc', 'metrics'),
      protocol: fc.constantFrom('TCP', 'TCP', 'TCP', 'UDP'),
    },
    { requiredKeys: ['containerPort'] },
  ),
  { maxLength: 3 },
);

const containerArb = (name: string) =>
  fc.record(
    {
      name: fc.constant(name),
      image: fc.constant(`registry.example/${name}:1`),
      ports: portsArb,
      lifecycle: preStopArb.map((preStop) => (preStop ? { preStop } : {})),
      volumeMounts: fc.oneof(
        { weight: 60, arbitrary: fc.constant([{ name: 'data', mountPath: '/data' }]) },
        { weight: 1, arbitrary: fc.constant([{ name: 'x', mountPath: '/ws-drain' }]) },
      ),
    },
    { requiredKeys: ['name', 'image'] },
  );

export const podArb = (annotations: (names: string[]) => fc.Arbitrary<Record<string, string>>) =>
  fc
    .uniqueArray(fc.constantFrom('web', 'api', 'worker'), { minLength: 1, maxLength: 3 })
    .chain((names) =>
      fc.record({
      names: fc.constant(names),
      sidecar: fc.boolean(),
      annotations: annotations(names),
      grace: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: undefined }),
      hostNetwork: fc.boolean(),
      volumes: fc.oneof(
        { weight: 30, arbitrary: fc.constantFrom(undefined, [{ name: 'data', emptyDir: {} }]) },
        { weight: 1, arbitrary: fc.constant([{ name: 'ws-drain', emptyDir: {} }]) },
      ),
    }),
    )
    .chain((p) =>
      fc.tuple(fc.constant(p), fc.tuple(...p.names.map(containerArb)), p.sidecar ? containerArb('side').map((c) => [{ ...c, restartPolicy: 'Always' }]) : fc.constant(undefined)),
    )
    .map(([p, containers, initContainers]) => {
      const spec: Json = { containers };
      if (initContainers) spec['initContainers'] = initContainers;
      if (p.grace !== undefined) spec['terminationGracePeriodSeconds'] = p.grace;
      if (p.hostNetwork) spec['hostNetwork'] = true;
      if (p.volumes) spec['volumes'] = p.volumes;
      return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'gen', annotations: p.annotations }, spec } as Json;
    });

export const optedIn = (names: string[]) =>
  annotationsFor(names).map((a) => ({ ...a, 'ws-drain/session-p95': a['ws-drain/session-p95'] ?? '2m' }));
export const anyPod = podArb((names) => fc.oneof({ weight: 1, arbitrary: annotationsFor(names) }, { weight: 4, arbitrary: optedIn(names) }));
