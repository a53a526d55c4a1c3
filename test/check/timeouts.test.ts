import { describe, expect, it } from 'vitest';
import { backendConfigFor, parseAlbIdleTimeout, parseGatewayDuration, parseIngressNginxSeconds, parseNginxTime } from '../../src/check/timeouts.js';

describe('ingress-nginx proxy-*-timeout (whole seconds)', () => {
  it.each([
    ['60', 60],
    ['3600', 3600],
    [' 120 ', 120],
    ['0', 0],
  ])('%j is %d s', (v, s) => expect(parseIngressNginxSeconds(v)).toBe(s));
  it.each(['60s', '1m', '-5', '1.5', '', 'abc', '1e3'])('%j is refused (the controller ignores it)', (v) => expect(parseIngressNginxSeconds(v)).toBeUndefined());
});

describe('nginx time (worker-shutdown-timeout, nginx.org/proxy-read-timeout)', () => {
  it.each([
    ['240s', 240],
    ['240', 240],
    ['10m', 600],
    ['1h 30m', 5400],
    ['1h30m', 5400],
    ['500ms', 0.5],
    ['1d', 86_400],
    ['2w', 1_209_600],
    ['1M', 2_592_000],
    ['1y', 31_536_000],
  ])('%j is %d s', (v, s) => expect(parseNginxTime(v)).toBe(s));
  it.each(['', 's', '10x', '1.5m', '-10s', '10 s', 'ten'])('%j is refused', (v) => expect(parseNginxTime(v)).toBeUndefined());
});

describe('Gateway API Duration (GEP-2257, HTTPRoute timeouts)', () => {
  it.each([
    ['10s', 10],
    ['0s', 0],
    ['500ms', 0.5],
    ['1h', 3600],
    ['1h30m', 5400],
    ['1h30m10s500ms', 5410.5],
    ['99999s', 99999],
  ])('%j is %d s', (v, s) => expect(parseGatewayDuration(v)).toBe(s));
  it.each(['', '1.5s', '10', '1d', '-1s', '1h 30m', '100000s', '1h1m1s1ms1s', '10S'])('%j is refused', (v) => expect(parseGatewayDuration(v)).toBeUndefined());
});

describe('AWS ALB load-balancer-attributes', () => {
  it.each([
    ['idle_timeout.timeout_seconds=600', 600],
    ['routing.http2.enabled=true, idle_timeout.timeout_seconds=4000', 4000],
    ['routing.http2.enabled=true', undefined],
    ['', undefined],
    ['idle_timeout.timeout_seconds=0', 'invalid'],
    ['idle_timeout.timeout_seconds=4001', 'invalid'],
    ['idle_timeout.timeout_seconds=60s', 'invalid'],
    ['idle_timeout.timeout_seconds', 'invalid'],
  ])('%j → %s', (v, expected) => expect(parseAlbIdleTimeout(v)).toBe(expected));
});

describe('GKE backend-config annotation', () => {
  const port = { port: 80, name: 'http' };
  it.each([
    ['{"default":"bc"}', 'bc'],
    ['{"ports":{"80":"by-number"},"default":"bc"}', 'by-number'],
    ['{"ports":{"http":"by-name"}}', 'by-name'],
    ['{"ports":{"443":"other"}}', undefined],
    ['{"ports":{"443":"other"},"default":"bc"}', 'bc'],
    ['{}', undefined],
    ['not json', 'invalid'],
    ['["bc"]', 'invalid'],
    ['{"default":3}', 'invalid'],
  ])('%j → %s', (v, expected) => expect(backendConfigFor(v, port)).toBe(expected));
});
