// The real drain helper: built from helper/ when missing, then installed into a
// temp dir with its own `install DIR` subcommand, as the init container does.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILT_HELPER = path.join(REPO_ROOT, 'helper/bin/ws-drain-helper');

/** Builds helper/bin/ws-drain-helper with helper/build.sh unless it exists. */
export function ensureHelperBuilt(): string {
  if (existsSync(BUILT_HELPER)) return BUILT_HELPER;
  const r = spawnSync(path.join(REPO_ROOT, 'helper/build.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0 || !existsSync(BUILT_HELPER)) {
    throw new Error(`helper/build.sh failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return BUILT_HELPER;
}

/** Runs `ws-drain-helper install <tmpdir>` and returns the installed binary's path. */
export function installHelper(): string {
  const source = ensureHelperBuilt();
  const dir = mkdtempSync(path.join(tmpdir(), 'ws-drain-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(source, ['install', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ws-drain-helper install ${dir} failed (status ${r.status}): ${r.stderr}`);
  const installed = path.join(dir, 'ws-drain-helper');
  if (!existsSync(installed)) throw new Error(`ws-drain-helper install ${dir} exited 0 but ${installed} is missing`);
  return installed;
}

/** Removes what installHelper() created. */
export function removeInstalledHelper(installed: string): void {
  rmSync(path.dirname(installed), { recursive: true, force: true });
}
