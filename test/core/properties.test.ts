// Property tests over generated pods and annotation values.
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { INSTALL_COMMAND } from '../../src/core/helper-argv.js';
import { HELPER_BINARY, type Decision } from '../../src/core/types.js';
import { CONFIG, type Json } from './pod-builders.js';

const RUNS = { numRuns: 400 };

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
const annotationsFor = (names: string[]) =>
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

const podArb = (annotations: (names: string[]) => fc.Arbitrary<Record<string, string>>) =>
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

const optedIn = (names: string[]) =>
  annotationsFor(names).map((a) => ({ ...a, 'ws-drain/session-p95': a['ws-drain/session-p95'] ?? '2m' }));
const anyPod = podArb((names) => fc.oneof({ weight: 1, arbitrary: annotationsFor(names) }, { weight: 4, arbitrary: optedIn(names) }));

function helperCommands(pod: unknown): string[][] {
  const spec = (pod as { spec: { containers: Json[] } }).spec;
  return spec.containers
    .map((c) => ((c['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as { command?: string[] } | undefined)
    .filter((e): e is { command: string[] } => e?.command?.[0] === HELPER_BINARY)
    .map((e) => e.command);
}

// Strict forms of every helper flag whose value can come from an annotation.
const FLAG_FORMS: Record<string, RegExp> = {
  container: /^[a-z0-9-]+$/,
  delay: /^\d+s$/,
  budget: /^\d+s$/,
  ports: /^(\d+(,\d+)*)?$/,
  signal: /^SIG[A-Z0-9]+$/,
  'drain-url': /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/,
  'drain-method': /^[A-Z]+$/,
  'hook-url': /^https?:\/\//,
  'hook-header': /^X-[AB]: /,
  'hook-timeout': /^\d+s$/,
};

describe('properties', () => {
  it('the generated pods exercise every outcome (so the properties below are not vacuous)', () => {
    const kinds = fc.sample(anyPod, { numRuns: 1000, seed: 42 }).map((p) => {
      const d = decide(p, 'default', CONFIG);
      return d.kind === 'mutate' ? `mutate-${d.plan.mode}` : d.kind;
    });
    const count = (k: string) => kinds.filter((x) => x === k).length;
    expect(count('mutate-drain')).toBeGreaterThan(100);
    expect(count('mutate-sleep')).toBeGreaterThan(30);
    expect(count('deny')).toBeGreaterThan(100);
    expect(count('skip')).toBeGreaterThan(20);
  });

  it('applyPatch(original, patch) deep-equals the mutated pod, and the input is never changed', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const before = structuredClone(pod);
        const d = decide(pod, 'default', CONFIG);
        expect(pod).toEqual(before);
        if (d.kind !== 'mutate') return;
        const applied = jsonpatch.applyPatch(structuredClone(pod), d.patch as jsonpatch.Operation[], true, false).newDocument;
        expect(applied).toEqual(d.pod);
      }),
      RUNS,
    );
  });

  it('the hand-built patch also applies where the API server sends null instead of omitting a field', () => {
    // null members need "replace" (they exist), missing ones "add": both must apply under strict validation.
    const withNulls = fc.tuple(anyPod, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 })).map(([pod, flags]) => {
      const p = structuredClone(pod) as { metadata: Json; spec: Json & { containers: Json[] } };
      const nullIfAbsent = (o: Json, key: string, flag: boolean | undefined) => {
        if (flag && o[key] === undefined) o[key] = null;
      };
      nullIfAbsent(p.spec, 'volumes', flags[0]);
      nullIfAbsent(p.spec, 'initContainers', flags[1]);
      nullIfAbsent(p.spec, 'terminationGracePeriodSeconds', flags[2]);
      p.spec.containers.forEach((c, i) => {
        nullIfAbsent(c, 'volumeMounts', flags[3 + i]);
        if (flags[6 + i]) c['lifecycle'] = (c['lifecycle'] as Json | undefined)?.['preStop'] ? c['lifecycle'] : null;
        else if (flags[9 + i] && c['lifecycle'] && !(c['lifecycle'] as Json)['preStop']) c['lifecycle'] = { preStop: null };
      });
      return p as Json;
    });
    let mutated = 0;
    fc.assert(
      fc.property(withNulls, (pod) => {
        const json = JSON.parse(JSON.stringify(pod)) as Json;
        const d = decide(pod, 'default', CONFIG);
        expect(pod).toEqual(json);
        if (d.kind !== 'mutate') return;
        mutated += 1;
        const applied = jsonpatch.applyPatch(json, d.patch as jsonpatch.Operation[], true, false).newDocument;
        expect(applied).toEqual(d.pod);
      }),
      RUNS,
    );
    expect(mutated).toBeGreaterThan(40);
  });

  it('inject twice == inject once', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const once = decide(pod, 'default', CONFIG);
        if (once.kind !== 'mutate') return;
        expect(decide(once.pod, 'default', CONFIG)).toEqual({ kind: 'skip', reason: 'already-injected', warnings: [] });
      }),
      RUNS,
    );
  });

  it('a pod without opt-in is never changed', () => {
    const notOptedIn = (names: string[]) => annotationsFor(names).map((a) => {
      const { 'ws-drain/session-p95': _s, 'ws-drain/enabled': enabled, ...rest } = a;
      return enabled === 'false' ? { ...rest, 'ws-drain/enabled': 'false' } : rest;
    });
    fc.assert(
      fc.property(podArb(notOptedIn), (pod) => {
        const d = decide(pod, 'default', CONFIG);
        expect(d.kind).toBe('skip');
      }),
      RUNS,
    );
  });

  it('in raise mode the resulting grace is at least the required grace', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const d = decide(pod, 'default', CONFIG);
        if (d.kind !== 'mutate' || d.plan.enforce !== 'raise') return;
        const grace = (d.pod as { spec: { terminationGracePeriodSeconds?: number } }).spec.terminationGracePeriodSeconds ?? 30;
        expect(grace).toBeGreaterThanOrEqual(d.plan.requiredGraceSeconds);
        expect(d.plan.graceSeconds).toBe(grace);
      }),
      RUNS,
    );
  });

  it('no annotation value ever reaches a shell: every helper element is a known --flag=value of a strict form', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const d = decide(pod, 'default', CONFIG);
        if (d.kind !== 'mutate') return;
        const spec = (d.pod as { spec: { initContainers?: Json[] } }).spec;
        const install = spec.initContainers?.find((c) => c['name'] === 'ws-drain-install');
        if (install) {
          expect(install['command']).toEqual(INSTALL_COMMAND);
          expect(install['args']).toBeUndefined();
        }
        for (const argv of helperCommands(d.pod)) {
          const dashdash = argv.indexOf('--');
          const own = dashdash === -1 ? argv : argv.slice(0, dashdash);
          expect(own.slice(0, 2)).toEqual([HELPER_BINARY, 'prestop']);
          for (const element of own.slice(2)) {
            const m = /^--([a-z-]+)=(.*)$/s.exec(element);
            expect(m, element).not.toBeNull();
            const form = FLAG_FORMS[m![1]!];
            expect(form, `unknown flag in ${element}`).toBeDefined();
            expect(m![2]).toMatch(form!);
          }
        }
      }),
      RUNS,
    );
  });

  it('the original exec hook is kept verbatim after --', () => {
    fc.assert(
      fc.property(anyPod, (pod) => {
        const d = decide(pod, 'default', CONFIG);
        if (d.kind !== 'mutate') return;
        const original = (pod as { spec: { containers: Json[] } }).spec.containers;
        const mutated = (d.pod as { spec: { containers: Json[] } }).spec.containers;
        mutated.forEach((c, i) => {
          const cmd = (((c['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as { command?: string[] } | undefined)?.command;
          const before = (((original[i]?.['lifecycle'] as Json | undefined)?.['preStop'] as Json | undefined)?.['exec'] as { command?: string[] } | undefined)?.command;
          if (cmd?.[0] !== HELPER_BINARY || !before) return;
          expect(cmd.slice(cmd.indexOf('--') + 1)).toEqual(before);
        });
      }),
      RUNS,
    );
  });

  it('decide never throws on arbitrary JSON and always returns a decision', () => {
    const isDecision = (d: Decision) => ['skip', 'deny', 'mutate'].includes(d.kind);
    fc.assert(
      fc.property(fc.anything(), fc.string(), (input, ns) => {
        expect(isDecision(decide(input, ns, CONFIG))).toBe(true);
      }),
      { numRuns: 1000 },
    );
    // Arbitrary values in the places decide reads, under an opt-in.
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), (spec, containers, lifecycle) => {
        const shaped = { metadata: { annotations: { 'ws-drain/session-p95': '1m' } }, spec: { ...(typeof spec === 'object' && spec ? spec : {}), containers: [{ name: 'web', ports: [{ containerPort: 80 }], lifecycle }, containers] } };
        expect(isDecision(decide(shaped, 'default', CONFIG))).toBe(true);
        expect(isDecision(decide({ metadata: { annotations: { 'ws-drain/enabled': 'true' } }, spec }, 'default', CONFIG))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
