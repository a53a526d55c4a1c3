// The trained-code-cache experiment (bench/snapshot.ts, docs/performance.md:
// "Tried and not adopted"): the CLI bundled as one CommonJS file that
// bench/code-cache-loader.cjs compiles with V8's code cache; run() starts it.
export function run(): void {
  // esbuild keeps main.ts in this file and runs its top level (the CLI) here.
  void import('../src/cli/main.js');
}
