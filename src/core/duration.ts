// Parsers for the value forms ws-drain accepts in annotations and CLI flags.
// Both return undefined for anything they do not accept, so callers can build
// a message that names the annotation or flag.

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  'μs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

// One Go duration component: a decimal number and a unit. Longer units first
// so "ms" is not read as "m" followed by garbage.
const COMPONENT = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go/Kubernetes duration (`90s`, `5m`, `1h30m`, `1.5m`, `500ms`,
 * `0s`, `0`) or a bare non-negative integer of seconds. Returns seconds as a
 * float, or undefined when the text is not such a duration (negative values,
 * signs, spaces, unknown units, empty text).
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  if (/^\d+$/.test(text)) return finite(Number(text));
  if (text === '') return undefined;
  let total = 0;
  let at = 0;
  COMPONENT.lastIndex = 0;
  while (at < text.length) {
    COMPONENT.lastIndex = at;
    const m = COMPONENT.exec(text);
    if (!m || m.index !== at) return undefined;
    const value = Number(m[1]);
    const unit = UNIT_SECONDS[m[2] ?? ''];
    if (unit === undefined || !Number.isFinite(value)) return undefined;
    total += value * unit;
    at = COMPONENT.lastIndex;
  }
  return finite(total);
}

function finite(n: number): number | undefined {
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Highest accepted margin: 1000 %. Anything above is almost surely a typo (`30` meant as `30%`). */
export const MAX_MARGIN = 10;

/**
 * Parses a grace margin: a percentage (`30%`, `12.5%`) or a fraction (`0.3`).
 * Returns the fraction (0.3 for 30 %), or undefined when the text is not one
 * of these forms or lies outside 0 … 10 (0 % … 1000 %).
 */
export function parseMargin(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  const percent = /^(\d+(?:\.\d+)?|\.\d+)%$/.exec(text);
  let value: number;
  if (percent) value = Number(percent[1]) / 100;
  else if (/^(\d+(?:\.\d+)?|\.\d+)$/.test(text)) value = Number(text);
  else return undefined;
  if (!Number.isFinite(value) || value < 0 || value > MAX_MARGIN) return undefined;
  // Round away binary noise such as 0.07 * 100 / 100; a margin finer than 1 ppm means nothing.
  return Math.round(value * 1e6) / 1e6;
}

/** Whole seconds as the helper and Kubernetes read them: `20s`. */
export function formatSeconds(seconds: number): string {
  return `${Math.ceil(seconds)}s`;
}
