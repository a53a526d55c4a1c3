// CLI: run N WebSocket clients against a URL for a while and print what happened.
//
//   tsx examples/ws-client/main.ts --url ws://127.0.0.1:8080 [--clients 100]
//       [--interval 1s] [--duration 60s]
//
// Prints a JSON progress line every second and a JSON summary at the end
// (close codes, refused connects, lost messages, peak reconnects/s).
import { z } from 'zod';
import { durationMs, failUsage, parseFlags } from '../flags.js';
import { ClientFleet, summarise } from './fleet.js';


const Flags = z.object({
  url: z.string({ message: '--url is required (e.g. ws://127.0.0.1:8080)' }).regex(/^wss?:\/\//, '--url must start with ws:// or wss://'),
  clients: z.coerce.number({ message: '--clients must be a number' }).int().min(1, '--clients must be at least 1').default(100),
  interval: durationMs('interval').default(1000),
  duration: durationMs('duration').default(60_000),
});

async function main(): Promise<void> {
  const f = parseFlags('ws-client', { url: { type: 'string' }, clients: { type: 'string' }, interval: { type: 'string' }, duration: { type: 'string' } }, Flags);

  const fleet = new ClientFleet({ url: f.url, clients: f.clients, sendIntervalMs: f.interval });
  const progress = setInterval(() => {
    process.stdout.write(JSON.stringify({ time: new Date().toISOString(), connected: Object.fromEntries(fleet.connectedByPod()) }) + '\n');
  }, 1000);
  const done = new Promise<void>((resolve) => {
    setTimeout(resolve, f.duration);
    process.once('SIGINT', () => resolve());
  });
  fleet.start(f.duration).catch((err: unknown) => process.stderr.write(`ws-client: ${err instanceof Error ? err.message : String(err)}\n`));
  await done;
  clearInterval(progress);
  const report = await fleet.stop();
  process.stdout.write(JSON.stringify({ summary: summarise(report) }) + '\n');
}


void main().catch((err: unknown) => failUsage('ws-client', err instanceof Error ? err.message : String(err)));
