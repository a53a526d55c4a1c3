// A fleet of WebSocket clients that behave like well-written browser clients:
// they send numbered messages, expect an acknowledgement for each, honour the
// server's going-away notice, and reconnect with full-jitter exponential backoff.
// Everything that matters for a drain is recorded with a timestamp.
import WebSocket from 'ws';

export interface FleetOptions {
  url: string;
  clients: number;
  /** Each client sends one numbered message this often while connected. */
  sendIntervalMs: number;
  /** Full-jitter backoff: the n-th attempt waits random(0, min(cap, base × 2^n)). */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Initial connects are spread over this time so the listener's backlog is not flooded. */
  rampMs: number;
  /** Give up on a handshake that takes longer than this (counted as refused). */
  handshakeTimeoutMs: number;
}

export const DEFAULT_FLEET_OPTIONS: Omit<FleetOptions, 'url' | 'clients'> = {
  sendIntervalMs: 1000,
  backoffBaseMs: 250,
  backoffCapMs: 5000,
  rampMs: 1000,
  handshakeTimeoutMs: 5000,
};

export interface OpenEvent { t: number; client: number; pod: string }
export interface CloseEvent { t: number; client: number; pod: string; code: number; reason: string }
export interface RefusedEvent { t: number; client: number; reason: string }
export interface LostMessage { client: number; seq: number; pod: string; sentAt: number; closedAt: number }

export interface FleetReport {
  opens: OpenEvent[];
  closes: CloseEvent[];
  refused: RefusedEvent[];
  lost: LostMessage[];
  sent: number;
  acked: number;
  /** Open connections sampled over time (client side). */
  samples: Array<{ t: number; open: number }>;
}

interface ClientState {
  id: number;
  ws?: WebSocket;
  pod: string;
  seq: number;
  /** seq → send time, for messages not yet acknowledged on the current connection. */
  pending: Map<number, number>;
  goaway: boolean;
  attempt: number;
  sendTimer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
  opened: boolean;
}

export class ClientFleet {
  private readonly opts: FleetOptions;
  private readonly states: ClientState[] = [];
  private readonly report: FleetReport = { opens: [], closes: [], refused: [], lost: [], sent: 0, acked: 0, samples: [] };
  private stopping = false;
  private sampler?: NodeJS.Timeout;
  private openCount = 0;

  constructor(opts: Partial<FleetOptions> & Pick<FleetOptions, 'url' | 'clients'>) {
    this.opts = { ...DEFAULT_FLEET_OPTIONS, ...opts };
    if (!Number.isInteger(this.opts.clients) || this.opts.clients < 1) throw new Error(`clients must be a positive integer, got ${opts.clients}`);
  }

  /** Connects every client; resolves once each has been open at least once (or rejects after timeoutMs). */
  start(timeoutMs = 30_000): Promise<void> {
    this.sampler = setInterval(() => this.report.samples.push({ t: Date.now(), open: this.openCount }), 100);
    const { clients, rampMs } = this.opts;
    for (let i = 0; i < clients; i++) {
      const state: ClientState = { id: i, pod: '', seq: 0, pending: new Map(), goaway: false, attempt: 0, opened: false };
      this.states.push(state);
      state.retryTimer = setTimeout(() => this.connect(state), Math.round((i * rampMs) / clients));
    }
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = setInterval(() => {
        if (this.states.every((s) => s.opened)) {
          clearInterval(check);
          resolve();
        } else if (Date.now() > deadline) {
          clearInterval(check);
          const missing = this.states.filter((s) => !s.opened).length;
          reject(new Error(`${missing} of ${clients} clients never connected to ${this.opts.url} within ${timeoutMs} ms`));
        }
      }, 50);
    });
  }

  /** Connections currently open, by pod name. */
  connectedByPod(): Map<string, number> {
    const by = new Map<string, number>();
    for (const s of this.states) if (s.ws?.readyState === WebSocket.OPEN && s.pod) by.set(s.pod, (by.get(s.pod) ?? 0) + 1);
    return by;
  }

  /** Closes every client with 1000 and stops recording; returns what was recorded. */
  async stop(): Promise<FleetReport> {
    this.stopping = true;
    if (this.sampler) clearInterval(this.sampler);
    const closing: Array<Promise<void>> = [];
    for (const s of this.states) {
      clearTimeout(s.sendTimer);
      clearTimeout(s.retryTimer);
      const ws = s.ws;
      if (!ws) continue;
      if (ws.readyState === WebSocket.CLOSED) continue;
      closing.push(
        new Promise((resolve) => {
          ws.once('close', () => resolve());
          const kill = setTimeout(() => ws.terminate(), 2000);
          ws.once('close', () => clearTimeout(kill));
          if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
          else ws.close(1000, 'client done');
        }),
      );
    }
    await Promise.all(closing);
    return this.report;
  }

  private connect(s: ClientState): void {
    if (this.stopping) return;
    const ws = new WebSocket(this.opts.url, { handshakeTimeout: this.opts.handshakeTimeoutMs });
    s.ws = ws;
    s.pod = '';
    s.goaway = false;
    let open = false;
    let failed = false;
    const refuse = (reason: string): void => {
      if (open || failed) return;
      failed = true;
      if (!this.stopping) this.report.refused.push({ t: Date.now(), client: s.id, reason });
    };
    ws.on('unexpected-response', (_req, res) => {
      refuse(`HTTP ${res.statusCode}`);
      ws.terminate();
    });
    ws.on('error', (err: NodeJS.ErrnoException) => refuse(err.code ?? err.message));
    ws.on('open', () => {
      open = true;
      s.opened = true;
      s.attempt = 0;
      this.openCount++;
    });
    ws.on('message', (data) => this.onMessage(s, ws, String(data)));
    ws.on('close', (code, reasonBuf) => {
      clearTimeout(s.sendTimer);
      if (!open) {
        refuse(`closed before open (${code})`);
      } else {
        this.openCount--;
        const t = Date.now();
        if (!this.stopping) {
          this.report.closes.push({ t, client: s.id, pod: s.pod, code, reason: String(reasonBuf) });
          for (const [seq, sentAt] of s.pending) this.report.lost.push({ client: s.id, seq, pod: s.pod, sentAt, closedAt: t });
        }
      }
      s.pending.clear();
      this.scheduleReconnect(s, open);
    });
  }

  private onMessage(s: ClientState, ws: WebSocket, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as Record<string, unknown>;
    if (typeof m.ack === 'number') {
      if (s.pending.delete(m.ack)) this.report.acked++;
    } else if (typeof m.hello === 'object' && m.hello !== null) {
      const pod = (m.hello as Record<string, unknown>).pod;
      s.pod = typeof pod === 'string' ? pod : '?';
      if (!this.stopping) this.report.opens.push({ t: Date.now(), client: s.id, pod: s.pod });
      this.scheduleSend(s, ws);
    } else if (m.goaway !== undefined) {
      // Stop sending here; the answer travels behind every message already sent,
      // so the server acknowledges those before its 1001 close.
      s.goaway = true;
      clearTimeout(s.sendTimer);
      ws.send(JSON.stringify({ goaway: 'ok' }));
    }
  }

  private scheduleSend(s: ClientState, ws: WebSocket): void {
    // Random phase so a thousand clients do not send in lockstep.
    const first = Math.random() * this.opts.sendIntervalMs;
    const tick = (): void => {
      if (this.stopping || s.goaway || ws.readyState !== WebSocket.OPEN) return;
      const seq = ++s.seq;
      s.pending.set(seq, Date.now());
      this.report.sent++;
      ws.send(JSON.stringify({ seq }));
      s.sendTimer = setTimeout(tick, this.opts.sendIntervalMs);
    };
    s.sendTimer = setTimeout(tick, first);
  }

  private scheduleReconnect(s: ClientState, wasOpen: boolean): void {
    if (this.stopping) return;
    if (!wasOpen) s.attempt++;
    const ceiling = Math.min(this.opts.backoffCapMs, this.opts.backoffBaseMs * 2 ** s.attempt);
    s.retryTimer = setTimeout(() => this.connect(s), Math.random() * ceiling);
  }
}

/** Most events inside any window of windowMs (a sliding window over sorted times). */
export function peakRate(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= windowMs) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

export function summarise(report: FleetReport): Record<string, unknown> {
  const codes: Record<string, number> = {};
  for (const c of report.closes) codes[c.code] = (codes[c.code] ?? 0) + 1;
  return {
    sent: report.sent,
    acked: report.acked,
    lost: report.lost.length,
    refused: report.refused.length,
    closeCodes: codes,
    connects: report.opens.length,
    peakConnectsPerSecond: peakRate(report.opens.map((o) => o.t)),
  };
}
