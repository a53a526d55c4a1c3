// Counts the connections Node closes on the webhook's timeouts (serve.ts,
// CONNECTION_TIMEOUTS), for ws_drain_connections_closed_total. Each listener
// below replaces Node's default handling, so it does what Node would.
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

export type TimeoutReason = 'handshake' | 'request' | 'stalled' | 'idle' | 'malformed';

/** Node's own answers to a request it cannot take (lib/_http_server.js). */
const CLIENT_ERROR_ANSWERS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

/** The response Node is writing on a socket, if any (its own field; no public accessor). */
function inFlight(socket: Socket): { headersSent: boolean } | null | undefined {
  return (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
}

export function countTimeoutCloses(server: HttpsServer, count: (reason: TimeoutReason) => void): void {
  // The socket is destroyed by tls whether or not anyone listens.
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') count('handshake');
  });
  // headersTimeout / requestTimeout, and requests Node's parser refuses.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    count(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request' : 'malformed');
    const response = inFlight(socket);
    if (socket.writable && (!response || !response.headersSent)) socket.write(CLIENT_ERROR_ANSWERS[err.code ?? ''] ?? BAD_REQUEST);
    socket.destroy(err);
  });
  // server.timeout (no byte either way during a request) and keepAliveTimeout (idle between requests).
  server.on('timeout', (socket: Socket) => {
    count(inFlight(socket) ? 'stalled' : 'idle');
    socket.destroy();
  });
}
