// A small TCP proxy, the stand-in for a sidecar that carries an app's traffic
// (a mesh proxy, a TLS terminator): it forwards every connection on --listen
// to --to and logs, as JSON lines on stdout, every signal it receives. A
// signal other than SIGTERM is only logged — a proxy that got the app's drain
// signal is the mistake ws-drain must not make (docs/drain-behaviour.md). On
// SIGTERM it logs how many connections it still carried, closes them and exits.
//
//   node tcp-proxy.cjs --listen 8443 --to 127.0.0.1:8080 [--name istio-proxy]
import net from 'node:net';
import { z } from 'zod';
import { failUsage, parseFlags } from '../flags.js';

const Flags = z.object({
  name: z.string().min(1).default('tcp-proxy'),
  listen: z.coerce.number({ message: '--listen must be a port number' }).int().min(1).max(65535),
  to: z.string().regex(/^[^:\s]+:\d{1,5}$/, '--to must be HOST:PORT'),
});

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), app: 'tcp-proxy', event, ...fields }) + '\n');
}

const f = parseFlags('tcp-proxy', { name: { type: 'string' }, listen: { type: 'string' }, to: { type: 'string' } }, Flags);
const colon = f.to.lastIndexOf(':');
const upstream = { host: f.to.slice(0, colon), port: Number(f.to.slice(colon + 1)) };
const open = new Set<net.Socket>();

const server = net.createServer((client) => {
  const up = net.connect(upstream.port, upstream.host);
  open.add(client);
  client.pipe(up);
  up.pipe(client);
  const end = (): void => {
    open.delete(client);
    client.destroy();
    up.destroy();
  };
  for (const s of [client, up]) {
    s.on('error', end);
    s.on('close', end);
  }
});
server.on('error', (err) => failUsage('tcp-proxy', err.message));
server.listen(f.listen, '0.0.0.0', () => log('listening', { name: f.name, listen: f.listen, to: f.to }));

for (const signal of ['SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGHUP', 'SIGINT'] as const) {
  process.on(signal, () => log('signal', { signal, connections: open.size }));
}
process.on('SIGTERM', () => {
  log('signal', { signal: 'SIGTERM', connections: open.size });
  server.close();
  for (const s of open) s.destroy();
  log('exit', {});
  process.exit(0);
});
