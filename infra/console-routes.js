// CloudFront Function (cloudfront-js-2.0), viewer-request on the console's behaviour only:
// a client-side route of the console (a path whose last segment has no file extension, such
// as /rescales/abc or /auth/callback) is answered with /index.html, so a deep link or a reload
// loads the console; a file (/boot.js, /style.css, /rescaler_console_bg.wasm) passes unchanged,
// and a missing one is S3's 404. /api/* is another behaviour, which this never sees.
// infra/template.yaml carries this file inline (check_template.py checks the copy).
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var last = uri.substring(uri.lastIndexOf("/") + 1);
  if (last.indexOf(".") === -1) {
    request.uri = "/index.html";
  }
  return request;
}
