#!/usr/bin/env bash
# Builds the console: cargo (wasm32) -> wasm-bindgen -> wasm-opt -> frontend/dist; reports sizes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"
out="$here/frontend/dist"
# Type-erased Leptos views: ~50 KB less gzipped wasm.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--cfg erase_components" \
  cargo build -q -p rescaler-console --target wasm32-unknown-unknown --profile release-wasm
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release-wasm/rescaler-console.wasm"
rm -rf "$out.tmp"; mkdir -p "$out.tmp"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$out.tmp" --out-name rescaler_console "$wasm"
opt="$RESCALER_CACHE/node/node_modules/.bin/wasm-opt"
if [ -x "$opt" ]; then
  "$opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    "$out.tmp/rescaler_console_bg.wasm" -o "$out.tmp/rescaler_console_bg.wasm"
fi
cp "$here/frontend/index.html" "$here/frontend/boot.js" "$here/frontend/style.css" "$out.tmp/"
rm -rf "$out"; mv "$out.tmp" "$out"
raw=$(stat -c %s "$out/rescaler_console_bg.wasm")
gz=$(gzip -9 -c "$out/rescaler_console_bg.wasm" | wc -c)
printf '[console] wasm %s bytes raw, %s bytes gzipped (%s KB)\n' "$raw" "$gz" "$((gz / 1024))" >&2
printf '{"wasm_raw_bytes": %s, "wasm_gzip_bytes": %s}\n' "$raw" "$gz" > "$out/size.json"
