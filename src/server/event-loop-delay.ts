// nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds: how late
// the event loop ran a timer due every EVENT_LOOP_SAMPLE_MS, under
// prom-client's names, types and cluster aggregators (dashboards keep working).
//
// In place of prom-client's own: a perf_hooks.monitorEventLoopDelay at 10 ms,
// which wakes an idle webhook 100 times a second (~10 ms of CPU a second) and
// records the whole interval between its runs, so a healthy loop read ~10 ms.
// Here a JS timer every 100 ms records only the delay beyond its due time
// (a healthy loop reads ~0), into a recordable histogram reset at each scrape.
// Not monitorEventLoopDelay at 100 ms: its reset() also forgets the previous
// run, so the first interval after every scrape would go unmeasured.
//
// What a 100 ms sample sees: a block longer than the interval always delays a
// run, by at least (block − interval); a shorter block is seen only if it
// straddles a run's due time, and then only the part past it. Many short
// blocks (a few ms each) show as a busy loop in CPU and admission latency,
// not here.
import { createHistogram, performance } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

export const EVENT_LOOP_SAMPLE_MS = 100;

/** The names prom-client's event-loop collector gives its histogram gauges (nodejs_eventloop_lag_seconds aside). */
export const EVENT_LOOP_DELAY_METRICS = [
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
] as const;

export interface EventLoopDelaySampler {
  /** Samples recorded since the last scrape. */
  samples(): number;
  /** Stops the timer (the gauges stay registered, reading their last values). */
  stop(): void;
}

export function registerEventLoopDelay(registry: Registry, intervalMs = EVENT_LOOP_SAMPLE_MS): EventLoopDelaySampler {
  const histogram = createHistogram();
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    // Nanoseconds past the due time; at least 1, the histogram's lowest value
    // (libuv's millisecond clock can run a timer a fraction of a ms "early").
    histogram.record(Math.max(1, Math.round((now - last - intervalMs) * 1e6)));
    last = now;
  }, intervalMs);
  timer.unref();

  const help = (what: string): string =>
    `${what} of the event loop's delay past a timer due every ${intervalMs} ms, in seconds, since the last scrape (0 on a healthy loop).`;
  const gauge = (name: (typeof EVENT_LOOP_DELAY_METRICS)[number], what: string, aggregator: 'min' | 'max' | 'average'): Gauge =>
    new Gauge({ name, help: help(what), aggregator, registers: [registry] });
  // serve --workers: the aggregators prom-client gives its own gauges of these names.
  const min = new Gauge({
    name: 'nodejs_eventloop_lag_min_seconds',
    help: help('The minimum'),
    aggregator: 'min',
    registers: [registry],
    // One collect sets every gauge (registered after this one, so collected after it).
    collect() {
      // No run since the last scrape (two scrapes within one interval): the last values stand.
      if (histogram.count === 0) return;
      this.set(histogram.min / 1e9);
      max.set(histogram.max / 1e9);
      mean.set(histogram.mean / 1e9);
      stddev.set(histogram.stddev / 1e9);
      p50.set(histogram.percentile(50) / 1e9);
      p90.set(histogram.percentile(90) / 1e9);
      p99.set(histogram.percentile(99) / 1e9);
      histogram.reset();
    },
  });
  const max = gauge('nodejs_eventloop_lag_max_seconds', 'The maximum', 'max');
  const mean = gauge('nodejs_eventloop_lag_mean_seconds', 'The mean', 'average');
  const stddev = gauge('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation', 'average');
  const p50 = gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile', 'average');
  const p90 = gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile', 'average');
  const p99 = gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile', 'average');

  return {
    samples: () => histogram.count,
    stop: () => clearInterval(timer),
  };
}
