// serve --workers N: the namespace informer runs once, in the primary, and the
// workers keep a copy of what admission reads (cluster.ts explains why once
// per pod). This is the protocol between them over the cluster IPC channel:
//
//   worker → primary  subscribe    once its listener is attached (a message
//                                  sent before that would be lost)
//   primary → worker  snapshot     every namespace the informer holds, and
//                                  whether it has listed them all (synced)
//                     set / delete one namespace changed or gone
//                     synced       the first list is complete
//
// Messages to one worker arrive in the order sent, so a worker started later
// (or a replacement after a crash) has the full state before any change to it.
// Workers validate what arrives with zod: IPC messages are input too.
import { z } from 'zod';
import { withNamespaceDefaults, type NamespaceView } from '../core/namespace-defaults.js';
import type { WebhookConfig } from '../core/types.js';
import type { Logger } from './logger.js';
import type { NamespaceCache, NamespaceData } from './namespaces.js';

const PREFIX = 'ws-drain:namespaces:';

const NamespaceDataSchema = z.object({
  name: z.string().min(1),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
});

const ToWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal(`${PREFIX}snapshot`), synced: z.boolean(), namespaces: z.array(NamespaceDataSchema) }),
  z.object({ type: z.literal(`${PREFIX}set`), namespace: NamespaceDataSchema }),
  z.object({ type: z.literal(`${PREFIX}delete`), name: z.string().min(1) }),
  z.object({ type: z.literal(`${PREFIX}synced`) }),
]);
export type NamespacesToWorker = z.infer<typeof ToWorkerSchema>;

export const SUBSCRIBE = { type: `${PREFIX}subscribe` } as const;

/** A message of this protocol (the other cluster messages pass by). */
export function isNamespacesMessage(m: unknown): boolean {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith(PREFIX);
}

export const isSubscribe = (m: unknown): boolean => isNamespacesMessage(m) && (m as { type: string }).type === SUBSCRIBE.type;

/** Builders for the primary's side. */
export const namespacesMessage = {
  snapshot: (synced: boolean, namespaces: NamespaceData[]): NamespacesToWorker => ({ type: `${PREFIX}snapshot`, synced, namespaces }),
  set: (namespace: NamespaceData): NamespacesToWorker => ({ type: `${PREFIX}set`, namespace }),
  delete: (name: string): NamespacesToWorker => ({ type: `${PREFIX}delete`, name }),
  synced: (): NamespacesToWorker => ({ type: `${PREFIX}synced` }),
};

export interface ReplicaOptions {
  config: WebhookConfig;
  logger: Logger;
  /** The IPC channel to the primary (a cluster worker's `process`). */
  channel?: Pick<NodeJS.Process, 'on' | 'off' | 'send'>;
}

/**
 * A worker's copy of the primary's namespaces, the NamespaceCache admission
 * reads. Not synced until the primary says its informer has listed them all.
 */
export function followPrimaryNamespaces(opts: ReplicaOptions): NamespaceCache {
  const channel = opts.channel ?? process;
  // Each namespace read once per change, as the in-process informer does (withNamespaceDefaults).
  const views = new Map<string, NamespaceView>();
  let synced = false;
  const store = (ns: NamespaceData) => views.set(ns.name, withNamespaceDefaults(ns, opts.config));

  const onMessage = (m: unknown): void => {
    if (!isNamespacesMessage(m)) return;
    const parsed = ToWorkerSchema.safeParse(m);
    if (!parsed.success) {
      opts.logger.error({ err: z.prettifyError(parsed.error).slice(0, 300) }, 'ignored a malformed namespaces message from the primary');
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case `${PREFIX}snapshot`:
        views.clear();
        for (const ns of msg.namespaces) store(ns);
        if (msg.synced && !synced) opts.logger.info({ namespaces: views.size }, 'namespaces received from the primary');
        synced ||= msg.synced;
        break;
      case `${PREFIX}set`:
        store(msg.namespace);
        break;
      case `${PREFIX}delete`:
        views.delete(msg.name);
        break;
      case `${PREFIX}synced`:
        if (!synced) opts.logger.info({ namespaces: views.size }, 'namespaces received from the primary');
        synced = true;
        break;
    }
  };
  channel.on('message', onMessage);
  channel.send?.(SUBSCRIBE);
  return {
    view: (name) => views.get(name) ?? { name, known: false },
    synced: () => synced,
    stop: async () => {
      channel.off('message', onMessage);
    },
  };
}
