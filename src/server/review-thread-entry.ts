// The module a review thread starts with (review-pool.ts): serves the pool on the parent port.
import { parentPort, workerData } from 'node:worker_threads';
import { serveReviews, type ThreadData } from './review-thread.js';

if (parentPort === null) throw new Error('review-thread-entry runs as a worker thread of review-pool.ts');
serveReviews(parentPort, workerData as ThreadData);
