#!/usr/bin/env bash
# Makes this machine ready to build, run and test: idempotent, cached outside the clone.
# Usage: scripts/setup.sh [--flink VERSION ...] [--no-browser] [--no-wasm] [--no-s3] [--no-fuzz] [--msf]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$here/scripts/env.sh"

flink_versions=("$RESCALER_FLINK_VERSION")
want_browser=1 want_wasm=1 want_s3=1 want_fuzz=1 want_msf=0
while [ $# -gt 0 ]; do
  case "$1" in
    --flink) flink_versions+=("$2"); shift 2 ;;
    --no-browser) want_browser=0; shift ;;
    --no-wasm) want_wasm=0; shift ;;
    --no-s3) want_s3=0; shift ;;
    --no-fuzz) want_fuzz=0; shift ;;
    --msf) want_msf=1; shift ;;
    *) echo "setup: unknown option $1" >&2; exit 2 ;;
  esac
done

log() { printf '[setup] %s\n' "$*" >&2; }
mkdir -p "$RESCALER_CACHE"

# --- Java 17 -----------------------------------------------------------------
if ! command -v java >/dev/null || ! java -version 2>&1 | grep -q 'version "17'; then
  log "Java 17 is required (java -version must say 17)"; exit 1
fi

# --- Browser -------------------------------------------------------------------
if [ "$want_browser" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  log "installing chromium and chromium-driver from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# --- s3fs: the tests' Flink clusters keep their savepoints in the S3 server ---------------
# Flink's PyPI distribution has no S3 file system plugin: a bucket mounted with s3fs (FUSE)
# is where it writes them, and the backend reads them back through S3.
if [ "$want_s3" = 1 ] && [ ! -x /usr/bin/s3fs ]; then
  log "installing s3fs from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq s3fs >/dev/null
fi

# --- Flink distributions from PyPI ------------------------------------------------
install_flink() {
  local version="$1" home="$RESCALER_CACHE/flink-$1"
  [ -x "$home/bin/jobmanager.sh" ] && return 0
  log "assembling Flink $version from PyPI into $home"
  local dl; dl="$(mktemp -d)"
  python3 "$here/scripts/pypi_fetch.py" "$dl" "apache-flink-libraries==$version" "apache-flink==$version" >/dev/null
  python3 "$here/scripts/assemble_flink.py" "$dl" "$home.tmp"
  rm -rf "$home"; mv "$home.tmp" "$home"; rm -rf "$dl"
}
for v in "${flink_versions[@]}"; do install_flink "$v"; done

# --- S3-compatible server: LocalStack, pinned ------------------------------------
if [ "$want_s3" = 1 ] && [ ! -x "$RESCALER_CACHE/localstack-venv/.ready" ]; then
  log "installing LocalStack 4.13.1 into a venv"
  python3 -m venv "$RESCALER_CACHE/localstack-venv"
  "$RESCALER_CACHE/localstack-venv/bin/pip" install -q 'localstack-core[runtime]==4.13.1' \
    'cbor2<6' 'cryptography<44' 'pyopenssl<24.3' service_identity
  printf '#!/bin/sh\n' > "$RESCALER_CACHE/localstack-venv/.ready"; chmod +x "$RESCALER_CACHE/localstack-venv/.ready"
fi

# --- SMTP server for the email tests: aiosmtpd, pinned ------------------------------------
aiosmtpd_version=1.4.6
if ! grep -qx "$aiosmtpd_version" "$RESCALER_CACHE/aiosmtpd-venv/.ready" 2>/dev/null; then
  log "installing aiosmtpd $aiosmtpd_version into a venv"
  rm -rf "$RESCALER_CACHE/aiosmtpd-venv"
  python3 -m venv "$RESCALER_CACHE/aiosmtpd-venv"
  "$RESCALER_CACHE/aiosmtpd-venv/bin/pip" install -q "aiosmtpd==$aiosmtpd_version"
  echo "$aiosmtpd_version" > "$RESCALER_CACHE/aiosmtpd-venv/.ready"
fi

# --- API fuzzer: schemathesis, pinned (the api_fuzz test runs it) ---------------------------
schemathesis_version=4.32.5
if [ "$want_fuzz" = 1 ] && ! grep -qx "$schemathesis_version" "$RESCALER_CACHE/schemathesis-venv/.ready" 2>/dev/null; then
  log "installing schemathesis $schemathesis_version into a venv"
  rm -rf "$RESCALER_CACHE/schemathesis-venv"
  python3 -m venv "$RESCALER_CACHE/schemathesis-venv"
  "$RESCALER_CACHE/schemathesis-venv/bin/pip" install -q "schemathesis==$schemathesis_version"
  echo "$schemathesis_version" > "$RESCALER_CACHE/schemathesis-venv/.ready"
fi

# --- Deployment checks: cfn-lint, pinned (the test command lints infra/template.yaml) ---------
cfn_lint_version=1.58.0
if ! grep -qx "$cfn_lint_version" "$RESCALER_CACHE/cfn-lint-venv/.ready" 2>/dev/null; then
  log "installing cfn-lint $cfn_lint_version into a venv"
  rm -rf "$RESCALER_CACHE/cfn-lint-venv"
  python3 -m venv "$RESCALER_CACHE/cfn-lint-venv"
  "$RESCALER_CACHE/cfn-lint-venv/bin/pip" install -q "cfn-lint==$cfn_lint_version"
  echo "$cfn_lint_version" > "$RESCALER_CACHE/cfn-lint-venv/.ready"
fi

# --- The local MSF endpoint's service model: botocore, pinned (tests/msf-standin) -------------
botocore_version=1.44.5
if [ "$want_msf" = 1 ] && ! grep -qx "$botocore_version" "$RESCALER_CACHE/msf-standin-venv/.ready" 2>/dev/null; then
  log "installing botocore $botocore_version into a venv for the MSF stand-in"
  rm -rf "$RESCALER_CACHE/msf-standin-venv"
  python3 -m venv "$RESCALER_CACHE/msf-standin-venv"
  "$RESCALER_CACHE/msf-standin-venv/bin/pip" install -q "botocore==$botocore_version"
  echo "$botocore_version" > "$RESCALER_CACHE/msf-standin-venv/.ready"
fi

# --- OpenID Provider for the console's sign-in tests (npm oidc-provider 9.x) ------
oidc_provider_version=9.13.3
if [ "$want_browser" = 1 ] && ! grep -qx "$oidc_provider_version" "$RESCALER_CACHE/oidc/.ready" 2>/dev/null; then
  log "installing oidc-provider $oidc_provider_version from npm"
  mkdir -p "$RESCALER_CACHE/oidc"
  (cd "$RESCALER_CACHE/oidc" && { [ -f package.json ] || echo '{"private": true, "type": "module"}' > package.json; } \
    && npm install -s --no-audit --no-fund "oidc-provider@$oidc_provider_version" >/dev/null)
  echo "$oidc_provider_version" > "$RESCALER_CACHE/oidc/.ready"
fi

# --- Wasm toolchain -------------------------------------------------------------
if [ "$want_wasm" = 1 ]; then
  if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  wb_version="$(grep -A1 '^name = "wasm-bindgen"$' "$here/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
  if [ ! -x "$RESCALER_CACHE/bin/wasm-bindgen" ] || ! "$RESCALER_CACHE/bin/wasm-bindgen" --version | grep -q " $wb_version"; then
    log "building wasm-bindgen-cli $wb_version (once; about 9 minutes)"
    cargo install -q wasm-bindgen-cli --version "$wb_version" --root "$RESCALER_CACHE" --target-dir "$RESCALER_CACHE/target-tools"
  fi
  if [ ! -x "$RESCALER_CACHE/node/node_modules/.bin/wasm-opt" ]; then
    log "installing binaryen (wasm-opt) from npm"
    mkdir -p "$RESCALER_CACHE/node"
    (cd "$RESCALER_CACHE/node" && npm install -s --no-audit --no-fund binaryen@132 >/dev/null)
  fi
fi
log "ready"
