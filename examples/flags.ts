// Command-line parsing shared by the example server and client: node's
// parseArgs for the shape, zod for the values, exit 2 with one message on error.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { parseDuration } from '../src/core/duration.js';

/** A duration flag (same forms as the annotations), in milliseconds. */
export const durationMs = (flag: string) =>
  z.string().transform((text, ctx) => {
    const seconds = parseDuration(text);
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: `--${flag}: "${text}" is not a duration (e.g. 5s, 500ms, 2m)` });
      return z.NEVER;
    }
    return Math.round(seconds * 1000);
  });

/** Prints `program: message` to stderr and exits 2 (usage error). */
export function failUsage(program: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(2);
}

/** Parses argv against `options`, validates with `schema`; exits 2 naming the problem. */
export function parseFlags<S extends z.ZodType>(program: string, options: ParseArgsConfig['options'], schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    failUsage(program, (err as Error).message);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) failUsage(program, parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}
