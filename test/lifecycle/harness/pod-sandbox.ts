// A pod stand-in made of real Linux namespaces, like a container runtime builds:
//  - its own network namespace (`ip netns add`) joined to the host by a veth
//    pair, so /proc/net/tcp inside shows only the pod's sockets and the
//    balancer reaches the app at the pod IP;
//  - the app started as PID 1 of its own PID namespace with its own /proc
//    (`unshare --pid --fork --mount-proc`), so the helper's /proc/1/fd/1 is the
//    app's stdout, as `kubectl logs` would show it;
//  - preStop hooks run inside the same namespaces (`nsenter`), the way the
//    runtime executes an exec hook in the container.
// Needs root, iproute2 (ip) and util-linux (unshare, nsenter).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface LogLine {
  t: number;
  text: string;
  json?: Record<string, unknown>;
}

let sandboxSeq = 0;
const liveSandboxes = new Set<PodSandbox>();
process.once('exit', () => {
  for (const s of liveSandboxes) s.destroySync();
});

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message} (the lifecycle harness needs root, iproute2 and util-linux)`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()} (the lifecycle harness needs root, iproute2 and util-linux)`);
}

export class PodSandbox {
  readonly netns: string;
  readonly podIp: string;
  private readonly hostIp: string;
  private readonly hostIf: string;
  private app?: ChildProcess;
  /** Host PID of the app (PID 1 inside the pod). */
  appPid?: number;
  readonly logs: LogLine[] = [];
  private logDir?: string;
  private tailer?: NodeJS.Timeout;
  private exited?: Promise<{ t: number; code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly name: string) {
    const n = ++sandboxSeq;
    const id = `${process.pid % 100000}x${n}`;
    this.netns = `wsd-${id}`;
    this.hostIf = `wsd${id}h`.slice(0, 15);
    // A /30 per sandbox in 10.213.0.0/16, keyed by pid and sequence so parallel runs do not collide.
    const block = ((process.pid * 7 + n) % 16384) * 4;
    this.hostIp = `10.213.${block >> 8}.${(block & 255) + 1}`;
    this.podIp = `10.213.${block >> 8}.${(block & 255) + 2}`;
  }

  static create(name: string): PodSandbox {
    const s = new PodSandbox(name);
    const podIf = `${s.hostIf.slice(0, 14)}p`;
    run('ip', ['netns', 'add', s.netns]);
    liveSandboxes.add(s);
    run('ip', ['link', 'add', s.hostIf, 'type', 'veth', 'peer', 'name', podIf]);
    run('ip', ['link', 'set', podIf, 'netns', s.netns]);
    run('ip', ['addr', 'add', `${s.hostIp}/30`, 'dev', s.hostIf]);
    run('ip', ['link', 'set', s.hostIf, 'up']);
    run('ip', ['netns', 'exec', s.netns, 'ip', 'addr', 'add', `${s.podIp}/30`, 'dev', podIf]);
    run('ip', ['netns', 'exec', s.netns, 'ip', 'link', 'set', podIf, 'up']);
    run('ip', ['netns', 'exec', s.netns, 'ip', 'link', 'set', 'lo', 'up']);
    return s;
  }

  /** Starts the container's process as PID 1 of the pod; resolves once it logged `readyEvent`. */
  async startApp(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; readyEvent: string; timeoutMs?: number }): Promise<void> {
    if (this.app) throw new Error(`${this.name}: app already started`);
    const [cmd, ...args] = argv;
    if (!cmd) throw new Error('empty app argv');
    // stdout/stderr go to a file, as a container runtime's log does (a Node
    // 'pipe' would be a socketpair, which /proc/1/fd/1 cannot be opened on).
    this.logDir = mkdtempSync(path.join(tmpdir(), `ws-drain-${this.name}-`));
    const logPath = path.join(this.logDir, 'container.log');
    const fd = openSync(logPath, 'a');
    const child = spawn('ip', ['netns', 'exec', this.netns, 'unshare', '--pid', '--fork', '--mount-proc', '--', cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.app = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ t: Date.now(), code, signal })));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: app did not log "${opts.readyEvent}" within ${opts.timeoutMs ?? 20_000} ms:\n${this.tail()}`)), opts.timeoutMs ?? 20_000);
      const onLine = (line: LogLine): void => {
        if (line.json?.['event'] === opts.readyEvent) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.tailFile(logPath, onLine);
      void this.exited?.then((e) => {
        clearTimeout(timer);
        reject(new Error(`${this.name}: app exited early (code ${e.code}, signal ${e.signal}):\n${this.tail()}`));
      });
    });
    await ready;
    this.appPid = findChildPid(child.pid);
  }

  /** Runs argv inside the pod's namespaces (like a container exec hook); resolves with its exit. */
  exec(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): { child: ChildProcess; done: Promise<{ t: number; code: number | null; signal: NodeJS.Signals | null }> } {
    if (this.appPid === undefined) throw new Error(`${this.name}: no app running`);
    const child = spawn('nsenter', ['--target', String(this.appPid), '--net', '--pid', '--mount', `--wd=${opts.cwd}`, '--', ...argv], {
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.capture(child, () => undefined);
    const done = new Promise<{ t: number; code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', () => resolve({ t: Date.now(), code: 127, signal: null }));
      child.once('exit', (code, signal) => resolve({ t: Date.now(), code, signal }));
    });
    return { child, done };
  }

  signalApp(signal: NodeJS.Signals): void {
    if (this.appPid === undefined) return;
    try {
      process.kill(this.appPid, signal);
    } catch {
      // already gone
    }
  }

  appExited(): Promise<{ t: number; code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exited) throw new Error(`${this.name}: no app started`);
    return this.exited;
  }

  /** The app's and the helper's log lines that parse as JSON. */
  jsonLogs(): Array<Record<string, unknown>> {
    return this.logs.flatMap((l) => (l.json ? [l.json] : []));
  }

  tail(n = 20): string {
    return this.logs.slice(-n).map((l) => l.text).join('\n');
  }

  destroySync(): void {
    this.signalApp('SIGKILL');
    this.app?.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', this.netns]);
    spawnSync('ip', ['link', 'del', this.hostIf]);
    liveSandboxes.delete(this);
    if (this.tailer) clearInterval(this.tailer);
    if (this.logDir) rmSync(this.logDir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    this.signalApp('SIGKILL');
    if (this.exited) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
    }
    this.pollLog?.();
    this.destroySync();
  }

  private pollLog?: () => void;

  private tailFile(file: string, onLine: (l: LogLine) => void): void {
    const fd = openSync(file, 'r');
    let offset = 0;
    let partial = '';
    const buf = Buffer.alloc(64 * 1024);
    this.pollLog = () => {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        const lines = (partial + buf.subarray(0, n).toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const text of lines) this.addLine(text, onLine);
      }
    };
    this.tailer = setInterval(() => this.pollLog?.(), 50);
  }

  private addLine(text: string, onLine: (l: LogLine) => void): void {
    const line: LogLine = { t: Date.now(), text };
    if (text.startsWith('{')) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed === 'object' && parsed !== null) line.json = parsed as Record<string, unknown>;
      } catch {
        // plain text line
      }
    }
    this.logs.push(line);
    onLine(line);
  }

  private capture(child: ChildProcess, onLine: (l: LogLine) => void): void {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (text) => this.addLine(text, onLine));
    }
  }
}

/** `unshare --fork` runs the app as its child: that child is PID 1 of the pod. */
function findChildPid(pid: number | undefined): number {
  if (pid === undefined) throw new Error('app process has no pid');
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  const child = Number(text.split(/\s+/)[0]);
  if (!Number.isInteger(child) || child <= 0) throw new Error(`could not find the app under unshare (pid ${pid}): "${text}"`);
  return child;
}
