#!/usr/bin/env bash
# Builds both Lambda binaries as `bootstrap` for provided.al2023 (cargo-lambda with zig, from
# PyPI) and zips them into target/lambda/<binary>/ where infra/template.yaml finds them, with the
# profile they were built with in target/lambda/<binary>/profile.
# Usage: scripts/package-lambda.sh [--test]
#   --test  the `lambda-test` profile (Cargo.toml): a dev build, for the test command; without it
#           the release build, which is what is deployed and what the bench measures
set -euo pipefail
profile=release
if [ "${1:-}" = --test ]; then profile=lambda-test; fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"
venv="$RESCALER_CACHE/cargo-lambda-venv"
if [ ! -x "$venv/bin/cargo-lambda" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'cargo-lambda==1.9.2'
fi
export PATH="$venv/bin:$PATH"
cd "$here"
cargo lambda build -q --profile "$profile" -p rescaler-backend --bin lambda-api --bin lambda-reconcile
for bin in lambda-api lambda-reconcile; do
  mkdir -p "target/lambda/$bin"
  cp "$CARGO_TARGET_DIR/lambda/$bin/bootstrap" "target/lambda/$bin/bootstrap"
  (cd "target/lambda/$bin" && rm -f bootstrap.zip && python3 -m zipfile -c bootstrap.zip bootstrap)
  printf '%s\n' "$profile" > "target/lambda/$bin/profile"
  printf '[lambda] %s (%s): bootstrap %s bytes, zip %s bytes\n' "$bin" "$profile" \
    "$(stat -c %s "target/lambda/$bin/bootstrap")" "$(stat -c %s "target/lambda/$bin/bootstrap.zip")" >&2
done
