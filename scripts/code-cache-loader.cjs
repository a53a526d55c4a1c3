// The image's entry, dist/bundle/main.cjs (scripts/bundle.ts copies it there):
// compiles the CLI, bundled as one CommonJS script beside it (ws-drain.cjs),
// with the V8 code cache `npm run build` wrote after serve answered a review
// (ws-drain.cjs.cache), then runs it with this process's argv. Created after a
// review, the cache holds the functions the first review compiles, which
// Node's own compile cache (written before a module runs) cannot
// (docs/performance.md: cold start).
//
// V8 rejects a cache another Node release, architecture or flag set wrote
// (the arm64 image's, built on amd64): the script then compiles as without
// one. NODE_DEBUG=ws-drain prints which it was.
//
// WS_DRAIN_CODE_CACHE_TRAIN=FILE (the build only, scripts/bundle.ts): serve
// posts that AdmissionReview to its own --port, and once answered 200 the
// cache is written and the process exits.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { join } = require('node:path');
const { debuglog } = require('node:util');
const vm = require('node:vm');

const file = join(__dirname, 'ws-drain.cjs');
const cacheFile = `${file}.cache`;
const train = process.env.WS_DRAIN_CODE_CACHE_TRAIN;
let cachedData;
if (!train) {
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache: compiled as without one.
  }
}
// main.ts's #! line, a comment of the same length inside the function wrapper.
const source = readFileSync(file, 'utf8').replace(/^#!/, '//');
const script = new vm.Script(wrap(source), { filename: file, cachedData });
debuglog('ws-drain')('code cache %s: %s', cacheFile, cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected (another Node release, architecture or flags wrote it)' : 'accepted');
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, __dirname);

if (train) {
  const { request } = require('node:https');
  const body = readFileSync(train);
  const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
  const post = () => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) return void setTimeout(post, 20);
        writeFileSync(cacheFile, script.createCachedData());
        process.exit(0);
      });
    });
    // Not listening yet.
    req.on('error', () => setTimeout(post, 20));
    req.end(body);
  };
  setTimeout(post, 20);
}
