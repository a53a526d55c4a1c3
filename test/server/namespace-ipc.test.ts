// The worker's side of the namespaces protocol (src/server/namespace-ipc.ts)
// over an in-memory channel; the real IPC between real processes is
// test/e2e/namespaces.test.ts (serve --workers 2 against a kube-apiserver).
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { followPrimaryNamespaces, namespacesMessage, SUBSCRIBE } from '../../src/server/namespace-ipc.js';
import { capturingLogger } from './review-fixtures.js';

function channel() {
  const emitter = new EventEmitter();
  const sent: unknown[] = [];
  return {
    sent,
    deliver: (m: unknown) => emitter.emit('message', m),
    on: emitter.on.bind(emitter) as unknown as NodeJS.Process['on'],
    off: emitter.off.bind(emitter) as unknown as NodeJS.Process['off'],
    send: ((m: unknown) => sent.push(m) > 0) as NodeJS.Process['send'],
  };
}

const team = { name: 'team', labels: { 'ws-drain.io/inject': 'enabled' }, annotations: { 'ws-drain/cleanup': '20s', 'ws-drain/grace-margin': 'soon' } };

describe('a worker\'s copy of the primary\'s namespaces', () => {
  it('asks for them, is not synced until a complete state arrives, then applies changes in order', () => {
    const c = channel();
    const { logger } = capturingLogger();
    const cache = followPrimaryNamespaces({ config: DEFAULT_CONFIG, logger, channel: c });
    expect(c.sent).toEqual([SUBSCRIBE]);
    expect(cache.synced()).toBe(false);
    expect(cache.view('team')).toEqual({ name: 'team', known: false });
    // The primary has not listed yet: a partial state, not synced.
    c.deliver(namespacesMessage.snapshot(false, []));
    c.deliver(namespacesMessage.set(team));
    expect(cache.synced()).toBe(false);
    c.deliver(namespacesMessage.synced());
    expect(cache.synced()).toBe(true);
    const view = cache.view('team');
    expect(view.labels).toEqual(team.labels);
    // Read once when it arrives (withNamespaceDefaults), not per admission.
    expect(view.defaults?.values).toEqual({ 'ws-drain/cleanup': '20s' });
    expect(view.defaults?.ignored.map((i) => i.key)).toEqual(['ws-drain/grace-margin']);
    expect(cache.view('team')).toBe(view);
    c.deliver(namespacesMessage.delete('team'));
    expect(cache.view('team').known).toBe(false);
  });

  it('a snapshot replaces what the copy held', () => {
    const c = channel();
    const { logger } = capturingLogger();
    const cache = followPrimaryNamespaces({ config: DEFAULT_CONFIG, logger, channel: c });
    c.deliver(namespacesMessage.snapshot(true, [team]));
    expect(cache.synced()).toBe(true);
    c.deliver(namespacesMessage.snapshot(true, [{ name: 'other', labels: {}, annotations: {} }]));
    expect(cache.view('team').known).toBe(false);
    expect(cache.view('other').known).not.toBe(false);
  });

  it('logs and ignores a malformed message of the protocol; passes other messages by', () => {
    const c = channel();
    const { logger, lines } = capturingLogger();
    const cache = followPrimaryNamespaces({ config: DEFAULT_CONFIG, logger, channel: c });
    c.deliver({ type: 'ws-drain:namespaces:snapshot', synced: true, namespaces: [{ name: 'x', labels: { a: 1 }, annotations: {} }] });
    c.deliver({ type: 'ws-drain:namespaces:set', namespace: null });
    c.deliver({ type: 'ws-drain:shutdown' });
    c.deliver('ws-drain:namespaces:synced');
    expect(cache.synced()).toBe(false);
    expect(cache.view('x').known).toBe(false);
    expect(lines.filter((l) => l['msg'] === 'ignored a malformed namespaces message from the primary')).toHaveLength(2);
  });

  it('stops listening once stopped', async () => {
    const c = channel();
    const { logger } = capturingLogger();
    const cache = followPrimaryNamespaces({ config: DEFAULT_CONFIG, logger, channel: c });
    await cache.stop();
    c.deliver(namespacesMessage.snapshot(true, [team]));
    expect(cache.synced()).toBe(false);
  });
});
