#!/usr/bin/env node
// The ws-drain CLI entry point: dispatches kubectl-style subcommands.
import { VERSION } from '../core/version.js';
import { CliError } from './cli-error.js';

const USAGE = `Usage: ws-drain COMMAND [flags]

Zero-downtime termination for WebSocket pods: a Kubernetes mutating admission webhook.

Commands:
  serve     run the admission webhook (HTTPS) and its metrics endpoint
  inject    apply the webhook's mutation to YAML offline (-f FILE, - for stdin)
  plan      explain the drain timings for given annotation values
  certs     generate a development CA and serving certificate
  check     audit a live cluster: install, opted-in workloads, proxy timeouts
  version   print the version (also --version)

Run "ws-drain COMMAND --help" for a command's flags.
`;

// Each command is imported only when run: `plan` should not pay for loading TLS,
// x509 and HTTP server code.
const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: async (argv) => (await import('./serve-command.js')).serveCommand(argv),
  inject: async (argv) => (await import('./inject-command.js')).injectCommand(argv),
  plan: async (argv) => (await import('./plan-command.js')).planCommand(argv),
  certs: async (argv) => (await import('./certs-command.js')).certsCommand(argv),
  check: async (argv) => (await import('./check-command.js')).checkCommand(argv),
  version: async (argv) => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write('Usage: ws-drain version\n\nPrint the version of ws-drain.\n');
      return 0;
    }
    if (argv.length > 0) throw new CliError(`version takes no arguments, got ${JSON.stringify(argv[0])}`, 2);
    process.stdout.write(`ws-drain ${VERSION}\n`);
    return 0;
  },
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    (command === undefined ? process.stderr : process.stdout).write(USAGE);
    return command === undefined ? 2 : 0;
  }
  // `--version` as well as `version`: what platform tooling and users try first.
  if (command === '--version') return COMMANDS['version']!(rest);
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`ws-drain: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      const hint = err.exitCode === 2 ? `\nRun "ws-drain ${command} --help" for usage.` : '';
      process.stderr.write(`ws-drain ${command}: ${err.message}${hint}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve has closed its servers; other commands must not cut piped stdout short, so no process.exit() for them.
    process.exitCode = code;
    if (process.argv[2] === 'serve') process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`ws-drain: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
