#!/usr/bin/env bash
# The test command: sets up what is missing, builds the console, and runs every test
# (unit, real Flink, real S3, headless Chromium). Extra arguments go to `cargo test`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"
"$here/scripts/setup.sh" --flink 1.20.5 --flink 1.18.1 --msf
"$here/scripts/build-console.sh"
"$here/scripts/package-lambda.sh"
# The deployment template: linted, and checked against the code (handlers, variables, keys).
"$RESCALER_CACHE/cfn-lint-venv/bin/cfn-lint" "$here/infra/template.yaml"
"$RESCALER_CACHE/cfn-lint-venv/bin/python" "$here/infra/check_template.py"
# The layering rules of ARCHITECTURE.md: no import cycle, no oversized module or function.
python3 "$here/scripts/check_layers.py"
cd "$here"
# The CDN rules: CloudFront modelled from the template in front of the real binary and the built
# console (API errors keep their status, deep links load the console, the same security headers).
# Built with the tests, as `harness::backend::rescaler_binary` builds it: one feature set for the
# dependencies of both (a build of the binary alone would resolve other features and build every
# dependency twice), and the test run below finds it all built.
cargo build -q --bin rescaler --tests
"$RESCALER_CACHE/cfn-lint-venv/bin/python" "$here/infra/test_cdn.py"
# Flink clusters take ~1 GiB and a core each: at most two tests run at once.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-2}"
# Default members: shared, backend, tests. The console (wasm32) was built above.
cargo test "$@"
