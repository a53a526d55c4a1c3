// What ws-drain knows about common servers' drain triggers: which existing
// preStop hooks *are* a server's drain (so they run at D, not after the
// budget), and which drain-signal choices are known traps. The table in
// docs/drain-behaviour.md is this file in prose; keep them together.

import { imageName } from './roles.js';
import type { Container } from './pod-schema.js';
import type { DrainSignal } from './types.js';

/** An existing preStop as the injector sees it. */
export type HookShape = { kind: 'exec'; argv: readonly string[] } | { kind: 'http'; path: string };

const SIG_USR1 = String.raw`-(?:s\s*)?(?:SIG)?USR1\b`;

// Matched against the exec argv joined with spaces (so `sh -c "…"` hooks match
// too) or the httpGet path. A short list of commands whose whole purpose is
// to start a graceful drain.
const DRAIN_HOOKS: ReadonlyArray<{ server: string; exec?: RegExp; path?: RegExp }> = [
  { server: 'NATS lame-duck mode', exec: /\bnats-server\b.*(?:--signal|-sl)[ =]ldm\b/ },
  { server: 'nginx graceful quit', exec: /\b(?:nginx|openresty)\b.*\s-s\s+quit\b/ },
  { server: 'Kong graceful quit', exec: /\bkong\s+quit\b/ },
  { server: 'ingress-nginx shutdown', exec: /(?:^|\s)\/wait-shutdown(?:\s|$)/ },
  { server: 'Envoy drain_listeners', exec: /\/drain_listeners\b/, path: /^\/drain_listeners\b/ },
  { server: 'Envoy healthcheck/fail', exec: /\/healthcheck\/fail\b/, path: /^\/healthcheck\/fail\b/ },
  { server: 'Contour envoy shutdown', exec: /\bcontour\s+envoy\s+shutdown\b/ },
  { server: 'HAProxy soft-stop', exec: new RegExp(String.raw`\bkill\s.*${SIG_USR1}.*haproxy|haproxy.*\bkill\s.*${SIG_USR1}`) },
  { server: 'a drain endpoint', path: /^\/(?:drain|lameduck|lame-duck)(?:[/?]|$)/ },
];

/** The server whose drain this hook is, when it is one ws-drain recognises. */
export function recogniseDrainHook(hook: HookShape): string | undefined {
  for (const known of DRAIN_HOOKS) {
    if (hook.kind === 'exec' && known.exec?.test(hook.argv.join(' '))) return known.server;
    if (hook.kind === 'http' && known.path?.test(hook.path)) return known.server;
  }
  return undefined;
}

type Server = 'node' | 'nginx' | 'haproxy' | 'envoy' | 'nats' | 'java';

const SERVER_IMAGES: ReadonlyArray<[Server, RegExp]> = [
  ['node', /^(?:node|nodejs|.*-node)$/],
  ['nginx', /^(?:nginx|nginx-unprivileged|openresty)$/],
  ['haproxy', /^(?:haproxy|haproxytech-haproxy)$/],
  ['envoy', /^(?:envoy|envoy-distroless)$/],
  ['nats', /^nats(?:-server)?$/],
  ['java', /^(?:openjdk|eclipse-temurin|amazoncorretto|ibm-semeru-runtimes|sapmachine|zulu-openjdk|java|jre|jdk)$/],
];
const SERVER_COMMANDS: ReadonlyArray<[Server, RegExp]> = [
  ['node', /^(?:node|nodejs|npm|npx|yarn|pnpm|nodemon|pm2-runtime|tsx)$/],
  ['nginx', /^(?:nginx|openresty)$/],
  ['haproxy', /^haproxy$/],
  ['envoy', /^envoy$/],
  ['nats', /^nats-server$/],
  ['java', /^java$/],
];

/** The server a container runs, judged from its image name and command/args[0]. */
export function serverOf(c: Container): Server | undefined {
  const image = imageName(c.image);
  const found = SERVER_IMAGES.find(([, re]) => re.test(image));
  if (found) return found[0];
  const first = (c.command?.[0] ?? c.args?.[0] ?? '').split('/').pop() ?? '';
  return SERVER_COMMANDS.find(([, re]) => re.test(first))?.[0];
}

/** A warning when `signal` is a known trap for the server in `c`, else undefined. */
export function signalTrap(c: Container, signal: DrainSignal): string | undefined {
  switch (serverOf(c)) {
    case 'node':
      return signal === 'SIGUSR1'
        ? `${c.name}: SIGUSR1 starts Node's inspector (127.0.0.1:9229) unless the app handles it; prefer drain-http`
        : undefined;
    case 'nginx':
      return signal === 'SIGQUIT' ? undefined : `${c.name}: nginx drains on SIGQUIT; ${signal} ${signal === 'SIGHUP' ? 'reloads it' : signal === 'SIGUSR1' ? 'reopens logs' : 'stops it at once'}`;
    case 'haproxy':
      return signal === 'SIGUSR1' ? undefined : `${c.name}: HAProxy soft-stops on SIGUSR1; ${signal} does not drain`;
    case 'envoy':
      return `${c.name}: Envoy has no drain signal (${signal} does not drain); use drain-http "POST :9901/drain_listeners?graceful"`;
    case 'nats':
      return signal === 'SIGUSR2' ? undefined : `${c.name}: NATS enters lame-duck mode on SIGUSR2; ${signal} does not drain it`;
    case 'java':
      return signal === 'SIGQUIT'
        ? `${c.name}: SIGQUIT makes a JVM print a thread dump, not drain; use drain-http or SIGTERM with graceful shutdown`
        : signal === 'SIGUSR1' || signal === 'SIGUSR2' ? `${c.name}: a JVM does not drain on ${signal}; use drain-http or SIGTERM with graceful shutdown` : undefined;
    case undefined:
      return undefined;
  }
}
