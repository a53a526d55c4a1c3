// Reviews whose bodies end in one turn of the event loop are answered in a
// batch after it (mutate-handler.ts, answerBatch): each still gets its own
// answer, a bad body its own 400, and a batch over MAX_BATCH the rest in the
// next turns.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/index.js';
import { createAnswerMemo } from '../../src/server/answer-memo.js';
import { createMetrics } from '../../src/server/metrics.js';
import { createMutateHandler, MAX_BATCH } from '../../src/server/mutate-handler.js';
import { admissionReview, capturingLogger } from './review-fixtures.js';

interface Written {
  status?: number;
  body?: string;
}

/** A request whose body has fully arrived, and the response it was given. */
function post(handler: (req: IncomingMessage, res: ServerResponse) => void, body: string): Written {
  const req = Object.assign(new EventEmitter(), { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } });
  const written: Written = {};
  const res = {
    headersSent: false,
    setHeader() {},
    writeHead(status: number) {
      written.status = status;
      this.headersSent = true;
    },
    end(b: string) {
      written.body = b;
    },
  };
  handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  req.emit('data', Buffer.from(body));
  req.emit('end');
  return written;
}

const uidOf = (w: Written): unknown => (JSON.parse(w.body!) as { response: { uid: string } }).response.uid;

for (const cache of [false, true]) {
  describe(`reviews that arrive in one turn${cache ? ' (answer cache on)' : ''}`, () => {
    const setup = () => {
      const { logger, lines } = capturingLogger();
      const metrics = createMetrics({ defaultMetrics: false });
      const answers = cache ? createAnswerMemo({ config: DEFAULT_CONFIG, entries: 256 }) : undefined;
      return { handler: createMutateHandler({ config: DEFAULT_CONFIG, logger, metrics, ...(answers === undefined ? {} : { answers }) }), lines };
    };

    it('each get their own answer after the turn, a bad body its own 400, one log line each', async () => {
      const { handler, lines } = setup();
      const sent = Array.from({ length: 10 }, (_, i) => (i === 4 ? post(handler, '{"not json') : post(handler, JSON.stringify(admissionReview({ uid: `uid-${i}` })))));
      // Nothing is answered before the turn ends.
      expect(sent.filter((w) => w.status !== undefined)).toHaveLength(0);
      await nextTurn();
      expect(sent[4]!.status).toBe(400);
      sent.forEach((w, i) => {
        if (i === 4) return;
        expect(w.status).toBe(200);
        expect(uidOf(w)).toBe(`uid-${i}`);
      });
      expect(lines.filter((l) => l['msg'] === 'admission').map((l) => l['uid'])).toEqual(['uid-0', 'uid-1', 'uid-2', 'uid-3', 'uid-5', 'uid-6', 'uid-7', 'uid-8', 'uid-9']);
    });

    it(`answers at most MAX_BATCH (${MAX_BATCH}) a turn, the rest in the turns after`, async () => {
      const { handler } = setup();
      const sent = Array.from({ length: 2 * MAX_BATCH + 3 }, (_, i) => post(handler, JSON.stringify(admissionReview({ uid: `u-${i}` }))));
      await nextTurn();
      expect(sent.filter((w) => w.status === 200)).toHaveLength(MAX_BATCH);
      await nextTurn();
      expect(sent.filter((w) => w.status === 200)).toHaveLength(2 * MAX_BATCH);
      await nextTurn();
      sent.forEach((w, i) => expect(uidOf(w)).toBe(`u-${i}`));
    });
  });
}
