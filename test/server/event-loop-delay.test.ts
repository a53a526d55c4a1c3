// The event-loop lag gauges: they must read how late the loop ran (a blocked
// loop: how far past its due time; an idle one: ~0), on a hand-driven clock,
// under the names the dashboard queries, without prom-client's 10 ms timer.
import { createRequire } from 'node:module';
import type { IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { EVENT_LOOP_DELAY_METRICS, EVENT_LOOP_SAMPLE_MS, registerEventLoopDelay, type EventLoopDelaySampler } from '../../src/server/event-loop-delay.js';
import { createMetrics } from '../../src/server/metrics.js';

const perfHooks = createRequire(import.meta.url)('node:perf_hooks') as typeof import('node:perf_hooks');

async function gauges(registry: Registry): Promise<Record<string, number>> {
  const json = await registry.getMetricsAsJSON();
  return Object.fromEntries(json.filter((m) => m.name.startsWith('nodejs_eventloop_lag')).map((m) => [m.name, m.values[0]?.value ?? NaN]));
}

/** Polls (generous deadline, no fixed sleep) until the sampler has recorded `n` runs. */
async function untilSamples(sampler: EventLoopDelaySampler, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (sampler.samples() < n) {
    if (Date.now() > deadline) throw new Error(`only ${sampler.samples()} samples in 30 s`);
    await sleep(10);
  }
}

describe('event-loop lag gauges', () => {
  it('read the delay past the interval: ~0 when idle, the block past the due time after one', async () => {
    // The sampler's timer and clock are driven by hand: a block is the clock
    // moving on while no timer runs, so the figures are exact on a busy machine.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let now = 1_000;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    const registry = new Registry();
    const sampler = registerEventLoopDelay(registry);
    const tick = (late: number): void => {
      now += EVENT_LOOP_SAMPLE_MS + late;
      vi.advanceTimersByTime(EVENT_LOOP_SAMPLE_MS);
    };
    try {
      for (let i = 0; i < 5; i++) tick(0);
      expect(sampler.samples()).toBe(5);
      const idle = await gauges(registry);
      // prom-client's monitor recorded the whole interval: ≥ the interval on a healthy loop.
      expect(idle['nodejs_eventloop_lag_max_seconds']).toBeLessThan(1e-6);
      expect(sampler.samples()).toBe(0); // the scrape reset the window

      for (let i = 0; i < 3; i++) tick(0);
      tick(300); // the loop blocked: the run came 300 ms past its due time
      const blocked = await gauges(registry);
      expect(blocked['nodejs_eventloop_lag_max_seconds']).toBeCloseTo(0.3, 2); // the histogram's precision; not the time since the last scrape (0.7 s)
      expect(blocked['nodejs_eventloop_lag_p99_seconds']).toBeGreaterThan(0.29);
      expect(blocked['nodejs_eventloop_lag_p50_seconds']).toBeLessThan(1e-6);
    } finally {
      sampler.stop();
      clock.mockRestore();
      vi.useRealTimers();
    }
  });

  it('keep the last values when no run happened since the last scrape', async () => {
    const registry = new Registry();
    const sampler = registerEventLoopDelay(registry, 3_600_000);
    try {
      expect(await gauges(registry)).toMatchObject({ nodejs_eventloop_lag_max_seconds: 0, nodejs_eventloop_lag_min_seconds: 0 });
    } finally {
      sampler.stop();
    }
  });

  it('replace prom-client\'s gauges in the default metrics, same names and types', async () => {
    const metrics = createMetrics();
    const text = await metrics.registry.metrics();
    for (const name of [...EVENT_LOOP_DELAY_METRICS, 'nodejs_eventloop_lag_seconds']) {
      expect(text).toContain(`# TYPE ${name} gauge\n`);
    }
    // Ours, not prom-client's ("The 99th percentile of the recorded event loop delays.").
    expect(text).toContain(`# HELP nodejs_eventloop_lag_p99_seconds The 99th percentile of the event loop's delay past a timer due every ${EVENT_LOOP_SAMPLE_MS} ms`);
    // Each name once: prom-client's were removed, not doubled.
    for (const name of EVENT_LOOP_DELAY_METRICS) expect(text.split(`# TYPE ${name} `).length).toBe(2);
  });

  it("leave prom-client's 10 ms event-loop monitor without a single run", async () => {
    // prom-client calls perf_hooks.monitorEventLoopDelay on this very module object.
    const spy = vi.spyOn(perfHooks, 'monitorEventLoopDelay');
    const clock = registerEventLoopDelay(new Registry());
    try {
      createMetrics();
      expect(spy).toHaveBeenCalledTimes(1);
      const promClients = spy.mock.results[0]?.value as IntervalHistogram;
      // Three runs of a 100 ms timer: prom-client's default (10 ms) would have ~30 samples.
      await untilSamples(clock, 3);
      expect(promClients.count).toBe(0);
    } finally {
      clock.stop();
      spy.mockRestore();
    }
  });
});
