// CLI for the example WebSocket server. JSON log lines on stdout.
//
//   tsx examples/ws-server/main.ts --port 8080 [--host 0.0.0.0] [--name old]
//       [--drain-signal SIGUSR1] [--stagger 5s] [--admin-port 9090] [--metrics-port 9464]
//       [--naive | --exit-on-sigterm]
//
// Drain triggers: the drain signal, or `POST /drain` from loopback (on the admin
// port if given, else on the WebSocket port; GET too, as an httpGet preStop sends).
import { z } from 'zod';
import { durationMs, failUsage, parseFlags } from '../flags.js';
import { startWsServer, type SigtermBehaviour } from './server.js';

const SIGNALS = ['SIGUSR1', 'SIGUSR2', 'SIGHUP', 'SIGQUIT', 'SIGINT'] as const;


const port = (flag: string) =>
  z.coerce.number({ message: `--${flag} must be a number` }).int().min(0, `--${flag} must be 0-65535`).max(65535, `--${flag} must be 0-65535`);

const Flags = z
  .object({
    name: z.string().min(1).default('ws-echo'),
    host: z.string().min(1).default('0.0.0.0'),
    port: port('port').default(8080),
    'admin-port': port('admin-port').optional(),
    'metrics-port': port('metrics-port').optional(),
    'drain-signal': z.enum(SIGNALS, { message: `--drain-signal must be one of ${SIGNALS.join(', ')}` }).default('SIGUSR1'),
    stagger: durationMs('stagger').default(5000),
    'goaway-timeout': durationMs('goaway-timeout').default(1000),
    'shutdown-timeout': durationMs('shutdown-timeout').default(2000),
    naive: z.boolean().default(false),
    'exit-on-sigterm': z.boolean().default(false),
  })
  .refine((f) => !(f.naive && f['exit-on-sigterm']), { message: '--naive and --exit-on-sigterm exclude each other' });

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), app: 'ws-server', event, ...fields }) + '\n');
}

async function main(): Promise<void> {
  const f = parseFlags('ws-server', {
    name: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'admin-port': { type: 'string' },
    'metrics-port': { type: 'string' },
    'drain-signal': { type: 'string' },
    stagger: { type: 'string' },
    'goaway-timeout': { type: 'string' },
    'shutdown-timeout': { type: 'string' },
    naive: { type: 'boolean' },
    'exit-on-sigterm': { type: 'boolean' },
  }, Flags);
  const sigterm: SigtermBehaviour = f.naive ? 'naive' : f['exit-on-sigterm'] ? 'exit' : 'drain';

  const server = await startWsServer({
    name: f.name,
    host: f.host,
    port: f.port,
    adminPort: f['admin-port'],
    metricsPort: f['metrics-port'],
    staggerMs: f.stagger,
    goawayTimeoutMs: f['goaway-timeout'],
    shutdownTimeoutMs: f['shutdown-timeout'],
    sigterm,
    log,
  });
  log('listening', { name: f.name, host: f.host, port: server.port, adminPort: server.adminPort, metricsPort: server.metricsPort, sigterm, drainSignal: sigterm === 'drain' ? f['drain-signal'] : undefined });

  if (sigterm === 'drain') process.on(f['drain-signal'], () => server.startDrain(f['drain-signal']));
  // An explicit handler even in "exit" mode: as PID 1 in a container the kernel
  // ignores a SIGTERM that has no handler.
  process.on('SIGTERM', () => {
    void server.terminate().then(() => {
      log('exit', { sessionsLeft: server.sessions() });
      process.exit(0);
    });
  });

  let last = -1;
  setInterval(() => {
    const n = server.sessions();
    if (n !== last) log('sessions', { sessions: n });
    last = n;
  }, 1000).unref();
}


void main().catch((err: unknown) => failUsage('ws-server', err instanceof Error ? err.message : String(err)));
