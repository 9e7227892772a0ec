#!/usr/bin/env bash
# The test command: sets up what is missing, builds the console, and runs every test
# (unit, real Flink, real S3, headless Chromium). Extra arguments go to the test runner:
# `cargo nextest run` (.config/nextest.toml), or `cargo test` where nextest is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"
"$here/scripts/setup.sh" --flink 1.20.5 --flink 1.18.1 --msf
"$here/scripts/build-console.sh"
# The packages the tests run, as a dev build (`--test`): the release build is what is deployed.
"$here/scripts/package-lambda.sh" --test
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
cargo build -q --bin rescaler --bin test-localstack --tests
"$RESCALER_CACHE/cfn-lint-venv/bin/python" "$here/infra/test_cdn.py"
# One LocalStack (S3) for the whole run instead of one per test (harness::s3::SHARED_ENDPOINT_ENV):
# each test works in buckets of its own; the SSM and SES tests still start their own.
endpoint_file="$(mktemp -u "${TMPDIR:-/tmp}/rescaler-s3.XXXXXX")"
"$CARGO_TARGET_DIR/debug/test-localstack" "$endpoint_file" > "$endpoint_file.log" 2>&1 &
localstack=$!
trap 'kill "$localstack" 2>/dev/null || true; wait "$localstack" 2>/dev/null || true' EXIT
until [ -s "$endpoint_file" ]; do
  if ! kill -0 "$localstack" 2>/dev/null; then cat "$endpoint_file.log" >&2; exit 1; fi
  sleep 0.2
done
export RESCALER_TEST_S3="$(cat "$endpoint_file")"
# Default members: shared, backend, tests. The console (wasm32) was built above.
if cargo nextest --version > /dev/null 2>&1; then
  # Two tests at once (Flink clusters take ~1 GiB and a core each), the console tests one at a
  # time without holding a thread, the longest first: .config/nextest.toml.
  cargo nextest run "$@"
  # nextest does not run doctests.
  cargo test -q --doc
else
  export RUST_TEST_THREADS="${RUST_TEST_THREADS:-2}"
  cargo test "$@"
fi
