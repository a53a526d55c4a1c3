// Reviews built to hurt (issue 12): reserved names, look-alike injected pods,
// and pods that would make the answer huge. Each gets a clear, bounded answer.
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { utf8Length } from '../../src/core/inject.js';
import { boundedMessage, MAX_MESSAGE_CHARS, MAX_WARNINGS } from '../../src/core/limits.js';
import { CONFIG, container, pod, tcp, webPod } from './pod-builders.js';

const OPT_IN = { 'ws-drain/session-p95': '5m' };
const helperHook = { lifecycle: { preStop: { exec: { command: ['/ws-drain/ws-drain-helper', 'prestop'] } } } };

describe('names ws-drain needs', () => {
  it('a regular container named ws-drain-install is denied instead of duplicated', () => {
    const d = decide(pod(OPT_IN, { containers: [container('ws-drain-install', { ports: [tcp(8080)] })] }), 'default', CONFIG);
    expect(d).toMatchObject({ kind: 'deny', code: 422 });
    expect(d.kind === 'deny' && d.message).toMatch(/container name "ws-drain-install" is reserved/);
  });
});

describe('pods that look injected but are not marked', () => {
  it('a helper preStop without ws-drain/injected is denied with what was found and how to fix it', () => {
    const d = decide(webPod(OPT_IN, helperHook), 'default', CONFIG);
    expect(d).toMatchObject({ kind: 'deny', code: 422 });
    expect(d.kind === 'deny' && d.message).toMatch(/already has a preStop running \/ws-drain\/ws-drain-helper in container web but no ws-drain\/injected/);
  });

  it('a ws-drain-install init container without ws-drain/injected is denied', () => {
    const p = pod(OPT_IN, { initContainers: [container('ws-drain-install')], containers: [container('web', { ports: [tcp(8080)] })] });
    const d = decide(p, 'default', CONFIG);
    expect(d.kind === 'deny' && d.message).toMatch(/an init container named ws-drain-install but no ws-drain\/injected/);
  });

  it('the same pods with ws-drain/injected are skipped as already injected', () => {
    const marked = { ...OPT_IN, 'ws-drain/injected': '0.1.0' };
    expect(decide(webPod(marked, helperHook), 'default', CONFIG)).toMatchObject({ kind: 'skip', reason: 'already-injected' });
  });
});

describe('bounded answers', () => {
  it('2,000 unknown names in ws-drain/containers on 5,000 containers: one short message', () => {
    const containers = Array.from({ length: 5000 }, (_, i) => container(`c${i}`, { ports: [tcp(8000 + (i % 1000))] }));
    const unknown = Array.from({ length: 2000 }, (_, i) => `missing-${i}`).join(',');
    const d = decide(pod({ ...OPT_IN, 'ws-drain/containers': unknown }, { containers }), 'default', CONFIG);
    expect(d.kind).toBe('deny');
    if (d.kind !== 'deny') return;
    expect(d.message.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    expect(d.message).toMatch(/missing-0/);
    expect(d.message).toMatch(/more/);
  });

  it('1,000 unknown port names (the most ws-drain/ports may list) on a pod with 5,000 named ports: one short message', () => {
    const containers = Array.from({ length: 50 }, (_, c) =>
      container(`c${c}`, { ports: Array.from({ length: 100 }, (_, i) => tcp(1000 + c * 100 + i, `p${c}x${i}`)) }),
    );
    const unknown = Array.from({ length: 1000 }, (_, i) => `u${i}`).join(',');
    const d = decide(pod({ ...OPT_IN, 'ws-drain/ports': unknown }, { containers }), 'default', CONFIG);
    expect(d.kind).toBe('deny');
    if (d.kind !== 'deny') return;
    expect(d.message.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
  });

  it('ws-drain/ports listing 1..65535 is refused before any per-port work (was: ERR_STRING_TOO_LONG on 700 containers)', () => {
    const ports = Array.from({ length: 65535 }, (_, i) => String(i + 1)).join(',');
    const containers = Array.from({ length: 700 }, (_, i) => container(`c${i}`));
    const d = decide(pod({ ...OPT_IN, 'ws-drain/ports': ports }, { containers }), 'default', CONFIG);
    expect(d.kind).toBe('deny');
    expect(d.kind === 'deny' && d.message).toMatch(/ws-drain\/ports: lists 65535 ports; at most 1024/);
  });

  it('1,024 ports on 700 containers is denied by the injected-bytes estimate, before any hook is built', () => {
    const ports = Array.from({ length: 1024 }, (_, i) => String(20000 + i)).join(',');
    const containers = Array.from({ length: 700 }, (_, i) => container(`c${i}`));
    const d = decide(pod({ ...OPT_IN, 'ws-drain/ports': ports }, { containers }), 'default', CONFIG);
    expect(d.kind).toBe('deny');
    expect(d.kind === 'deny' && d.message).toMatch(/the preStop hooks for 700 containers would add about \d+ bytes to the pod, over the 524288/);
  });

  it('ws-drain/plan writes a shared ports list once, not once per container', () => {
    const containers = Array.from({ length: 30 }, (_, i) => container(`c${i}`, { ports: [tcp(8080)] }));
    const d = decide(pod({ ...OPT_IN, 'ws-drain/ports': '8080,9000,9100' }, { containers }), 'default', CONFIG);
    expect(d.kind).toBe('mutate');
    if (d.kind !== 'mutate') return;
    const text = (d.pod as { metadata: { annotations: Record<string, string> } }).metadata.annotations['ws-drain/plan'] ?? '';
    expect(text.split('9100').length - 1).toBe(1);
    const written = JSON.parse(text) as { ports: number[]; containers: Array<{ name: string; ports?: number[] }> };
    expect(written.ports).toEqual([8080, 9000, 9100]);
    expect(written.containers).toHaveLength(30);
    expect(written.containers.every((c) => c.ports === undefined)).toBe(true);
    // The in-memory plan keeps each container's list.
    expect(d.plan.containers[0]?.ports).toEqual([8080, 9000, 9100]);
  });

  it('a proxy beside hundreds of apps names a few of them in ws-drain/plan, not all (was: every app in every proxy\'s entry)', () => {
    const containers = Array.from({ length: 400 }, (_, i) =>
      i % 2 === 0 ? container(`app${i}`, { ports: [tcp(8000 + i)] }) : container(`edge${i}-proxy`, { image: 'nginx:1.27', ports: [tcp(9000 + i)] }),
    );
    const d = decide(pod(OPT_IN, { containers }), 'default', CONFIG);
    expect(d.kind).toBe('mutate');
    if (d.kind !== 'mutate') return;
    const text = (d.pod as { metadata: { annotations: Record<string, string> } }).metadata.annotations['ws-drain/plan'] ?? '';
    const proxies = (JSON.parse(text) as { containers: Array<{ role: string; why: string }> }).containers.filter((c) => c.role === 'proxy');
    expect(proxies).toHaveLength(200);
    for (const p of proxies) expect(p.why).toBe('proxy beside app0, app2, app4 and 197 more');
  });

  it('a pod whose annotations would pass 256 KiB with ws-drain/plan is denied with the sizes', () => {
    const d = decide(webPod({ ...OPT_IN, 'example.com/big': 'x'.repeat(256 * 1024 - 200) }), 'default', CONFIG);
    expect(d.kind).toBe('deny');
    expect(d.kind === 'deny' && d.message).toMatch(/annotations would take \d+ bytes, over Kubernetes' limit of 262144/);
  });

  it('counts the annotations in UTF-8 bytes, as the API server does, not in characters', () => {
    // 100,000 characters, 200,000 bytes: with ws-drain/plan under the limit in characters, over it in bytes.
    const accented = decide(webPod({ ...OPT_IN, 'example.com/big': 'é'.repeat(100_000), 'example.com/more': 'x'.repeat(63 * 1024) }), 'default', CONFIG);
    expect(accented.kind === 'deny' && accented.message).toMatch(/annotations would take \d+ bytes, over Kubernetes' limit of 262144/);
    const ascii = decide(webPod({ ...OPT_IN, 'example.com/big': 'e'.repeat(100_000), 'example.com/more': 'x'.repeat(63 * 1024) }), 'default', CONFIG);
    expect(ascii.kind).toBe('mutate');
  });

  it('utf8Length is the UTF-8 encoding\'s length for ASCII, accents, CJK, emoji and lone surrogates', () => {
    const encoder = new TextEncoder();
    for (const text of ['', 'ws-drain/plan', '{"mode":"drain"}', 'é', 'café', '日本語', '👋 hi', 'a\ud800b', '\udc00', 'x\ud83d', '\u007f\u0080\u07ff\u0800\uffff']) {
      expect(utf8Length(text), JSON.stringify(text)).toBe(encoder.encode(text).length);
    }
  });

  it('many warnings become the first few and a count', () => {
    const containers = Array.from({ length: 40 }, (_, i) =>
      container(`c${i}`, { ports: [tcp(8000 + i)], lifecycle: { preStop: { exec: { command: ['/bin/true'] } } } }),
    );
    const d = decide(pod(OPT_IN, { containers }), 'default', CONFIG);
    expect(d.kind).toBe('mutate');
    if (d.kind !== 'mutate') return;
    expect(d.warnings).toHaveLength(MAX_WARNINGS);
    expect(d.warnings.at(-1)).toMatch(/and \d+ more warnings/);
  });

  it('boundedMessage keeps whole problems, counts the rest, and cuts one giant problem', () => {
    expect(boundedMessage(['a', 'b'])).toBe('a; b');
    const many = boundedMessage(Array.from({ length: 1000 }, (_, i) => `problem number ${i}`));
    expect(many.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    expect(many).toMatch(/^problem number 0; problem number 1;/);
    expect(many).toMatch(/; and \d+ more problems$/);
    const giant = boundedMessage(['x'.repeat(1_000_000), 'y']);
    expect(giant.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    expect(giant).toMatch(/\.\.\.; and 1 more problem$/);
  });
});
