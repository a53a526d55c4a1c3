import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BadEventError, LineSplitter, LineTooLongError, parseWatchEvent, type WatchEvent } from '../../src/kube/watch-stream.js';

const Ns = z.object({ metadata: z.object({ name: z.string(), resourceVersion: z.string().optional(), labels: z.record(z.string(), z.string()).optional() }) });
type Ns = z.infer<typeof Ns>;

const line = (event: unknown): string => `${JSON.stringify(event)}\n`;
const added = (name: string, rv: string, labels?: Record<string, string>) => ({ type: 'ADDED', object: { kind: 'Namespace', metadata: { name, resourceVersion: rv, ...(labels ? { labels } : {}), managedFields: [{ manager: 'kubectl' }] }, spec: { finalizers: ['kubernetes'] } } });

/** Feeds `chunks` through a splitter and parses every non-empty line. */
function events(chunks: Buffer[], max = 1024 * 1024): Array<WatchEvent<Ns>> {
  const split = new LineSplitter(max);
  return chunks.flatMap((c) => split.push(c)).filter((l) => l !== '').map((l) => parseWatchEvent(l, Ns));
}

describe('watch event stream', () => {
  it('reassembles events split anywhere across chunks, inside a multi-byte character too', () => {
    const text = line(added('équipe-a', '10', { team: 'café ☕' })) + line(added('b', '11'));
    const bytes = Buffer.from(text, 'utf8');
    for (const cut of [1, 7, bytes.indexOf(0xc3) + 1, bytes.indexOf(0xe2) + 2, bytes.length - 1]) {
      const got = events([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(got.map((e) => (e.type === 'ADDED' ? [e.object.metadata.name, e.object.metadata.labels] : e.type))).toEqual([
        ['équipe-a', { team: 'café ☕' }],
        ['b', undefined],
      ]);
    }
    // One byte at a time.
    expect(events([...bytes].map((b) => Buffer.from([b])))).toHaveLength(2);
  });

  it('reads several events from one chunk, and keeps only the fields the schema names', () => {
    const got = events([Buffer.from(line(added('a', '1')) + line({ type: 'MODIFIED', object: { metadata: { name: 'a', resourceVersion: '2' } } }) + line({ type: 'DELETED', object: { metadata: { name: 'a', resourceVersion: '3' } } }))]);
    expect(got.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(got[0]).toEqual({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '1' } } });
  });

  it('a BOOKMARK gives the resourceVersion reached; an ERROR gives its Status (410: expired)', () => {
    const got = events([
      Buffer.from(line({ type: 'BOOKMARK', object: { kind: 'Namespace', metadata: { resourceVersion: '12345', annotations: { 'k8s.io/initial-events-end': 'true' } } } })),
      Buffer.from(line({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version: 1 (2001)', reason: 'Expired', code: 410 } })),
    ]);
    expect(got).toEqual([
      { type: 'BOOKMARK', resourceVersion: '12345' },
      { type: 'ERROR', status: { code: 410, reason: 'Expired', message: 'too old resource version: 1 (2001)' } },
    ]);
  });

  it('refuses what is not a watch event, with a clear error', () => {
    const bad: Array<[string, RegExp]> = [
      ['{"type":"ADDED","object":', /not JSON/],
      ['<html>502 Bad Gateway</html>', /not JSON/],
      ['[1,2,3]', /not a watch event/],
      [JSON.stringify({ type: 'SYNC', object: {} }), /not a watch event/],
      [JSON.stringify({ type: 'ADDED', object: { metadata: { name: 7 } } }), /ADDED event's object/],
      [JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'a', labels: { x: 1 } } } }), /MODIFIED event's object/],
      [JSON.stringify({ type: 'BOOKMARK', object: { metadata: {} } }), /BOOKMARK event without/],
      [JSON.stringify({ type: 'ERROR', object: { code: 'gone' } }), /ERROR event without a Status/],
    ];
    for (const [text, why] of bad) {
      expect(() => parseWatchEvent(text, Ns), text).toThrow(BadEventError);
      expect(() => parseWatchEvent(text, Ns), text).toThrow(why);
    }
  });

  it('caps a line: past the limit it throws instead of holding more, whether the newline comes or not', () => {
    const split = new LineSplitter(100);
    expect(split.push(Buffer.from('x'.repeat(60)))).toEqual([]);
    expect(split.unfinished()).toBe(60);
    expect(() => split.push(Buffer.from('y'.repeat(41)))).toThrow(LineTooLongError);
    expect(() => new LineSplitter(100).push(Buffer.from(`${'z'.repeat(101)}\n`))).toThrow(LineTooLongError);
    // Exactly the limit is a line.
    expect(new LineSplitter(100).push(Buffer.from(`${'z'.repeat(100)}\n`))).toEqual(['z'.repeat(100)]);
  });
});
