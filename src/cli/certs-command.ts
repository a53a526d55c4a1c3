// `ws-drain certs`: a development CA and serving certificate for local runs and tests.
import { generateDevCerts, validateHosts, writeDevCerts } from '../certs/dev-certs.js';
import { CliError, usageError } from './cli-error.js';
import { formatFlagHelp, parseFlags, stringFlag, type FlagSpec } from './flags.js';

export const CERTS_FLAGS: FlagSpec[] = [
  { name: 'out', type: 'string', help: 'directory for ca.crt, ca.key, tls.crt, tls.key (keys are written 0600)', value: 'DIR', defaultText: 'certs' },
  { name: 'hosts', type: 'string', help: 'DNS names and IPs for the serving certificate, comma list (127.0.0.1 is always included)', value: 'LIST', defaultText: 'localhost,127.0.0.1' },
  { name: 'days', type: 'string', help: 'validity in days', value: 'N', defaultText: '365' },
];

export const CERTS_HELP = `Usage: ws-drain certs [--out certs] [--hosts localhost,127.0.0.1]

Generate a development CA and a serving certificate signed by it (ECDSA P-256).
For local runs and tests only: in a cluster, cert-manager issues the certificate.

Flags:
${formatFlagHelp(CERTS_FLAGS)}
`;

export async function certsCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, CERTS_FLAGS);
  if (values['help']) {
    process.stdout.write(CERTS_HELP);
    return 0;
  }
  const out = stringFlag(values, 'out') ?? 'certs';
  const hosts = (stringFlag(values, 'hosts') ?? 'localhost,127.0.0.1').split(',').map((h) => h.trim()).filter((h) => h !== '');
  const daysText = stringFlag(values, 'days') ?? '365';
  const days = /^\d{1,5}$/.test(daysText) ? Number(daysText) : NaN;
  if (!(days >= 1 && days <= 36500)) throw usageError(`--days=${JSON.stringify(daysText)}: expected a whole number of days, 1-36500`);
  try {
    validateHosts(hosts);
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  let paths;
  try {
    paths = await writeDevCerts(out, await generateDevCerts({ hosts, days }));
  } catch (err) {
    throw new CliError(`cannot write certificates to ${out}: ${err instanceof Error ? err.message : String(err)}`, 1);
  }
  process.stdout.write(`wrote ${paths.caCert}, ${paths.caKey}, ${paths.tlsCert}, ${paths.tlsKey}\n`);
  return 0;
}
