import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';

/**
 * A long-running child (etcd, kube-apiserver) in its own process group, with
 * the tail of its output kept for error messages.
 *
 * The binary runs under a small bash guard that holds our end of a stdin pipe:
 * if this Node process dies without cleaning up (SIGKILL, crash), the pipe
 * closes and the guard terminates the child, so no apiserver outlives a test run.
 */
export class ManagedProcess {
  readonly name: string;
  private readonly child: ChildProcess;
  private readonly tail: string[] = [];
  private readonly logFile: WriteStream | undefined;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;

  constructor(name: string, binary: string, args: string[], opts: { logPath?: string; tailLines?: number } = {}) {
    this.name = name;
    const tailLines = opts.tailLines ?? 80;
    this.logFile = opts.logPath ? createWriteStream(opts.logPath, { flags: 'a' }) : undefined;
    const guard = [
      'exec 3<&0',
      '"$@" </dev/null &',
      'child=$!',
      // a group SIGTERM reaches bash too: wait for the child instead of dying first
      `trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit $?' TERM INT`,
      // parent gone => stdin hits EOF => stop the child
      '{ while read -r _ <&3; do :; done; kill -TERM "$child" 2>/dev/null; sleep 5; kill -KILL "$child" 2>/dev/null; } &',
      'wait "$child"',
      'rc=$?',
      'exit $rc',
    ].join('\n');
    this.child = spawn('bash', ['-c', guard, `ws-drain-guard-${name}`, binary, ...args], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const onData = (chunk: Buffer): void => {
      this.logFile?.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.length === 0) continue;
        this.tail.push(line);
        if (this.tail.length > tailLines) this.tail.shift();
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
      this.child.once('error', (err) => {
        this.tail.push(`spawn error: ${err.message}`);
        this.exitInfo = { code: null, signal: null };
        resolve();
      });
    });
    liveProcesses.add(this);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Set once the process has exited; undefined while it runs. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  logTail(): string {
    return this.tail.join('\n');
  }

  /** Describes the process for an error message: exit status and output tail. */
  describe(): string {
    const status = this.exitInfo
      ? `exited (code ${String(this.exitInfo.code)}, signal ${String(this.exitInfo.signal)})`
      : `running (pid ${String(this.child.pid)})`;
    return `--- ${this.name}: ${status}; last output:\n${this.logTail() || '(no output)'}\n--- end ${this.name}`;
  }

  /** SIGTERM to the whole process group, SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    liveProcesses.delete(this);
    if (!this.exitInfo) {
      this.signalGroup('SIGTERM');
      const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    // The child may have left grandchildren in the group (the guard's watcher).
    this.signalGroup('SIGKILL');
    this.child.stdin?.destroy();
    await new Promise<void>((resolve) => (this.logFile ? this.logFile.end(resolve) : resolve()));
  }

  /** Synchronous last-resort kill, for process 'exit' handlers. */
  killNow(): void {
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // group already gone
    }
  }
}

const liveProcesses = new Set<ManagedProcess>();
const dirsToRemove = new Set<string>();

/** Removes `dir` when this process exits without having called forgetOnExit (Ctrl-C, failed test). */
export function removeOnExit(dir: string): void {
  dirsToRemove.add(dir);
}

export function forgetOnExit(dir: string): void {
  dirsToRemove.delete(dir);
}

function cleanUpNow(): void {
  for (const p of liveProcesses) p.killNow();
  for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
}

process.once('exit', cleanUpNow);
// Without a handler Node dies on these signals without running 'exit' handlers.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    // Someone else (scripts/dev-cluster.ts) handles the signal with a graceful
    // stop; the 'exit' handler still catches what they leave behind.
    if (process.listenerCount(signal) > 0) return;
    cleanUpNow();
    process.kill(process.pid, signal);
  });
}
