// `ws-drain serve` as a real subprocess for tests: its JSON log lines as they
// arrive on stdout, its port, and TLS requests to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../e2e/controlplane/run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

export type LogLine = Record<string, unknown>;

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  ca: string;
  certDir: string;
  /** Every line logged so far, parsed. */
  lines: LogLine[];
  /** Resolves with the exit code once stdout has ended and the process has exited. */
  exited: Promise<number | null>;
  /** Resolves with the first line (past or future) that matches. */
  waitForLine(match: (line: LogLine) => boolean): Promise<LogLine>;
  /** A keep-alive agent that trusts the serving certificate. */
  agent: Agent;
  /** Over the keep-alive agent, or over a connection of its own (`newConnection`). */
  request(method: string, path: string, body?: string, opts?: { newConnection?: boolean }): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>;
  /** What it wrote on stderr so far (only with `captureStderr`; else stderr is the test's). */
  stderr(): string;
  /** Kills the process if still running and removes the certificates. */
  cleanup(): Promise<void>;
}

export interface ServeCommand {
  /** The node binary (default: the one running the tests). */
  node?: string;
  /** A built CLI entry such as a bundle's main.js, run without tsx (default: src/cli/main.ts under tsx). */
  entry?: string;
  /** Node's own flags before `entry`. */
  nodeFlags?: readonly string[];
  captureStderr?: boolean;
}

/** Starts `ws-drain serve` on loopback with fresh certificates; resolves once it logged that it listens. */
export async function startServe(args: string[] = [], env: Record<string, string> = {}, command: ServeCommand = {}): Promise<ServeProcess> {
  const certDir = await mkdtemp(join(tmpdir(), 'ws-drain-serve-'));
  const certs = await runProcess(process.execPath, ['--import', 'tsx', MAIN, 'certs', '--out', certDir], { cwd: ROOT });
  if (certs.code !== 0) throw new Error(`ws-drain certs failed: ${certs.stderr}`);
  const ca = await readFile(join(certDir, 'ca.crt'), 'utf8');
  const cli = command.entry === undefined ? ['--import', 'tsx', MAIN] : [...(command.nodeFlags ?? []), command.entry];
  const child = spawn(
    command.node ?? process.execPath,
    [...cli, 'serve', '--port', '0', '--metrics-port', '0', '--tls-cert', join(certDir, 'tls.crt'), '--tls-key', join(certDir, 'tls.key'), ...args],
    // No cluster here: no namespace informer (test/e2e/namespaces.test.ts runs one against a real API server).
    { cwd: ROOT, env: { ...process.env, WS_DRAIN_NAMESPACE_SOURCE: 'none', ...env }, stdio: ['ignore', 'pipe', command.captureStderr ? 'pipe' : 'inherit'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines: LogLine[] = [];
  const waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let buffered = '';
  child.stdout!.on('data', (c: Buffer) => {
    buffered += c.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      // A line that is not JSON (or half of one) fails the parse: the test sees it.
      const line = JSON.parse(buffered.slice(0, nl)) as LogLine;
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  const stdoutEnded = new Promise<void>((resolve) => child.stdout!.on('end', resolve));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => void stdoutEnded.then(() => resolve(code))));
  const waitForLine = (match: (l: LogLine) => boolean) =>
    new Promise<LogLine>((resolve, reject) => {
      const seen = lines.find(match);
      if (seen) return resolve(seen);
      waiters.push({ match, resolve });
      void exited.then((code) => reject(new Error(`serve exited (${code}) before logging the expected line; lines: ${JSON.stringify(lines.map((l) => l['msg']))}`)));
    });
  // The process's own line, not a cluster worker's (--workers).
  const listening = await waitForLine((l) => l['msg'] === 'ws-drain webhook listening' && l['worker'] === undefined);
  const port = listening['port'] as number;
  const agent = new Agent({ keepAlive: true, ca });
  const request: ServeProcess['request'] = (method, path, body, opts) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = httpsRequest({ host: '127.0.0.1', port, path, method, headers, ...(opts?.newConnection ? { agent: false, ca } : { agent }) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    child,
    port,
    metricsPort: listening['metricsPort'] as number,
    ca,
    certDir,
    lines,
    exited,
    waitForLine,
    agent,
    request,
    stderr: () => stderr,
    async cleanup() {
      agent.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await rm(certDir, { recursive: true, force: true });
    },
  };
}

/**
 * Pids of the `serve` processes whose parent is `pid` (cluster workers). Other
 * children are left out: under tsx a process may start esbuild's service.
 */
export async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv.includes('serve')) out.push(Number(entry));
  }
  return out;
}
