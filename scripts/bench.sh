#!/usr/bin/env bash
# The bench command: sets up what is missing (Flink, LocalStack, Chromium; the console and the
# Lambda packages only if they were never built, or not as release), builds the bench binary and
# runs it. Prints a table and writes target/bench/results.json; see BENCHMARKS.md.
# Usage: scripts/bench.sh [--rebuild] [--release] [p1 … p10] [--quick] [--flink VERSION …]
#   --flink    a Flink version for P2 (repeatable; by default 1.18.1, 1.20.5 and 2.3.0)
#   --rebuild  rebuild the console (build-console.sh) and the Lambda packages (package-lambda.sh)
#   --release  build the bench (and so the in-process backend it measures) with the release profile
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"
rebuild=0 profile=dev args=()
for arg in "$@"; do
  case "$arg" in
    --rebuild) rebuild=1 ;;
    --release) profile=release ;;
    *) args+=("$arg") ;;
  esac
done
"$here/scripts/setup.sh" --no-fuzz --flink 1.20.5 --flink 1.18.1
if [ "$rebuild" = 1 ] || [ ! -f "$here/frontend/dist/size.json" ]; then
  "$here/scripts/build-console.sh"
fi
# The bench measures the release packages: the test command's (`--test`) are rebuilt.
release_package() { [ -f "$here/target/lambda/$1/bootstrap.zip" ] && [ "$(cat "$here/target/lambda/$1/profile" 2>/dev/null)" = release ]; }
if [ "$rebuild" = 1 ] || ! release_package lambda-api || ! release_package lambda-reconcile; then
  "$here/scripts/package-lambda.sh"
fi
cd "$here"
if [ "$profile" = release ]; then
  cargo build -q --release -p rescaler-tests --bin bench
  bench="$CARGO_TARGET_DIR/release/bench"
else
  # With the tests, as scripts/test.sh builds: one feature set, so a tested tree builds no
  # dependency again.
  cargo build -q --bin bench --tests
  bench="$CARGO_TARGET_DIR/debug/bench"
fi
exec "$bench" "${args[@]}"
