// One resource kept in memory from the API server: a paged LIST, then a WATCH
// from the list's resourceVersion, as client-go's reflector does it.
//
//   - The watch asks for bookmarks and a server-side timeout of 5-10 minutes
//     (random, so replicas do not re-watch in step). A watch that ends on that
//     timeout is opened again from the last resourceVersion seen: no error.
//   - 410 Gone (the answer, or an ERROR event with code 410: the
//     resourceVersion was compacted away) means the events in between are
//     lost: list again and replace the store, reporting as deleted what the
//     new list no longer has.
//   - Anything else (refused, reset, a non-200, a bad event) is an error
//     handed to the caller (which counts and logs it) and retried after an
//     exponential backoff with jitter; a transport error re-watches from the
//     last resourceVersion, a bad event lists again.
//   - A connection that goes silent (a peer gone without a FIN) is cut once
//     nothing has come for longer than the watch's own timeout.
//   - Input is bounded: an event line (MAX_EVENT_BYTES), a list page's bytes
//     and object count, an error answer. Past a bound: an error, never memory.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { VERSION } from '../core/version.js';
import type { KubeConnection } from './connection.js';
import { LineSplitter, MAX_EVENT_BYTES, parseWatchEvent, StatusSchema, type Status } from './watch-stream.js';

export interface KubeObject {
  metadata: { name: string; resourceVersion?: string | undefined };
}

/** What the caller hears; add/update/delete are also called for the changes a re-list finds. */
export interface ListWatchHandlers<T> {
  add(object: T): void;
  update(object: T): void;
  delete(object: T): void;
  /** After every complete list: the store now holds `count` objects (the first call: synced). */
  listed(count: number): void;
  /** A failed list or a lost watch, retried after `retryInMs`. */
  error(err: Error, retryInMs: number): void;
  /** The API server answered a list or watch again after errors. */
  recovered(): void;
  /** The watch's resourceVersion was too old (410 Gone): listing again. */
  expired(resourceVersion: string): void;
}

export interface ListWatchOptions<T extends KubeObject> {
  connection: KubeConnection;
  /** The collection, e.g. /api/v1/namespaces. */
  path: string;
  /** Validates each object; what it strips is not kept. */
  schema: z.ZodType<T>;
  handlers: ListWatchHandlers<T>;
  /** First retry delay; doubles (±20 % jitter) up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Objects asked for per list page (client-go's 500). */
  pageLimit?: number;
  maxPageBytes?: number;
  maxEventBytes?: number;
  /** Objects in one list, all pages together. */
  maxObjects?: number;
  /** The watch's timeoutSeconds is drawn from [min, 2 × min) (client-go: 5 minutes). */
  minWatchSeconds?: number;
  /** Silence tolerated past the watch's timeoutSeconds before the connection is taken for dead. */
  watchIdleGraceMs?: number;
}

export interface ListWatch<T> {
  get(name: string): T | undefined;
  /** Every object the store holds now. */
  list(): T[];
  stop(): Promise<void>;
}

/** A page's bytes: 500 ordinary namespaces are ~1-2 MiB. A larger page makes the next list ask for fewer objects. */
export const MAX_PAGE_BYTES = 32 * 1024 * 1024;
/** Kubernetes is tested to 10 000 namespaces; ten times that is not a cluster. */
export const MAX_OBJECTS = 100_000;
/** An error answer is a Status of a few hundred bytes. */
const MAX_ERROR_BYTES = 64 * 1024;
/** A list page not moving for this long is abandoned (and retried). */
const LIST_IDLE_MS = 60_000;
/** Past the watch's timeoutSeconds, how long silence is tolerated before the connection is taken for dead. */
const WATCH_IDLE_GRACE_MS = 30_000;
/** TCP keep-alive probes, as Go's dialer sends them: a dead peer is noticed without waiting for the idle cut. */
const TCP_KEEPALIVE_MS = 30_000;
/** A watch that ends sooner than this with nothing in it is an error (client-go's "very short watch"), so a peer that closes at once is not hammered. */
const SHORT_WATCH_MS = 1_000;
const USER_AGENT = `ws-drain/${VERSION}`;

/** An error after which the events cannot be trusted to continue: the next attempt lists again. */
class RelistError extends Error {}

class BodyTooLargeError extends Error {}

class StoppedError extends Error {}

/** Starts at once; the first list's outcome reaches the handlers. */
export function startListWatch<T extends KubeObject>(opts: ListWatchOptions<T>): ListWatch<T> {
  const { connection, path, schema, handlers } = opts;
  const initialBackoff = opts.initialBackoffMs ?? 1_000;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const maxPageBytes = opts.maxPageBytes ?? MAX_PAGE_BYTES;
  const maxEventBytes = opts.maxEventBytes ?? MAX_EVENT_BYTES;
  const maxObjects = opts.maxObjects ?? MAX_OBJECTS;
  const minWatchSeconds = opts.minWatchSeconds ?? 300;
  const watchIdleGraceMs = opts.watchIdleGraceMs ?? WATCH_IDLE_GRACE_MS;
  const ListSchema = z.object({
    metadata: z.object({ resourceVersion: z.string().min(1), continue: z.string().optional() }),
    items: z.array(schema).nullable(),
  });

  let store = new Map<string, T>();
  let pageLimit = opts.pageLimit ?? 500;
  let resourceVersion = '';
  let eventsSinceList = 0;
  let backoff = initialBackoff;
  let failing = false;
  let stopped = false;
  let current: ClientRequest | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  /**
   * Sends a GET and resolves once the answer's headers are in, with what cut
   * the connection later if this side did (the idle timeout): the answer's own
   * events only say it closed.
   */
  async function get(what: 'list' | 'watch', query: URLSearchParams, idleMs: number): Promise<{ res: IncomingMessage; cutBecause: () => Error | undefined }> {
    const named = (err: unknown): Error => new Error(`${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    let target;
    try {
      target = await connection.requestFor(`${path}?${query.toString()}`);
    } catch (err) {
      throw named(err);
    }
    const { url, options } = target;
    if (stopped) throw new StoppedError('stopped');
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      let cut: Error | undefined;
      const req = send(url, { ...options, method: 'GET', headers: { ...options.headers, accept: 'application/json', 'user-agent': USER_AGENT } }, (res) => {
        // Reported through 'close' and the readers' own listeners; without one an 'error' would be thrown.
        res.on('error', () => {});
        resolve({ res, cutBecause: () => cut });
      });
      current = req;
      req.setTimeout(idleMs, () => {
        cut = named(`nothing from the API server for ${Math.round(idleMs / 1000)} s`);
        req.destroy(cut);
      });
      req.once('socket', (socket) => socket.setKeepAlive(true, TCP_KEEPALIVE_MS));
      // Before the answer: the request failed (after it, a no-op: the answer reports).
      req.on('error', (err) => reject(cut ?? named(err)));
      req.end();
    });
  }

  /** Resolves with the body once complete; rejects past maxBytes or if the connection closes first. */
  function readBody(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          res.destroy();
          reject(new BodyTooLargeError(`an answer of more than ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.once('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
      res.once('close', () => {
        if (!res.complete) reject(new Error('the connection closed before the answer was complete'));
      });
    });
  }

  async function statusError(what: string, res: IncomingMessage): Promise<Error> {
    let status: Status = {};
    try {
      status = StatusSchema.parse(JSON.parse((await readBody(res, MAX_ERROR_BYTES)).toString('utf8')));
    } catch {
      // not a Status (a proxy's page, a cut answer): the code says enough
    }
    return new Error(`${what}: HTTP ${res.statusCode ?? 0}${status.message ? `: ${status.message}` : ''}`);
  }

  function answered(): void {
    if (!failing) return;
    failing = false;
    handlers.recovered();
  }

  /** Every page, then the store replaced at once; returns the list's resourceVersion. */
  async function list(): Promise<string> {
    const next = new Map<string, T>();
    let cont = '';
    let listVersion = '';
    do {
      const query = new URLSearchParams({ limit: String(pageLimit) });
      if (cont !== '') query.set('continue', cont);
      const { res, cutBecause } = await get('list', query, LIST_IDLE_MS);
      // 410 here: the continue token outlived its snapshot (a list slower than compaction); the next attempt starts over.
      if (res.statusCode !== 200) throw await statusError(`list ${path}`, res);
      let body: Buffer;
      try {
        body = await readBody(res, maxPageBytes);
      } catch (err) {
        if (!(err instanceof BodyTooLargeError)) throw cutBecause() ?? new Error(`list ${path}: ${(err as Error).message}`);
        const asked = pageLimit;
        pageLimit = Math.max(1, Math.floor(pageLimit / 10));
        throw new Error(`list ${path}: a page of ${asked} objects is over ${maxPageBytes} bytes; the next list asks for ${pageLimit}`);
      }
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        throw new Error(`list ${path}: the answer is not JSON`);
      }
      const page = ListSchema.safeParse(json);
      if (!page.success) throw new Error(`list ${path}: ${z.prettifyError(page.error).slice(0, 300)}`);
      for (const object of page.data.items ?? []) next.set(object.metadata.name, object);
      if (next.size > maxObjects) throw new Error(`list ${path}: more than ${maxObjects} objects`);
      cont = page.data.metadata.continue ?? '';
      listVersion = page.data.metadata.resourceVersion;
    } while (cont !== '');
    const previous = store;
    store = next;
    for (const [name, object] of previous) if (!next.has(name)) handlers.delete(object);
    for (const [name, object] of next) {
      if (previous.has(name)) handlers.update(object);
      else handlers.add(object);
    }
    handlers.listed(next.size);
    return listVersion;
  }

  /** One watch from `resourceVersion`, to its end: 'ended' (server timeout) or 'expired' (410). */
  async function watch(): Promise<'ended' | 'expired'> {
    const timeoutSeconds = Math.floor(minWatchSeconds * (1 + Math.random()));
    const query = new URLSearchParams({ watch: '1', resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) });
    const started = Date.now();
    const { res, cutBecause } = await get('watch', query, timeoutSeconds * 1000 + watchIdleGraceMs);
    if (res.statusCode === 410) {
      res.resume();
      return 'expired';
    }
    if (res.statusCode !== 200) throw await statusError(`watch ${path}`, res);
    answered();
    const lines = new LineSplitter(maxEventBytes);
    let events = 0;
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (outcome: 'ended' | 'expired' | Error): void => {
        if (done) return;
        done = true;
        if (outcome instanceof Error) {
          res.destroy();
          reject(outcome);
        } else {
          if (outcome === 'expired') res.destroy();
          resolve(outcome);
        }
      };
      const apply = (line: string): void => {
        const event = parseWatchEvent(line, schema);
        if (event.type === 'ERROR') {
          const { code, reason, message } = event.status;
          if (code === 410) finish('expired');
          else finish(new RelistError(`watch ${path}: ERROR event: ${[code, reason, message].filter((x) => x !== undefined).join(' ')}`));
          return;
        }
        events += 1;
        eventsSinceList += 1;
        // The watch delivers: the backoff of earlier failures is over.
        backoff = initialBackoff;
        if (event.type === 'BOOKMARK') {
          resourceVersion = event.resourceVersion;
          return;
        }
        const { name, resourceVersion: objectVersion } = event.object.metadata;
        if (event.type === 'DELETED') {
          store.delete(name);
          handlers.delete(event.object);
        } else {
          const existed = store.has(name);
          store.set(name, event.object);
          if (existed) handlers.update(event.object);
          else handlers.add(event.object);
        }
        if (objectVersion) resourceVersion = objectVersion;
      };
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        try {
          for (const line of lines.push(chunk)) {
            if (done) return;
            if (line.trim() !== '') apply(line);
          }
        } catch (err) {
          // A line past the cap or one that is not an event: what follows cannot be trusted to continue from it.
          finish(new RelistError(`watch ${path}: ${(err as Error).message}`));
        }
      });
      res.once('end', () => {
        if (lines.unfinished() > 0) finish(new Error(`watch ${path}: the answer ended inside an event`));
        else if (events === 0 && Date.now() - started < SHORT_WATCH_MS) finish(new Error(`watch ${path}: closed at once with no event`));
        else {
          backoff = initialBackoff;
          finish('ended');
        }
      });
      res.on('error', (err) => finish(cutBecause() ?? new Error(`watch ${path}: ${err.message}`)));
      res.once('close', () => finish(cutBecause() ?? new Error(`watch ${path}: the connection closed`)));
    });
  }

  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      retryTimer = setTimeout(resolve, ms);
    });

  async function run(): Promise<void> {
    while (!stopped) {
      try {
        if (resourceVersion === '') {
          resourceVersion = await list();
          eventsSinceList = 0;
          backoff = initialBackoff;
          answered();
        }
        if ((await watch()) === 'expired') {
          // Straight after a list, its own resourceVersion cannot have expired unless something is wrong: back off.
          if (eventsSinceList === 0) throw new RelistError(`watch ${path}: 410 Gone for the resourceVersion of the list just made`);
          handlers.expired(resourceVersion);
          resourceVersion = '';
        }
      } catch (err) {
        if (stopped) return;
        if (err instanceof RelistError) resourceVersion = '';
        const delay = Math.round(backoff * (0.8 + Math.random() * 0.4));
        backoff = Math.min(backoff * 2, maxBackoff);
        failing = true;
        handlers.error(err instanceof Error ? err : new Error(String(err)), delay);
        await pause(delay);
      }
    }
  }
  const running = run();

  return {
    get: (name) => store.get(name),
    list: () => [...store.values()],
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      wake?.();
      current?.destroy();
      await running;
    },
  };
}
