// Reading Markdown as GitHub renders it, for the tests that check README.md
// and docs/: heading anchors (what a runbook_url or a link may point at) and
// relative links. Fenced code blocks are not Markdown: a `# comment` in a
// shell block is no heading, a `[x](y)` in YAML no link.

/** The text of a Markdown file with its fenced code blocks blanked out (line numbers kept). */
export function withoutCodeBlocks(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, (block) => block.replace(/[^\n]/g, ''));
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens. */
export function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor GitHub gives the headings of a file; a repeated heading gets -1, -2, … */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of withoutCodeBlocks(markdown).split('\n')) {
    const m = /^#{1,6} +(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = githubAnchor(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

export interface Link {
  line: number;
  target: string;
}

/** The inline links `[text](target)` of a file, outside code blocks and code spans. */
export function links(markdown: string): Link[] {
  const found: Link[] = [];
  withoutCodeBlocks(markdown)
    .split('\n')
    .forEach((text, i) => {
      const line = text.replace(/`[^`]*`/g, '');
      for (const m of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) found.push({ line: i + 1, target: m[1]! });
    });
  return found;
}
