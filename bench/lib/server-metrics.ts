// A served ws-drain's own /metrics, for the benches: serve logs the port its
// /metrics listens on (`--metrics-port 0`: any free one) when it starts.

/** The /metrics port a server's log names; undefined before serve has said it (or for a server without). */
export function metricsPortFromLog(log: string): number | undefined {
  const port = /"metricsPort":(\d+)/.exec(log)?.[1];
  return port === undefined ? undefined : Number(port);
}

/** The text of /metrics on loopback `port`; '' when it cannot be read (a bench figure, not a failure). */
export function scrapeMetrics(port: number): Promise<string> {
  return fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
}
