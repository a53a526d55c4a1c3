// The README's quick start, run as written on a fresh clone: the commands are
// read from the README's fenced blocks (so they cannot drift), the webhook is
// started with its `npm ci && npm run dev` line, the example pod is sent with
// its curl pipeline, and the output must equal the block the README shows; the
// typo pod must be denied with the message the README quotes; the offline CLI
// commands must run. The clone is of the committed HEAD (what CI checks out).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../e2e/controlplane/run.js';
import { REPO_ROOT } from '../manifests/render.js';

interface Block {
  info: string;
  body: string;
}

/** The fenced blocks of one `## ` section of a Markdown file, in order. */
export function sectionBlocks(markdown: string, heading: string): { blocks: Block[]; text: string } {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const rest = markdown.slice(start + 1);
  const end = rest.indexOf('\n## ', 1);
  const text = end < 0 ? rest : rest.slice(0, end);
  const blocks = [...text.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ info: m[1]!.trim(), body: m[2]! }));
  return { blocks, text };
}

/** A shell line without its trailing `# comment`. */
const withoutComment = (line: string) => line.replace(/\s+#\s.*$/, '').trim();

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const { blocks, text } = sectionBlocks(readme, 'Quick start');
const shell = blocks.filter((b) => b.info === 'sh');

// What the quick start is made of, found by content rather than position.
const startLine = shell.flatMap((b) => b.body.split('\n')).map(withoutComment).find((l) => /\bnpm run dev\b/.test(l));
const curlIndex = blocks.findIndex((b) => b.info === 'sh' && b.body.includes('curl ') && b.body.includes('/mutate'));
const curlBlock = blocks[curlIndex];
// The block right after the curl pipeline is its output, as the README shows it.
const shownOutput = blocks[curlIndex + 1];
const typo = /`--data @(\S+)`\):\s*`([^`]+)`/.exec(text.replace(/\n/g, ' '));
const cliLines = shell.flatMap((b) => b.body.split('\n')).map(withoutComment).filter((l) => l.startsWith('npx tsx src/cli/main.ts '));

const SERVER_START_MS = 600_000; // npm ci on a fresh clone, then tsx; generous for a loaded machine

describe('README quick start, on a fresh clone', () => {
  let clone: string;
  let server: ChildProcess | undefined;
  let serverLog = '';

  it('the README has the pieces this test runs', () => {
    expect(startLine).toBe('npm ci && npm run dev');
    expect(curlBlock?.body).toMatch(/--data @examples\/admission\/\S+\.json https:\/\/localhost:8443\/mutate/);
    expect(shownOutput?.info).toBe('');
    expect(typo?.[1]).toMatch(/^examples\/admission\/\S+\.json$/);
    expect(cliLines.length).toBeGreaterThanOrEqual(2);
  });

  beforeAll(async () => {
    clone = await mkdtemp(join(tmpdir(), 'ws-drain-quickstart-'));
    const cloned = await runProcess('git', ['clone', '--quiet', '--no-local', REPO_ROOT, clone]);
    if (cloned.code !== 0) throw new Error(`git clone: ${cloned.stderr}`);
    // Its own process group, so the npm → tsx → node chain stops together.
    server = spawn('sh', ['-c', startLine ?? 'false'], { cwd: clone, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout?.on('data', (b: Buffer) => (serverLog += b.toString()));
    server.stderr?.on('data', (b: Buffer) => (serverLog += b.toString()));
    const deadline = Date.now() + SERVER_START_MS;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`\`${startLine}\` exited ${server.exitCode}:\n${serverLog.slice(-3000)}`);
      if (serverLog.includes('ws-drain webhook listening') && existsSync(join(clone, 'certs/ca.crt'))) break;
      if (Date.now() > deadline) throw new Error(`the webhook did not start in ${SERVER_START_MS / 1000}s:\n${serverLog.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, SERVER_START_MS + 120_000);

  afterAll(async () => {
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    if (clone) await rm(clone, { recursive: true, force: true });
  });

  it('the example pod gets the patch and warnings the README shows', async () => {
    const run = await runProcess('sh', ['-c', curlBlock!.body], { cwd: clone });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(shownOutput!.body);
  });

  it('the typo pod is denied with the message the README quotes', async () => {
    const curlOnly = curlBlock!.body.split('|')[0]!.replace(/@examples\/admission\/\S+\.json/, `@${typo![1]}`);
    const run = await runProcess('sh', ['-c', curlOnly], { cwd: clone });
    expect(run.code).toBe(0);
    const review = JSON.parse(run.stdout) as { response: { allowed: boolean; status?: { message?: string } } };
    expect(review.response.allowed).toBe(false);
    expect(review.response.status?.message).toContain(typo![2]);
  });

  it('the offline CLI commands run', async () => {
    for (const line of cliLines) {
      const run = await runProcess('sh', ['-c', line], { cwd: clone });
      expect(run.code, `${line}\n${run.stderr}`).toBe(0);
      expect(run.stdout.length, line).toBeGreaterThan(0);
    }
  });
});
