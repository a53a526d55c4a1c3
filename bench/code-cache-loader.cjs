// The trained-code-cache experiment (bench/snapshot.ts): compiles the CLI
// bundled as one CommonJS file with V8's code cache from WS_DRAIN_CODE_CACHE
// and runs it with the same argv. With WS_DRAIN_CODE_CACHE_TRAIN (an
// AdmissionReview file) it serves, posts that review to its own --port until
// answered 200, then writes the cache and exits: created after the review,
// the cache holds every function that ran, not only what the module's top
// level compiled (Node's compile cache is written before a module runs).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { request } = require('node:https');
const { wrap, createRequire } = require('node:module');
const { join } = require('node:path');
const vm = require('node:vm');

const file = join(__dirname, 'cli.cjs');
const cacheFile = process.env.WS_DRAIN_CODE_CACHE ?? `${file}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // No cache yet: compiled as without one.
}
const script = new vm.Script(wrap(readFileSync(file, 'utf8')), { filename: file, cachedData, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
if (cachedData !== undefined && script.cachedDataRejected) process.emitWarning(`${cacheFile}: code cache rejected (another Node release, architecture or bundle)`);
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, __dirname);
mod.exports.run();

const train = process.env.WS_DRAIN_CODE_CACHE_TRAIN;
if (train) {
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
    req.on('error', () => setTimeout(post, 20));
    req.end(body);
  };
  setTimeout(post, 20);
}
