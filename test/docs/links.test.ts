// Every relative link in README.md and docs/*.md reaches a file or folder of
// the repository, and every #anchor one of its headings: the README links
// into docs/ for depth, and a renamed heading must not leave readers at the
// top of a page.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../manifests/render.js';
import { githubAnchor, headingAnchors, links } from './markdown.js';

const pages = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

/** What is wrong with one link of `page`, or undefined. */
function brokenLink(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto: — not ours to check
  const hash = target.indexOf('#');
  const path = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = path === '' ? join(REPO_ROOT, page) : join(REPO_ROOT, dirname(page), path);
  const shown = relative(REPO_ROOT, file);
  if (shown.startsWith('..')) return `${target}: outside the repository`;
  if (!existsSync(file)) return `${target}: ${shown} does not exist`;
  if (anchor === undefined) return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md')) return `${target}: an anchor into ${shown}, which is not a Markdown page`;
  if (!headingAnchors(readFileSync(file, 'utf8')).has(anchor)) return `${target}: ${shown} has no heading with anchor #${anchor}`;
  return undefined;
}

describe('links in README.md and docs/', () => {
  it.each(pages)('%s: every relative link and anchor resolves', (page) => {
    const broken = links(read(page)).flatMap(({ line, target }) => {
      const why = brokenLink(page, target);
      return why === undefined ? [] : [`${page}:${line}: ${why}`];
    });
    expect(broken).toEqual([]);
  });

  it('finds links, and catches a missing page and a missing anchor', () => {
    expect(links('see [a](docs/x.md#y) and `[b](c)`\n```\n[d](e)\n```\n[f](#g "t")')).toEqual([
      { line: 1, target: 'docs/x.md#y' },
      { line: 5, target: '#g' },
    ]);
    expect(brokenLink('README.md', 'docs/no-such-page.md')).toMatch(/does not exist/);
    expect(brokenLink('README.md', 'docs/install.md#no-such-heading')).toMatch(/no heading with anchor/);
    expect(brokenLink('docs/install.md', '../README.md')).toBeUndefined();
    expect(brokenLink('README.md', 'https://example.com/x#y')).toBeUndefined();
  });

  it("gives GitHub's anchors", () => {
    expect(githubAnchor('WsDrainWebhookDown')).toBe('wsdrainwebhookdown');
    expect(githubAnchor('failurePolicy: Ignore + guard (default) or Fail')).toBe('failurepolicy-ignore--guard-default-or-fail');
    expect(githubAnchor('The `ws-drain` CLI')).toBe('the-ws-drain-cli');
    expect([...headingAnchors('# A\n```sh\n# not a heading\n```\n## A\n')]).toEqual(['a', 'a-1']);
  });
});
