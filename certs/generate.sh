#!/usr/bin/env bash
# Dev CA + serving certificate into this directory (git-ignored), through the
# same code as `ws-drain certs`. Usage: certs/generate.sh [HOSTS]  (default localhost,127.0.0.1)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
exec npx --no-install tsx src/cli/main.ts certs --out "$here" --hosts "${1:-localhost,127.0.0.1}"
