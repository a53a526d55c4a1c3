import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const BUILD_SCRIPT = join(REPO_ROOT, 'tools/k8s/build.sh');

export interface ControlPlaneBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubectl: string;
}

/**
 * Builds (first run, minutes) or reuses (later runs, about a second) etcd,
 * kube-apiserver and kubectl at the versions pinned in tools/k8s/go.mod.
 * Progress lines from the build are streamed to our stderr as they come.
 */
export async function ensureBinaries(): Promise<ControlPlaneBinaries> {
  const started = Date.now();
  const { code, stdout, stderrTail } = await new Promise<{ code: number | null; stdout: string; stderrTail: string }>(
    (resolvePromise, reject) => {
      const child = spawn(BUILD_SCRIPT, [], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let errTail = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => {
        const text = c.toString('utf8');
        process.stderr.write(text);
        errTail = (errTail + text).slice(-8_000);
      });
      child.once('error', reject);
      child.once('exit', (exitCode) => resolvePromise({ code: exitCode, stdout: out, stderrTail: errTail }));
    },
  );
  if (code !== 0) {
    throw new Error(`tools/k8s/build.sh failed (exit ${String(code)}):\n${stderrTail}`);
  }
  const dir = stdout.trim().split('\n').pop();
  if (!dir) throw new Error('tools/k8s/build.sh printed no binary directory');
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`[k8s-build] binaries ready in ${seconds}s: ${dir}\n`);
  return { dir, etcd: join(dir, 'etcd'), kubeApiserver: join(dir, 'kube-apiserver'), kubectl: join(dir, 'kubectl') };
}
