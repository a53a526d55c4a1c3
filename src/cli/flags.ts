// Flag definitions shared by the subcommands: each flag may also come from an
// environment variable (WS_DRAIN_<NAME>), flags win. Values are validated here,
// with messages that name the flag and the accepted form; the parsers
// themselves are the core's, so a duration means the same thing everywhere.
import { parseArgs } from 'node:util';
import { ALWAYS_EXCLUDED_NAMESPACES, DEFAULT_CONFIG } from '../core/config.js';
import { formatSeconds, parseDuration, parseMargin } from '../core/duration.js';
import type { WebhookConfig } from '../core/types.js';
import { usageError } from './cli-error.js';

export interface FlagSpec {
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  /** Environment variable read when the flag is absent; none for per-invocation flags like -f. */
  env?: string;
  help: string;
  /** Shown in --help. */
  defaultText?: string;
  /** Placeholder shown in --help. */
  value?: string;
}

export function envName(flag: string): string {
  return `WS_DRAIN_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function flag(name: string, help: string, value: string, defaultText?: string): FlagSpec {
  return { name, type: 'string', env: envName(name), help, value, defaultText };
}

/** Cluster-wide settings: the same for `serve`, `inject` and `plan`. */
export const CONFIG_FLAGS: FlagSpec[] = [
  flag('helper-image', 'image of the drain helper init container', 'IMAGE', DEFAULT_CONFIG.helperImage),
  flag('max-grace', 'largest terminationGracePeriodSeconds the webhook will set; pods needing more are denied', 'DURATION', formatSeconds(DEFAULT_CONFIG.maxGraceSeconds)),
  flag('default-session-p95', 'drain budget S when a pod opts in with ws-drain/enabled only', 'DURATION', formatSeconds(DEFAULT_CONFIG.defaultSessionP95Seconds)),
  flag('default-prestop-delay', 'endpoint propagation delay D when ws-drain/prestop-delay is absent', 'DURATION', formatSeconds(DEFAULT_CONFIG.defaultPrestopDelaySeconds)),
  flag('default-cleanup', 'cleanup time C when ws-drain/cleanup is absent', 'DURATION', formatSeconds(DEFAULT_CONFIG.defaultCleanupSeconds)),
  flag('default-margin', 'grace margin M when ws-drain/grace-margin is absent', 'PERCENT', `${Math.round(DEFAULT_CONFIG.defaultMargin * 100)}%`),
  flag('exclude-namespaces', 'namespaces never touched, comma list (kube-system is always excluded)', 'LIST', DEFAULT_CONFIG.excludeNamespaces.join(',')),
];

export const HELP_FLAG: FlagSpec = { name: 'help', type: 'boolean', short: 'h', help: 'show this help' };

export type FlagValues = Record<string, string | boolean | undefined>;

/**
 * Parses argv against the specs (strict: unknown flags and stray positionals
 * are usage errors), then fills absent flags from the environment.
 */
export function parseFlags(argv: string[], specs: FlagSpec[], env: NodeJS.ProcessEnv = process.env): FlagValues {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const s of [...specs, HELP_FLAG]) options[s.name] = s.short ? { type: s.type, short: s.short } : { type: s.type };
  let values: FlagValues;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as FlagValues;
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  for (const s of specs) {
    if (values[s.name] !== undefined || !s.env) continue;
    const fromEnv = env[s.env];
    if (fromEnv === undefined || fromEnv === '') continue;
    if (s.type === 'boolean') {
      if (fromEnv !== 'true' && fromEnv !== 'false') throw usageError(`${s.env}=${JSON.stringify(fromEnv)}: expected true or false`);
      values[s.name] = fromEnv === 'true';
    } else {
      values[s.name] = fromEnv;
    }
  }
  return values;
}

export function stringFlag(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A duration flag in seconds, parsed by the core's parser. */
export function durationFlag(values: FlagValues, name: string, opts: { positive?: boolean } = {}): number | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const seconds = parseDuration(raw);
  if (seconds === undefined || (opts.positive && seconds <= 0)) {
    const sign = opts.positive ? 'positive ' : '';
    throw usageError(`--${name}=${JSON.stringify(raw)}: expected a ${sign}duration such as 90s, 5m, 1h30m or a whole number of seconds`);
  }
  return seconds;
}

export function portFlag(values: FlagValues, name: string, fallback: number): number {
  const raw = stringFlag(values, name);
  if (raw === undefined) return fallback;
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 65535)) throw usageError(`--${name}=${JSON.stringify(raw)}: expected a TCP port number 0-65535 (0 = any free port)`);
  return n;
}

// RFC 1123 label: what Kubernetes accepts as a namespace name.
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// An OCI image reference has no whitespace or control characters; the registry validates the rest.
const IMAGE_REF = /^[^\s\x00-\x1f]+$/;

/** The cluster-wide config from flags/env over DEFAULT_CONFIG. */
export function configFromFlags(values: FlagValues, extraExcluded: string[] = []): WebhookConfig {
  const config: WebhookConfig = { ...DEFAULT_CONFIG, excludeNamespaces: [...DEFAULT_CONFIG.excludeNamespaces] };
  const image = stringFlag(values, 'helper-image');
  if (image !== undefined) {
    if (!IMAGE_REF.test(image)) throw usageError(`--helper-image=${JSON.stringify(image)}: expected an image reference such as ghcr.io/org/ws-drain-helper:0.1.0`);
    config.helperImage = image;
  }
  config.maxGraceSeconds = durationFlag(values, 'max-grace', { positive: true }) ?? config.maxGraceSeconds;
  config.defaultSessionP95Seconds = durationFlag(values, 'default-session-p95') ?? config.defaultSessionP95Seconds;
  config.defaultPrestopDelaySeconds = durationFlag(values, 'default-prestop-delay') ?? config.defaultPrestopDelaySeconds;
  config.defaultCleanupSeconds = durationFlag(values, 'default-cleanup') ?? config.defaultCleanupSeconds;
  const margin = stringFlag(values, 'default-margin');
  if (margin !== undefined) {
    const m = parseMargin(margin);
    if (m === undefined) throw usageError(`--default-margin=${JSON.stringify(margin)}: expected a percentage such as 30% or a fraction such as 0.3 (0-1000%)`);
    config.defaultMargin = m;
  }
  const excluded = stringFlag(values, 'exclude-namespaces');
  if (excluded !== undefined) {
    const names = excluded.split(',').map((n) => n.trim()).filter((n) => n !== '');
    const bad = names.find((n) => !NAMESPACE_NAME.test(n));
    if (bad !== undefined) throw usageError(`--exclude-namespaces: ${JSON.stringify(bad)} is not a namespace name (expected a comma list such as ws-drain-system,monitoring)`);
    config.excludeNamespaces = names;
  }
  config.excludeNamespaces = [...new Set([...ALWAYS_EXCLUDED_NAMESPACES, ...config.excludeNamespaces, ...extraExcluded])];
  return config;
}

/** The flag table of a --help text. */
export function formatFlagHelp(specs: FlagSpec[]): string {
  const rows = [...specs, HELP_FLAG].map((s) => {
    const names = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.value ? ` ${s.value}` : ''}`;
    const extra = [s.defaultText !== undefined ? `default ${s.defaultText}` : '', s.env ? `env ${s.env}` : ''].filter(Boolean).join('; ');
    return [names, `${s.help}${extra ? ` (${extra})` : ''}`];
  });
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  return rows.map(([a, b]) => `  ${a!.padEnd(width)}${b}`).join('\n');
}
