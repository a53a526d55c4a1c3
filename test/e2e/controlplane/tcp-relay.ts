// A TCP relay on loopback in front of the API server, so a test can break a
// client's connections (a watch) while the API server itself stays up and
// takes changes the client must not see yet. Bytes pass through untouched:
// TLS is between the client and the API server.
import { createServer, connect, type Socket } from 'node:net';

export interface TcpRelay {
  port: number;
  /** Closes every relayed connection (each side sees a reset). */
  cut(): void;
  /** While held, new connections are closed at once: the client cannot reach the API server. */
  hold(held: boolean): void;
  /** Connections accepted so far (held ones included). */
  accepted(): number;
  close(): Promise<void>;
}

export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  const open = new Set<Socket>();
  let held = false;
  let accepted = 0;
  const server = createServer((client) => {
    accepted += 1;
    if (held) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const cut = (): void => {
    for (const s of open) s.resetAndDestroy();
    open.clear();
  };
  return {
    port,
    cut,
    hold: (h) => {
      held = h;
    },
    accepted: () => accepted,
    close: () =>
      new Promise((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}
