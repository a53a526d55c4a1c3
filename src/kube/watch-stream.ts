// The body of a Kubernetes watch: one JSON event per line
// ({"type":"ADDED","object":{...}}\n), in chunks that split lines anywhere —
// inside a multi-byte character too. Lines are cut on the bytes and decoded
// whole; each is validated with zod before anyone reads it. A line is capped
// (MAX_EVENT_BYTES): an API server never sends one that large, and the cap is
// what stops a broken or hostile peer from growing this process's memory.
import { z } from 'zod';

/**
 * Cap on one watch event line. etcd refuses objects over 1.5 MiB (its default
 * request limit), and a Namespace's annotations are at most 256 KiB; JSON of
 * such an object with its managedFields stays well under this.
 */
export const MAX_EVENT_BYTES = 4 * 1024 * 1024;

const NEWLINE = 0x0a;

export class LineTooLongError extends Error {
  constructor(readonly limit: number) {
    super(`a watch event line is longer than ${limit} bytes`);
  }
}

/** Splits a byte stream into lines (without the newline), holding at most `maxLineBytes` of an unfinished one. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private pending = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The lines this chunk completes. Throws LineTooLongError once an unfinished line passes the cap. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      if (this.pending + nl - start > this.maxLineBytes) throw new LineTooLongError(this.maxLineBytes);
      const piece = chunk.subarray(start, nl);
      lines.push(this.pending === 0 ? piece.toString('utf8') : Buffer.concat([...this.parts, piece]).toString('utf8'));
      this.parts = [];
      this.pending = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pending += chunk.length - start;
      if (this.pending > this.maxLineBytes) throw new LineTooLongError(this.maxLineBytes);
      // A copy: the rest of a large chunk is not kept alive for a few bytes.
      this.parts.push(Buffer.from(chunk.subarray(start)));
    }
    return lines;
  }

  /** Bytes of a line not ended by a newline yet (the stream ending here means it was cut). */
  unfinished(): number {
    return this.pending;
  }
}

/** A Kubernetes Status, as an ERROR event or an error answer carries it. */
export const StatusSchema = z.object({
  code: z.number().int().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});
export type Status = z.infer<typeof StatusSchema>;

const EventEnvelope = z.object({
  type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']),
  object: z.unknown(),
});

/** A bookmark carries only the resourceVersion the watch has reached. */
const BookmarkObject = z.object({ metadata: z.object({ resourceVersion: z.string().min(1) }) });

export type WatchEvent<T> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T }
  | { type: 'BOOKMARK'; resourceVersion: string }
  | { type: 'ERROR'; status: Status };

export class BadEventError extends Error {}

/** One watch line as an event, its object validated by `schema`; BadEventError for anything else. */
export function parseWatchEvent<T>(line: string, schema: z.ZodType<T>): WatchEvent<T> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new BadEventError(`a watch event is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  const envelope = EventEnvelope.safeParse(json);
  if (!envelope.success) throw new BadEventError(`not a watch event: ${z.prettifyError(envelope.error).slice(0, 200)}`);
  const { type, object } = envelope.data;
  switch (type) {
    case 'BOOKMARK': {
      const bookmark = BookmarkObject.safeParse(object);
      if (!bookmark.success) throw new BadEventError('a BOOKMARK event without metadata.resourceVersion');
      return { type, resourceVersion: bookmark.data.metadata.resourceVersion };
    }
    case 'ERROR': {
      const status = StatusSchema.safeParse(object);
      if (!status.success) throw new BadEventError('an ERROR event without a Status');
      return { type, status: status.data };
    }
    default: {
      const parsed = schema.safeParse(object);
      if (!parsed.success) throw new BadEventError(`a ${type} event's object: ${z.prettifyError(parsed.error).slice(0, 200)}`);
      return { type, object: parsed.data };
    }
  }
}
