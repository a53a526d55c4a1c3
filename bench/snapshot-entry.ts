// The builder script of the startup-snapshot experiment (bench/snapshot.ts,
// docs/performance.md: "Tried and not adopted"). Bundled as one CommonJS file
// and run by `node --build-snapshot`: what it evaluates here, the core and
// the admission schemas (zod), is in the snapshot; the CLI and what Node 24
// cannot snapshot (node:http/https/tls, diagnostics_channel, hence pino and
// prom-client) load when the snapshot starts.
import { readFileSync } from 'node:fs';
import { startupSnapshot } from 'node:v8';
import { DEFAULT_CONFIG } from '../src/core/index.js';
import { admit, parseAdmissionReview, serializeReview } from '../src/server/admission.js';

/** The bundled file itself (esbuild's define): what process.argv[1] says in the running CLI. */
declare const SNAPSHOT_SCRIPT: string;

// A review answered while building, so the functions it runs (zod's parsers, the core)
// are compiled in the snapshot instead of on the first request.
const warm = process.env['WS_DRAIN_SNAPSHOT_WARM'];
if (warm !== undefined && warm !== '') {
  const parsed = parseAdmissionReview(JSON.parse(readFileSync(warm, 'utf8')));
  if (!parsed.ok) throw new Error(`snapshot warm-up: ${parsed.error}`);
  serializeReview(admit(parsed.review, DEFAULT_CONFIG).review);
}

startupSnapshot.setDeserializeMainFunction(() => {
  // Started from the blob, argv has no script: [node, ...args]. A cluster worker is
  // started with argv[1] (the script) and the blob again in execArgv.
  if (process.argv[1] !== SNAPSHOT_SCRIPT) process.argv.splice(1, 0, SNAPSHOT_SCRIPT);
  // esbuild runs main.ts's top level (the CLI) here, not while building.
  void import('../src/cli/main.js');
});
