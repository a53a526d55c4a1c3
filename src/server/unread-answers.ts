// Closes connections whose answers the client does not take. Node's socket
// timeout (CONNECTION_TIMEOUTS.stalledMs) measures activity in either
// direction and is re-armed by every write and read; this measures only the
// answer bytes Node still holds for a client, whatever else the client does.
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from './logger.js';

interface Pending {
  /** When the client last took answer bytes (or the backlog appeared). */
  since: number;
  /** Bytes of answers the socket had handed on (written, not merely queued) then. */
  taken: number;
}

/**
 * Every tick, each connection with answer bytes Node could not yet hand to the
 * kernel (`writableLength > 0`) is checked: if no answer byte has been handed on
 * for `timeoutMs`, the connection is destroyed and its unsent answers freed.
 * Progress is the bytes written less the backlog, not the backlog shrinking: a
 * busy client that reads every answer is often seen holding one (a TLS write
 * completes a turn later), of the same size each time.
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
      if (bytes === 0) {
        pending.delete(socket);
        continue;
      }
      // bytesWritten counts queued bytes too; a new answer queued behind an unread one is not progress.
      const taken = socket.bytesWritten - bytes;
      const seen = pending.get(socket);
      if (seen === undefined || taken > seen.taken) {
        pending.set(socket, { since: now, taken });
      } else if (now - seen.since >= timeoutMs) {
        logger.warn({ remote: socket.remoteAddress, unsentBytes: bytes, timeoutMs }, 'closed a connection that did not read its answers');
        socket.destroy();
        onClose();
      }
    }
  }, Math.max(10, Math.min(1_000, Math.floor(timeoutMs / 4))));
  tick.unref();
  return { stop: () => clearInterval(tick) };
}
