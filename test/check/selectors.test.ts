import { describe, expect, it } from 'vitest';
import { matchesSelector, serviceSelects } from '../../src/check/selectors.js';
import { compareVersions, configFromDeployment, imageTag } from '../../src/check/webhook-install.js';
import { DEFAULT_CONFIG } from '../../src/core/config.js';

describe('label selectors as the API server evaluates them', () => {
  const labels = { app: 'chat', tier: 'ws' };
  it.each([
    [undefined, true],
    [{}, true],
    [{ matchLabels: { app: 'chat' } }, true],
    [{ matchLabels: { app: 'other' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['ws', 'http'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['ws'] }] }, false],
    [{ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['x'] }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    [{ matchExpressions: [{ key: 'app', operator: 'Bogus' }] }, false],
  ])('%j → %s', (selector, expected) => expect(matchesSelector(selector as never, labels)).toBe(expected));

  it('a Service without selector selects nothing', () => {
    expect(serviceSelects({}, { app: 'chat' })).toBe(false);
    expect(serviceSelects(undefined, { app: 'chat' })).toBe(false);
    expect(serviceSelects({ app: 'chat' }, { app: 'chat', x: 'y' })).toBe(true);
  });
});

describe('the webhook Deployment', () => {
  const deployment = (container: object) => ({ metadata: { name: 'ws-drain-webhook', namespace: 'ws-drain-system' }, spec: { template: { spec: { containers: [container] } } } });

  it('reads WS_DRAIN_* env and flags like serve does (flags win) and adds its own namespace to the exclusions', () => {
    const { config, source } = configFromDeployment(
      deployment({
        name: 'webhook',
        image: 'ghcr.io/ws-drain/ws-drain-webhook:0.3.1',
        args: ['serve', '--max-grace=2h', '--default-cleanup', '15s'],
        env: [{ name: 'WS_DRAIN_MAX_GRACE', value: '1h' }, { name: 'WS_DRAIN_DEFAULT_MARGIN', value: '50%' }, { name: 'POD_NAMESPACE' }],
      }) as never,
    );
    expect(source).toBe('Deployment ws-drain-system/ws-drain-webhook');
    expect(config.maxGraceSeconds).toBe(7200);
    expect(config.defaultCleanupSeconds).toBe(15);
    expect(config.defaultMargin).toBe(0.5);
    expect(config.defaultSessionP95Seconds).toBe(DEFAULT_CONFIG.defaultSessionP95Seconds);
    expect(config.helperVersion).toBe('0.3.1');
    expect(config.excludeNamespaces).toContain('ws-drain-system');
  });

  it('refuses settings serve would refuse', () => {
    expect(() => configFromDeployment(deployment({ name: 'w', env: [{ name: 'WS_DRAIN_MAX_GRACE', value: 'soon' }] }) as never)).toThrow(/--max-grace/);
  });

  it('image tags and versions', () => {
    expect(imageTag('ghcr.io/ws-drain/ws-drain-helper:0.1.0')).toBe('0.1.0');
    expect(imageTag('registry:5000/ws-drain-helper')).toBeUndefined();
    expect(imageTag('ghcr.io/x@sha256:abc')).toBeUndefined();
    expect(compareVersions('0.10.0', '0.9.1')).toBe(1);
    expect(compareVersions('v0.1.0', '0.1.0')).toBe(0);
    expect(compareVersions('0.1.0-rc.1', '0.1.0')).toBe(-1);
    expect(compareVersions('latest', '0.1.0')).toBeUndefined();
  });
});
