// Keep-alive admission load across a webhook rollout, as the API server sees
// it: every client keeps one connection to "the Service" and reuses it; a new
// connection goes to the replica kube-proxy currently routes to. A deleted pod
// leaves the EndpointSlice at once (terminating, not ready); kube-proxy on each
// node applies that after a propagation lag, which the webhook's shutdown delay
// must cover. Shared by the shutdown test (zero failures) and
// bench/hostile.ts (loss table).
import { Agent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface RolloutLoadOptions {
  clients: number;
  ca: string;
  /** The replica being shut down, and the one taking over. */
  oldPort: number;
  newPort: number;
  body: string;
  /** Begins the old replica's shutdown; resolves when it has finished. */
  shutdownOld: () => Promise<void>;
  /** Load before the shutdown starts (once every client has been answered) and after it ended. */
  warmupMs: number;
  cooldownMs: number;
  /** From the start of the shutdown until new connections go to the new replica. */
  propagationMs: number;
}

export interface RolloutLoadResult {
  ok: number;
  failed: number;
  /** Failure counts by error code or status. */
  failures: Record<string, number>;
  /** Answers that carried `Connection: close`. */
  connectionClose: number;
  /** Requests answered by the old replica after its shutdown began. */
  oldAfterShutdown: number;
  /** /readyz of the old replica once its shutdown began (first poll). */
  readyzDuringShutdown: number;
}

function get(port: number, ca: string, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

export async function rolloutUnderLoad(o: RolloutLoadOptions): Promise<RolloutLoadResult> {
  let endpoint = o.oldPort;
  let shuttingDown = false;
  let stop = false;
  const result: RolloutLoadResult = { ok: 0, failed: 0, failures: {}, connectionClose: 0, oldAfterShutdown: 0, readyzDuringShutdown: 0 };

  function fail(code: string): void {
    result.failed++;
    result.failures[code] = (result.failures[code] ?? 0) + 1;
  }

  let warm = 0;
  let allWarm: () => void = () => {};
  const warmed = new Promise<void>((resolve) => (allWarm = resolve));

  async function client(): Promise<void> {
    let answered = false;
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: o.ca });
    // Same pool key for every request (the Service address); the backend is chosen per new connection.
    (agent as unknown as { createConnection: (opts: ConnectionOptions, cb: unknown) => unknown }).createConnection = (opts) =>
      tlsConnect({ ...opts, host: '127.0.0.1', port: endpoint, servername: 'localhost' });
    while (!stop) {
      await new Promise<void>((resolve) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: 443, method: 'POST', path: '/mutate', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            const port = res.socket.remotePort;
            res.resume();
            res.on('end', () => {
              if (!answered && ++warm === o.clients) allWarm();
              answered = true;
              if (res.statusCode === 200) result.ok++;
              else fail(`HTTP ${res.statusCode ?? 0}`);
              if (res.headers.connection === 'close') result.connectionClose++;
              if (shuttingDown && port === o.oldPort) result.oldAfterShutdown++;
              resolve();
            });
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => {
          fail(err.code ?? err.message);
          resolve();
        });
        req.end(o.body);
      });
    }
    agent.destroy();
  }

  const clients = Array.from({ length: o.clients }, () => client());
  // Like the API server's pool in steady state: every client has its connection before the rollout.
  await warmed;
  await new Promise((r) => setTimeout(r, o.warmupMs));
  shuttingDown = true;
  const propagated = setTimeout(() => (endpoint = o.newPort), o.propagationMs);
  const done = o.shutdownOld();
  result.readyzDuringShutdown = await get(o.oldPort, o.ca, '/readyz');
  await done;
  clearTimeout(propagated);
  endpoint = o.newPort;
  await new Promise((r) => setTimeout(r, o.cooldownMs));
  stop = true;
  await Promise.all(clients);
  return result;
}
