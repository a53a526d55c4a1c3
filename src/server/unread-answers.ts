// Closes connections whose answers the client does not take. Node's socket
// timeout (CONNECTION_TIMEOUTS.stalledMs) measures activity in either
// direction and is re-armed by every write and read; this measures only the
// answer bytes Node still holds for a client, whatever else the client does.
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from './logger.js';

interface Pending {
  /** When the pending output last shrank (or appeared). */
  since: number;
  bytes: number;
}

/**
 * Every tick, each connection with answer bytes Node could not yet hand to the
 * kernel (`writableLength > 0`) is checked: if that backlog has not shrunk for
 * `timeoutMs`, the connection is destroyed and its unsent answers freed.
 * Cost: one pass over the open connections per tick, no per-write work.
 */
export function closeUnreadAnswers(server: HttpsServer, timeoutMs: number, logger: Logger, onClose: () => void = () => {}): { stop(): void } {
  const open = new Set<Socket>();
  const pending = new Map<Socket, Pending>();
  server.on('secureConnection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      pending.delete(socket);
    });
  });
  const tick = setInterval(() => {
    const now = performance.now();
    for (const socket of open) {
      const bytes = socket.writableLength;
      const seen = pending.get(socket);
      if (bytes === 0) {
        pending.delete(socket);
      } else if (seen === undefined || bytes < seen.bytes) {
        pending.set(socket, { since: now, bytes });
      } else if (now - seen.since >= timeoutMs) {
        logger.warn({ remote: socket.remoteAddress, unsentBytes: bytes, timeoutMs }, 'closed a connection that did not read its answers');
        socket.destroy();
        onClose();
      } else {
        seen.bytes = bytes; // a new answer queued behind an unread one is not progress
      }
    }
  }, Math.max(10, Math.min(1_000, Math.floor(timeoutMs / 4))));
  tick.unref();
  return { stop: () => clearInterval(tick) };
}
