import { describe, expect, it } from 'vitest';
import { INSTALL_COMMAND, isHelperCommand, prestopArgv } from '../../src/core/helper-argv.js';

describe('prestopArgv (docs/helper.md contract)', () => {
  it('writes the required flags in contract order with whole-second durations', () => {
    expect(prestopArgv({ container: 'web', delaySeconds: 20, budgetSeconds: 300, ports: [8080, 8443] })).toEqual([
      '/ws-drain/ws-drain-helper',
      'prestop',
      '--container=web',
      '--delay=20s',
      '--budget=300s',
      '--ports=8080,8443',
    ]);
  });

  it('writes every optional flag, repeats --hook-header, puts the original argv after --', () => {
    expect(
      prestopArgv({
        container: 'web',
        delaySeconds: 5,
        budgetSeconds: 0,
        ports: [80],
        signal: 'SIGQUIT',
        drainUrl: 'http://127.0.0.1:80/drain',
        drainMethod: 'POST',
        hookUrl: 'http://127.0.0.1:80/stop',
        hookHeaders: ['A: 1', 'B: two words'],
        hookTimeoutSeconds: 10,
        hookArgv: ['/bin/sh', '-c', 'echo "$HOME"; sleep 1'],
      }),
    ).toEqual([
      '/ws-drain/ws-drain-helper',
      'prestop',
      '--container=web',
      '--delay=5s',
      '--budget=0s',
      '--ports=80',
      '--signal=SIGQUIT',
      '--drain-url=http://127.0.0.1:80/drain',
      '--drain-method=POST',
      '--hook-url=http://127.0.0.1:80/stop',
      '--hook-header=A: 1',
      '--hook-header=B: two words',
      '--hook-timeout=10s',
      '--',
      '/bin/sh',
      '-c',
      'echo "$HOME"; sleep 1',
    ]);
  });

  it('install command and recognition of our own hook', () => {
    expect(INSTALL_COMMAND).toEqual(['/ws-drain-helper', 'install', '/ws-drain']);
    expect(isHelperCommand(['/ws-drain/ws-drain-helper', 'prestop'])).toBe(true);
    expect(isHelperCommand(['/bin/sh', '/ws-drain/ws-drain-helper'])).toBe(false);
    expect(isHelperCommand(undefined)).toBe(false);
  });
});
