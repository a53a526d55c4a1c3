// A TCP load balancer stand-in for a Service (kube-proxy / an ingress): a plain
// `net` proxy that pipes sockets. Removing a backend only stops routing NEW
// connections to it, after a configurable propagation lag, exactly like an
// endpoint removal reaching kube-proxy late; established connections are never
// cut by the balancer.
import net from 'node:net';

export interface Backend {
  name: string;
  host: string;
  port: number;
}

export interface BackendConnection {
  backend: string;
  openedAt: number;
  closedAt?: number;
}

export interface RefusedByBackend {
  backend: string;
  t: number;
  code: string;
}

interface BackendState extends Backend {
  /** Routable once no active backend is left (the new pod waiting behind the old one). */
  standby: boolean;
  removed: boolean;
  active: number;
}

export class TcpBalancer {
  private readonly server: net.Server;
  private readonly backends: BackendState[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private rr = 0;
  readonly connections: BackendConnection[] = [];
  readonly refused: RefusedByBackend[] = [];
  /** Active connections per backend, sampled every sampleMs. */
  readonly samples: Array<{ t: number; active: Record<string, number> }> = [];
  private sampler?: NodeJS.Timeout;

  constructor(backends: Backend[], private readonly sampleMs = 100) {
    for (const b of backends) this.addBackend(b);
    this.server = net.createServer((client) => this.route(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve());
    });
    this.sampler = setInterval(() => this.sample(), this.sampleMs);
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `standby`: receives traffic only when no other backend is routable. */
  addBackend(b: Backend, opts: { standby?: boolean } = {}): void {
    if (this.backends.some((x) => x.name === b.name)) throw new Error(`backend ${b.name} already exists`);
    this.backends.push({ ...b, standby: opts.standby ?? false, removed: false, active: 0 });
  }

  /** Stops routing new connections to `name` after lagMs; resolves when it happened. */
  removeBackend(name: string, lagMs: number): Promise<number> {
    const b = this.backends.find((x) => x.name === name);
    if (!b) throw new Error(`no backend named ${name}`);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        b.removed = true;
        resolve(Date.now());
      }, lagMs);
      this.timers.add(t);
    });
  }

  activeConnections(name: string): number {
    return this.backends.find((x) => x.name === name)?.active ?? 0;
  }

  async close(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pick(): BackendState | undefined {
    const live = this.backends.filter((b) => !b.removed);
    const primary = live.filter((b) => !b.standby);
    const pool = primary.length > 0 ? primary : live;
    if (pool.length === 0) return undefined;
    return pool[this.rr++ % pool.length];
  }

  private sample(): void {
    const active: Record<string, number> = {};
    for (const b of this.backends) active[b.name] = b.active;
    this.samples.push({ t: Date.now(), active });
  }

  private route(client: net.Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    const b = this.pick();
    if (!b) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: b.host, port: b.port });
    this.sockets.add(upstream);
    let connected = false;
    let record: BackendConnection | undefined;
    upstream.on('connect', () => {
      connected = true;
      b.active++;
      record = { backend: b.name, openedAt: Date.now() };
      this.connections.push(record);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // A dead pod answers SYN with RST: the client sees its connect fail, as it would through kube-proxy.
      if (!connected) this.refused.push({ backend: b.name, t: Date.now(), code: err.code ?? err.message });
      client.resetAndDestroy();
    });
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      if (connected && record) {
        b.active--;
        record.closedAt = Date.now();
      }
      if (!client.destroyed) client.end();
    });
    client.on('close', () => {
      if (!upstream.destroyed) upstream.end();
    });
  }
}
