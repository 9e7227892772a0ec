// Loads the console's WebAssembly. A file rather than an inline script: the page's
// Content-Security-Policy (backend/src/http/headers.rs) allows no inline script.
import init from "/rescaler_console.js";

init({ module_or_path: "/rescaler_console_bg.wasm" });
