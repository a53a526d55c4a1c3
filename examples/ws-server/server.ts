// A small WebSocket echo/ack server used by the lifecycle tests and the drain
// benchmark. It is the "app" in a pod: it counts sessions, acknowledges numbered
// messages and knows three ways of ending:
//   drain  — on a drain trigger (signal or POST /drain) it closes every session
//            with 1001 "going away", spread evenly over a stagger window; on
//            SIGTERM it closes what is left and exits.
//   naive  — the articles' recipe: on SIGTERM close every session with 1001 at once.
//   exit   — default Kubernetes: exit on SIGTERM, sockets simply die (clients see 1006).
// With a metrics port it also serves Prometheus text on GET /metrics and keeps
// idle scrape connections open (keep-alive), as exporters do: the port whose
// connections never close on their own (docs/drain-behaviour.md).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';

export type SigtermBehaviour = 'drain' | 'naive' | 'exit';

export interface WsServerOptions {
  /** Pod name, sent to clients in the hello message and written into logs. */
  name: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Separate loopback-only port for POST /drain; undefined serves /drain on `port` (loopback peers only). */
  adminPort?: number;
  /** Port for GET /metrics (all interfaces, keep-alive); undefined: none. */
  metricsPort?: number;
  staggerMs: number;
  /** How long a session may take to answer the going-away notice before it is closed anyway. */
  goawayTimeoutMs: number;
  /** After SIGTERM, how long to wait for close handshakes before exiting. */
  shutdownTimeoutMs: number;
  sigterm: SigtermBehaviour;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

export interface RunningWsServer {
  port: number;
  adminPort?: number;
  metricsPort?: number;
  sessions(): number;
  /** Starts the staggered drain; repeated calls are ignored. */
  startDrain(source: string): void;
  /** SIGTERM behaviour without exiting the process: resolves when the server would exit. */
  terminate(): Promise<void>;
  close(): Promise<void>;
}

const GOING_AWAY = 1001;

interface Session {
  id: number;
  ws: WebSocket;
  closing: boolean;
}

export async function startWsServer(opts: WsServerOptions): Promise<RunningWsServer> {
  const sessions = new Map<number, Session>();
  let nextId = 1;
  let draining = false;
  let drainEndsAt = 0;
  let terminating = false;
  const timers = new Set<NodeJS.Timeout>();
  const allClosedWaiters: Array<() => void> = [];

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const httpServer = http.createServer((req, res) => {
    if (opts.adminPort === undefined && req.url === '/drain') return handleDrainRequest(req, res);
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
  });
  const wss = new WebSocketServer({ server: httpServer });

  // Closing with a short going-away handshake: the client stops sending and
  // answers; because TCP is ordered, every message it sent before that answer
  // has already been acknowledged when the 1001 close frame goes out, so a
  // graceful close never strands an in-flight message.
  const closeGoingAway = (s: Session, reason: string): void => {
    if (s.closing) return;
    s.closing = true;
    try {
      s.ws.send(JSON.stringify({ goaway: reason }));
    } catch {
      // socket already failing; the close below reports it
    }
    later(opts.goawayTimeoutMs, () => s.ws.close(GOING_AWAY, reason));
  };

  wss.on('connection', (ws) => {
    const s: Session = { id: nextId++, ws, closing: false };
    sessions.set(s.id, s);
    ws.send(JSON.stringify({ hello: { pod: opts.name, session: s.id } }));
    ws.on('message', (data: RawData) => onMessage(s, data));
    ws.on('close', () => {
      sessions.delete(s.id);
      if (sessions.size === 0) for (const w of allClosedWaiters.splice(0)) w();
    });
    ws.on('error', () => ws.terminate());
    // A session arriving while draining (routing lag longer than the preStop delay)
    // is told to go away right at the end of the stagger window rather than kept.
    if (draining || terminating) later(Math.max(0, drainEndsAt - Date.now()), () => closeGoingAway(s, 'draining'));
  });

  function onMessage(s: Session, data: RawData): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(data));
    } catch {
      s.ws.send(JSON.stringify({ error: 'expected JSON' }));
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const msg = parsed as Record<string, unknown>;
    if (typeof msg.seq === 'number') {
      s.ws.send(JSON.stringify({ ack: msg.seq }));
    } else if (msg.goaway === 'ok') {
      s.ws.close(GOING_AWAY, 'going away');
    } else if (typeof msg.echo === 'string') {
      s.ws.send(JSON.stringify({ echo: msg.echo }));
    }
  }

  function startDrain(source: string): void {
    if (draining || opts.sigterm !== 'drain') return;
    draining = true;
    // Evenly spaced, in random order: the reconnect rate at the next pod stays
    // close to sessions / window instead of arriving as one burst.
    const open = shuffle([...sessions.values()].filter((s) => !s.closing));
    const step = open.length > 0 ? opts.staggerMs / open.length : 0;
    drainEndsAt = Date.now() + opts.staggerMs;
    opts.log('drain-start', { source, sessions: open.length, staggerMs: opts.staggerMs });
    open.forEach((s, i) => later(Math.round(i * step), () => closeGoingAway(s, 'draining')));
  }

  function handleDrainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const peer = req.socket.remoteAddress ?? '';
    // A peer calling from the server's own address is inside the pod too (a
    // listener bound to the pod IP only is reached on that address).
    if (!isLoopback(peer) && peer !== req.socket.localAddress) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('drain is loopback-only\n');
      return;
    }
    // GET too: a Kubernetes httpGet preStop can only GET.
    if (req.method !== 'POST' && req.method !== 'GET') {
      res.writeHead(405, { allow: 'POST, GET', 'content-type': 'text/plain' }).end('use POST\n');
      return;
    }
    if (opts.sigterm !== 'drain') {
      res.writeHead(409, { 'content-type': 'text/plain' }).end(`no drain in ${opts.sigterm} mode\n`);
      return;
    }
    startDrain('http');
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ draining: true, sessions: sessions.size }) + '\n');
  }

  let adminServer: http.Server | undefined;
  if (opts.adminPort !== undefined) {
    adminServer = http.createServer((req, res) => {
      if (req.url === '/drain') return handleDrainRequest(req, res);
      res.writeHead(404).end();
    });
    await listen(adminServer, opts.adminPort, '127.0.0.1');
  }
  let metricsServer: http.Server | undefined;
  let scrapes = 0;
  if (opts.metricsPort !== undefined) {
    metricsServer = http.createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      scrapes++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(
        `# TYPE ws_sessions gauge\nws_sessions ${sessions.size}\n# TYPE ws_draining gauge\nws_draining ${draining ? 1 : 0}\n# TYPE ws_scrapes_total counter\nws_scrapes_total ${scrapes}\n`,
      );
    });
    // Longer than any scrape interval: the scraper's connection stays open between scrapes.
    metricsServer.keepAliveTimeout = 10 * 60_000;
    await listen(metricsServer, opts.metricsPort, opts.host);
  }
  await listen(httpServer, opts.port, opts.host);

  async function terminate(): Promise<void> {
    if (terminating) return;
    terminating = true;
    opts.log('sigterm', { behaviour: opts.sigterm, sessions: sessions.size });
    wss.close();
    httpServer.close();
    adminServer?.close();
    metricsServer?.close();
    metricsServer?.closeIdleConnections();
    if (opts.sigterm === 'exit' || sessions.size === 0) return;
    // drain: whatever the stagger has not reached yet; naive: everything, at once.
    for (const s of sessions.values()) closeGoingAway(s, 'shutdown');
    await new Promise<void>((resolve) => {
      allClosedWaiters.push(resolve);
      later(opts.goawayTimeoutMs + opts.shutdownTimeoutMs, resolve);
    });
  }

  return {
    port: (httpServer.address() as AddressInfo).port,
    adminPort: adminServer ? (adminServer.address() as AddressInfo).port : undefined,
    metricsPort: metricsServer ? (metricsServer.address() as AddressInfo).port : undefined,
    sessions: () => sessions.size,
    startDrain,
    terminate,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sessions.values()) s.ws.terminate();
      wss.close();
      metricsServer?.closeAllConnections();
      await Promise.all([closeServer(httpServer), ...[adminServer, metricsServer].map((s) => (s ? closeServer(s) : Promise.resolve()))]);
    },
  };
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // A large backlog: a thousand clients reconnecting in the same second must not overflow the SYN queue.
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
