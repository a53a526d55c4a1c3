// Existing hooks that are a server's drain, and drain-signal traps (src/core/servers.ts),
// through decide() as the webhook runs them.
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { recogniseDrainHook, signalTrap } from '../../src/core/servers.js';
import { CONFIG, container, mutatedPod, pod, preStopArgv, tcp, type Json } from './pod-builders.js';

const mutate = mutatedPod;
const argvOf = preStopArgv;
const S = { 'ws-drain/session-p95': '5m' };
const withHook = (annotations: Record<string, string>, preStop: Json, extra: Json = {}) =>
  pod({ ...S, ...annotations }, { containers: [container('srv', { ports: [tcp(4222)], lifecycle: { preStop }, ...extra })] });

describe('recognised drain hooks', () => {
  it.each([
    [['nats-server', '--signal', 'ldm=/var/run/nats/nats.pid'], 'NATS lame-duck mode'],
    [['nats-server', '-sl=ldm=/var/run/nats/nats.pid'], 'NATS lame-duck mode'],
    [['/bin/sh', '-c', 'nats-server -sl=ldm=/var/run/nats/nats.pid && /bin/sleep 60'], 'NATS lame-duck mode'],
    [['/usr/sbin/nginx', '-s', 'quit'], 'nginx graceful quit'],
    [['sh', '-c', 'nginx -s quit; while pgrep -x nginx; do sleep 1; done'], 'nginx graceful quit'],
    [['kong', 'quit'], 'Kong graceful quit'],
    [['/wait-shutdown'], 'ingress-nginx shutdown'],
    [['curl', '-X', 'POST', 'http://127.0.0.1:9901/drain_listeners?graceful'], 'Envoy drain_listeners'],
    [['wget', '-qO-', '--post-data=', 'http://localhost:9901/healthcheck/fail'], 'Envoy healthcheck/fail'],
    [['/bin/contour', 'envoy', 'shutdown'], 'Contour envoy shutdown'],
    [['sh', '-c', 'kill -USR1 $(pidof haproxy)'], 'HAProxy soft-stop'],
  ])('exec %j is %s', (argv, server) => {
    expect(recogniseDrainHook({ kind: 'exec', argv })).toBe(server);
  });

  it.each([['sleep', '10'], ['/bin/sh', '-c', 'kill -15 1; sleep 15s'], ['nginx', '-s', 'reload'], ['pilot-agent', 'request', 'POST', 'quitquitquit'], ['nats', 'pub', 'x', 'ldm']])(
    'exec %j is not a drain command',
    (...argv) => expect(recogniseDrainHook({ kind: 'exec', argv })).toBeUndefined(),
  );

  it('httpGet paths', () => {
    expect(recogniseDrainHook({ kind: 'http', path: '/drain' })).toBe('a drain endpoint');
    expect(recogniseDrainHook({ kind: 'http', path: '/lameduck?after=5s' })).toBe('a drain endpoint');
    expect(recogniseDrainHook({ kind: 'http', path: '/drain_listeners' })).toBe('Envoy drain_listeners');
    expect(recogniseDrainHook({ kind: 'http', path: '/drainage' })).toBeUndefined();
    expect(recogniseDrainHook({ kind: 'http', path: '/shutdown' })).toBeUndefined();
  });
});

describe('ws-drain/existing-hook', () => {
  const ldm = { exec: { command: ['nats-server', '--signal', 'ldm=/var/run/nats/nats.pid'] } };

  it('auto: NATS lame duck becomes the drain trigger (--hook-at=drain), recorded in the plan and a warning', () => {
    const d = mutate(withHook({}, ldm));
    expect(argvOf(d.containers[0])).toEqual([
      '/ws-drain/ws-drain-helper', 'prestop', '--container=srv', '--delay=20s', '--budget=300s', '--ports=4222',
      '--hook-timeout=10s', '--hook-at=drain', '--', 'nats-server', '--signal', 'ldm=/var/run/nats/nats.pid',
    ]);
    expect(d.plan.hooksAsTrigger).toEqual(['srv']);
    expect(d.warnings).toContain('ws-drain: srv: preStop is NATS lame-duck mode, run at D as the drain trigger (existing-hook: after runs it last)');
    expect(d.warnings.some((w) => w.includes('runs after the drain'))).toBe(false);
  });

  it('auto: an unrecognised hook still runs after the drain', () => {
    const d = mutate(withHook({}, { exec: { command: ['/bin/flush-cache'] } }));
    expect(argvOf(d.containers[0])).not.toContain('--hook-at=drain');
    expect(d.plan.hooksAsTrigger).toBeUndefined();
  });

  it('after keeps a recognised hook last; drain makes any hook the trigger, httpGet included', () => {
    expect(argvOf(mutate(withHook({ 'ws-drain/existing-hook': 'after' }, ldm)).containers[0])).not.toContain('--hook-at=drain');
    expect(argvOf(mutate(withHook({ 'ws-drain/existing-hook': 'drain' }, { exec: { command: ['/bin/flush-cache'] } })).containers[0])).toContain('--hook-at=drain');
    const http = mutate(withHook({ 'ws-drain/existing-hook': 'drain' }, { httpGet: { port: 4222, path: '/stop' } }));
    expect(argvOf(http.containers[0])).toEqual(expect.arrayContaining(['--hook-url=http://127.0.0.1:4222/stop', '--hook-at=drain']));
  });

  it('a bad value or a value with mode: sleep is denied', () => {
    const bad = decide(withHook({ 'ws-drain/existing-hook': 'first' }, ldm), 'default', CONFIG);
    expect(bad).toMatchObject({ kind: 'deny', message: expect.stringContaining('ws-drain/existing-hook: "first" is not accepted; use one of auto, drain, after') });
    const sleep = decide(withHook({ 'ws-drain/existing-hook': 'drain', 'ws-drain/mode': 'sleep' }, ldm), 'default', CONFIG);
    expect(sleep).toMatchObject({ kind: 'deny', message: expect.stringContaining('ws-drain/existing-hook has no effect with ws-drain/mode: sleep') });
  });

  it("a proxy's own drain hook runs after the app's sessions, never as a trigger", () => {
    const d = mutate(pod(S, {
      containers: [
        container('app', { ports: [tcp(8080)] }),
        { name: 'envoy', image: 'envoyproxy/envoy:v1.31.2', ports: [tcp(10000)], lifecycle: { preStop: { exec: { command: ['curl', '-X', 'POST', 'http://127.0.0.1:9901/drain_listeners?graceful'] } } } },
      ],
    }));
    const argv = argvOf(d.containers[1]);
    expect(argv).toContain('--role=proxy');
    expect(argv).not.toContain('--hook-at=drain');
    expect(argv.slice(argv.indexOf('--'))).toEqual(['--', 'curl', '-X', 'POST', 'http://127.0.0.1:9901/drain_listeners?graceful']);
  });
});

describe('drain-signal traps', () => {
  const warn = (image: string, signal: string, extra: Json = {}) =>
    mutate(pod({ ...S, 'ws-drain/drain-signal': signal }, { containers: [{ name: 'srv', image, ports: [tcp(8080)], ...extra }] })).warnings.filter((w) => w.includes('srv:'));

  it('SIGUSR1 to Node (by image or by command) warns about the inspector; SIGUSR2 does not', () => {
    expect(warn('node:22-alpine', 'SIGUSR1')).toEqual(["ws-drain: srv: SIGUSR1 starts Node's inspector (127.0.0.1:9229) unless the app handles it; prefer drain-http"]);
    expect(warn('ghcr.io/acme/chat:1', 'SIGUSR1', { command: ['node', 'dist/server.js'] })).toHaveLength(1);
    expect(warn('node:22-alpine', 'SIGUSR2')).toEqual([]);
  });

  it.each([
    ['nginx:1.27', 'SIGTERM', 'nginx drains on SIGQUIT; SIGTERM stops it at once'],
    ['nginx:1.27', 'SIGHUP', 'nginx drains on SIGQUIT; SIGHUP reloads it'],
    ['haproxy:3.0', 'SIGTERM', 'HAProxy soft-stops on SIGUSR1'],
    ['envoyproxy/envoy:v1.31.2', 'SIGTERM', 'Envoy has no drain signal'],
    ['nats:2.10-alpine', 'SIGTERM', 'NATS enters lame-duck mode on SIGUSR2'],
    ['eclipse-temurin:21-jre', 'SIGQUIT', 'thread dump'],
    ['eclipse-temurin:21-jre', 'SIGUSR2', 'a JVM does not drain on SIGUSR2'],
  ])('%s with %s warns (%s)', (image, signal, text) => {
    const w = warn(image, signal);
    expect(w).toHaveLength(1);
    expect(w[0]).toContain(text);
  });

  it.each([['nginx:1.27', 'SIGQUIT'], ['haproxy:3.0', 'SIGUSR1'], ['nats:2.10', 'SIGUSR2'], ['eclipse-temurin:21', 'SIGTERM'], ['amazoncorretto:21', 'SIGHUP'], ['ghcr.io/acme/go-app:1', 'SIGUSR1']])(
    '%s with %s: no warning',
    (image, signal) => expect(warn(image, signal)).toEqual([]),
  );

  it('signalTrap knows nothing about an unknown image', () => {
    expect(signalTrap({ name: 'x', image: 'example/app:1' }, 'SIGUSR1')).toBeUndefined();
  });
});
