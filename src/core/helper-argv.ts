// The ONLY place the helper's command line is built (contract: docs/helper.md,
// "Command line"). Every value is its own argv element, `--flag=value`
// or a bare element after `--`: never a shell string, never `sh -c`.

import { formatSeconds } from './duration.js';
import { HELPER_BINARY, MOUNT_PATH, type DrainSignal } from './types.js';

/** Path of the helper inside the helper image (FROM scratch). */
export const HELPER_IMAGE_BINARY = '/ws-drain-helper';

/** Command of the init container: copy the helper into the shared volume. */
export const INSTALL_COMMAND: readonly string[] = [HELPER_IMAGE_BINARY, 'install', MOUNT_PATH];

export interface PrestopArgs {
  container: string;
  delaySeconds: number;
  /** 0 = do not watch connections. */
  budgetSeconds: number;
  ports: number[];
  /** proxy: wait for the app's sessions only; never signal, never call. */
  role?: 'proxy';
  signal?: DrainSignal;
  drainUrl?: string;
  drainMethod?: string;
  /** The pod's original httpGet preStop, as a URL. */
  hookUrl?: string;
  /** Its headers, each `Name: value`. */
  hookHeaders?: string[];
  /** Bound for the original hook (exec or http): C. */
  hookTimeoutSeconds?: number;
  /** The pod's original exec preStop. */
  hookArgv?: string[];
  /** drain: the original hook is the drain trigger, started at D; default: it runs after the drain. */
  hookAt?: 'drain';
}

/** `/ws-drain/ws-drain-helper prestop --container=… --delay=Ns --budget=Ns --ports=a,b [...] [-- argv]`. */
export function prestopArgv(args: PrestopArgs): string[] {
  const argv = [
    HELPER_BINARY,
    'prestop',
    `--container=${args.container}`,
    `--delay=${formatSeconds(args.delaySeconds)}`,
    `--budget=${formatSeconds(args.budgetSeconds)}`,
    `--ports=${args.ports.join(',')}`,
  ];
  if (args.role !== undefined) argv.push(`--role=${args.role}`);
  if (args.signal !== undefined) argv.push(`--signal=${args.signal}`);
  if (args.drainUrl !== undefined) argv.push(`--drain-url=${args.drainUrl}`);
  if (args.drainMethod !== undefined) argv.push(`--drain-method=${args.drainMethod}`);
  if (args.hookUrl !== undefined) argv.push(`--hook-url=${args.hookUrl}`);
  for (const header of args.hookHeaders ?? []) argv.push(`--hook-header=${header}`);
  if (args.hookTimeoutSeconds !== undefined) argv.push(`--hook-timeout=${formatSeconds(args.hookTimeoutSeconds)}`);
  if (args.hookAt !== undefined) argv.push(`--hook-at=${args.hookAt}`);
  if (args.hookArgv !== undefined && args.hookArgv.length > 0) argv.push('--', ...args.hookArgv);
  return argv;
}

/** True when a preStop command is ours: the webhook or `inject` already ran on this container. */
export function isHelperCommand(command: readonly string[] | null | undefined): boolean {
  return command?.[0] === HELPER_BINARY;
}
