#!/usr/bin/env bash
# The run command: sets up what is missing, builds, starts a local Flink with the sample job,
# the backend with its embedded store and the console; prints the URL and demo users.
# Ctrl-C stops everything it started. Options: PORT=8080 (env).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"
"$here/scripts/setup.sh"
"$here/scripts/build-console.sh"
cd "$here"
cargo build -q -p rescaler-backend --bin rescaler -p rescaler-tests --bin devstack
exec "$CARGO_TARGET_DIR/debug/devstack" "$CARGO_TARGET_DIR/debug/rescaler" "${PORT:-8080}"
