import { spawn } from 'node:child_process';

/** What a finished command printed and how it exited. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, collecting stdout and stderr (kubectl, the ws-drain CLI). */
export function runProcess(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A command that exits without reading its stdin (helper/build.sh, `--version`)
    // makes this write fail with EPIPE; its exit code and output are the result, so
    // the error is not one (unhandled, it failed a whole test file under load).
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}
