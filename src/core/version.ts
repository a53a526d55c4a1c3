// The release version has one source: package.json's "version". It is read
// here as a JSON module (no I/O at call time, so src/core stays pure) and
// reaches the CLI (`ws-drain --version`), the injected helper image's tag and
// the ws-drain/injected annotation. helper/build.sh, the images and the
// manifests take it from the same field (docs/release.md).
import pkg from '../../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
