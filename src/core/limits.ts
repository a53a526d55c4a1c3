// Caps on what one review can make the core produce (docs/limits.md). Every
// answer stays small whatever the pod: a denial names the first problems and
// counts the rest instead of listing thousands.

/** Longest denial message, in characters. */
export const MAX_MESSAGE_CHARS = 2048;

/**
 * Most entries in ws-drain/ports. Far more than any app listens on; each is
 * watched and written into every target's preStop, so the list is bounded
 * before anything is done per entry.
 */
export const MAX_PORTS_LISTED = 1024;

/** Most warnings in one answer (each is one short line already). */
export const MAX_WARNINGS = 16;

/** Joins problems with "; " up to MAX_MESSAGE_CHARS, then says how many were left out. */
export function boundedMessage(problems: readonly string[]): string {
  let out = '';
  for (let i = 0; i < problems.length; i++) {
    const next = (i === 0 ? '' : '; ') + problems[i];
    const rest = problems.length - i;
    // Room for the suffix naming what is left out.
    if (out.length + next.length > MAX_MESSAGE_CHARS - 40) {
      if (i === 0) out = `${(problems[0] ?? '').slice(0, MAX_MESSAGE_CHARS - 60)}...`;
      const more = i === 0 ? rest - 1 : rest;
      return more > 0 ? `${out}; and ${more} more problem${more === 1 ? '' : 's'}` : out;
    }
    out += next;
  }
  return out;
}

/** The first MAX_WARNINGS - 1 warnings and a count of the rest, or all when they fit. */
export function boundedWarnings(warnings: readonly string[]): string[] {
  if (warnings.length <= MAX_WARNINGS) return [...warnings];
  const kept = warnings.slice(0, MAX_WARNINGS - 1);
  kept.push(`ws-drain: and ${warnings.length - kept.length} more warnings`);
  return kept;
}

/**
 * A list of names in a message: at most `max` of them, quoted, then how many
 * more. Keeps "not a container of this pod; its containers are ..." short on
 * a pod with thousands of containers.
 */
export function someNames(names: readonly string[], options: { quote?: boolean; max?: number } = {}): string {
  const { quote = true, max = 10 } = options;
  const shown: string[] = []; // by push, not map: docs/performance.md
  for (const n of names.slice(0, max)) {
    const short = n.length > 63 ? `${n.slice(0, 60)}...` : n;
    shown.push(quote ? JSON.stringify(short) : short);
  }
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}
