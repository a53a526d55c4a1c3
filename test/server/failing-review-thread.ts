// A review thread that fails on purpose, by the review's uid, after it has
// parsed the review and asked for its namespace, to test review-pool.ts's
// handling of a thread that dies or hangs. Any other uid is answered by the
// real thread code (serveReviews). `gated`: held (announced as 'held' on the
// BroadcastChannel GATE) until the test posts 'release' there.
import { BroadcastChannel, MessageChannel, parentPort, workerData } from 'node:worker_threads';
import { parseReviewBody } from '../../src/server/review-routes.js';
import { serveReviews, type FromThread, type ThreadData, type ToThread } from '../../src/server/review-thread.js';

const port = parentPort!;
// The real thread behind a channel; this one relays, and fails where told.
const { port1: toReal, port2: real } = new MessageChannel();
serveReviews(real as unknown as NonNullable<typeof parentPort>, workerData as ThreadData);
toReal.on('message', (m: FromThread) => port.postMessage(m, m.type === 'answer' ? [m.body.buffer as ArrayBuffer] : []));
const failing = new Map<number, string>();
const GATE = 'ws-drain-test-gate'; // review-threads.test.ts posts on it
// 'held' out when a gated review is held, 'release' in to answer it.
const held: ToThread[] = [];
const gate = new BroadcastChannel(GATE);
gate.unref();
gate.onmessage = () => {
  for (const m of held.splice(0)) toReal.postMessage(m);
};
port.on('message', (m: ToThread) => {
  if (m.type === 'review') {
    const parsed = parseReviewBody(m.body);
    const uid = parsed.ok ? parsed.review.request.uid : '';
    if (uid === 'exit-before-parse') process.exit(3);
    if (uid === 'exit' || uid === 'hang' || uid === 'throw' || uid === 'gated') failing.set(m.id, uid);
  } else if (failing.get(m.id) === 'gated') {
    held.push(m);
    gate.postMessage('held');
    return;
  } else if (failing.has(m.id)) {
    const how = failing.get(m.id);
    if (how === 'exit') process.exit(3);
    if (how === 'throw') throw new Error('a bug in the review thread');
    for (;;); // hang: only terminate() ends this
  }
  toReal.postMessage(m, m.type === 'review' ? [m.body.buffer as ArrayBuffer] : []);
});
