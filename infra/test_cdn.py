#!/usr/bin/env python3
"""The CDN rules of infra/template.yaml, exercised: CloudFront's request flow modelled from the
template, in front of the real backend binary and an S3-like origin.

The model takes from the template: the behaviour a path selects (PathPattern in order, then the
default), its allowed methods, its viewer-request function (the template's inline code, run by
node as CloudFront runs a cloudfront-js-2.0 `function handler(event)`), the origin it targets,
DefaultRootObject, the distribution's CustomErrorResponses, the behaviour's response-headers
policy (as CloudFront renders it, overriding the origin's headers), and whether S3 answers a
missing file 404 (CloudFront may s3:ListBucket) or 403.

Origins: `api` is the real `rescaler` binary serving the API alone, as the API Lambda does
(tokens mode, a directory store, an unreachable cluster); `console` serves the built console
(frontend/dist) with S3's answers for missing keys.

It checks: /api/* errors keep their status and JSON envelope (404, 401, 403, 405); deep links
of the console answer index.html 200; its files pass unchanged and a missing one is a 404; every
answer carries the security headers, the same on both paths and the same as the binary's own.
Then the template's CSP is the one `headers::content_security_policy` builds for the same
origins: a second binary, in oidc mode with the template's Lambda variables (region, user pool
and sign-in domain filled in: issuer and token endpoint), answers it. Finally a template with the old distribution-wide
error pages must fail the API checks (the model tells the difference).

usage: test_cdn.py [RESCALER_BINARY [TEMPLATE]] (default $CARGO_TARGET_DIR/debug/rescaler and
infra/template.yaml); needs PyYAML
(the cfn-lint venv has it), node, and the console built (scripts/build-console.sh).
"""
import copy
import fnmatch
import http.server
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import cdn_rules  # noqa: E402
from check_template import Loader  # noqa: E402

ROOT = cdn_rules.ROOT
DIST = ROOT / "frontend/dist"
# What the template's ${…} stand for in this test.
STACK = {"AWS::Region": "eu-west-1", "AWS::StackName": "rescaler", "AWS::Partition": "aws",
         "AWS::AccountId": "111122223333", "UserPool": "eu-west-1_TestPool", "UserPoolClient": "console-client",
         "SignInDomainPrefix": "team-rescaler", "RecordsBucket": "rescaler-recordsbucket-1a2b3c4d5e6f"}
SECURITY_HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy",
                    "strict-transport-security")
NODE_RUNNER = r"""
const fs = require("fs");
const handler = new Function(fs.readFileSync(process.argv[1], "utf8") + "\nreturn handler;")();
const event = JSON.parse(fs.readFileSync(0, "utf8"));
Promise.resolve(handler(event)).then((result) => process.stdout.write(JSON.stringify(result)));
"""


def substitute(value, names=STACK):
    """A template value with its !Sub / !Ref / !GetAtt resolved from `names`."""
    if isinstance(value, dict) and "Sub" in value:
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(names[m.group(1)]), value["Sub"])
    if isinstance(value, dict) and "Ref" in value:
        return str(names[value["Ref"]])
    return value


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, {k.lower(): v for k, v in headers.items()}, body

    def json(self):
        return json.loads(self.body)


def send(url, method="GET", headers=None, body=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return Response(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


# ---- origins ------------------------------------------------------------------------------

def console_origin(missing_status):
    """An S3-like origin over frontend/dist: a key's bytes, or S3's error for a missing key."""
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm",
             ".json": "application/json"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            key = self.path.split("?")[0].lstrip("/")
            path = DIST / key
            if key and ".." not in key and path.is_file():
                body, status, kind = path.read_bytes(), 200, types.get(path.suffix, "binary/octet-stream")
            else:
                code = "NoSuchKey" if missing_status == 404 else "AccessDenied"
                body, status, kind = f"<Error><Code>{code}</Code></Error>".encode(), missing_status, "application/xml"
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_binary(binary, work, name, config_toml, env=None):
    port = free_port()
    config = work / f"{name}.toml"
    config.write_text(f'listen = "127.0.0.1:{port}"\n' + config_toml)
    log = open(work / f"{name}.log", "w")
    variables = {k: v for k, v in os.environ.items() if not k.startswith("RESCALER_")}
    process = subprocess.Popen([str(binary), str(config)], stdout=log, stderr=subprocess.STDOUT,
                               env={**variables, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited: {(work / f'{name}.log').read_text()[-2000:]}")
        try:
            if send(url + "/healthz").status == 200:
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{name} never answered /healthz")


# ---- the CloudFront model -----------------------------------------------------------------

class Distribution:
    def __init__(self, template, origins):
        self.template, self.origins = template, origins
        self.config = cdn_rules.distribution_config(template)

    def behaviour(self, path):
        for pattern, behaviour in cdn_rules.behaviours(self.template):
            if pattern is None or fnmatch.fnmatchcase(path, pattern):
                return behaviour

    def viewer_request(self, behaviour, request):
        for association in behaviour.get("FunctionAssociations", []):
            if association["EventType"] != "viewer-request":
                continue
            name = association["FunctionARN"]["GetAtt"].split(".")[0]
            code = self.template["Resources"][name]["Properties"]["FunctionCode"]
            with tempfile.NamedTemporaryFile("w", suffix=".js") as source:
                source.write(code)
                source.flush()
                event = {"version": "1.0", "context": {"eventType": "viewer-request", "distributionId": "E1"},
                         "viewer": {"ip": "198.51.100.7"}, "request": request}
                done = subprocess.run(["node", "-e", NODE_RUNNER, source.name], input=json.dumps(event),
                                      capture_output=True, text=True, check=True)
            request = json.loads(done.stdout)
            if "statusCode" in request:
                raise AssertionError("the function answered itself; the model does not expect it")
        return request

    def origin_request(self, behaviour, request, headers, body):
        uri = request["uri"]
        if uri == "/" and self.config.get("DefaultRootObject"):
            uri = "/" + self.config["DefaultRootObject"]
        query = "&".join(f"{k}={v['value']}" for k, v in request.get("querystring", {}).items())
        url = self.origins[behaviour["TargetOriginId"]] + uri + (f"?{query}" if query else "")
        return send(url, request["method"], headers, body)

    def custom_error(self, response):
        for rule in self.config.get("CustomErrorResponses", []):
            if int(rule["ErrorCode"]) == response.status and "ResponsePagePath" in rule:
                page = self.origins[self.config["DefaultCacheBehavior"]["TargetOriginId"]] + rule["ResponsePagePath"]
                replaced = send(page)
                return Response(int(rule.get("ResponseCode", response.status)), replaced.headers, replaced.body)
        return response

    def response_headers(self, behaviour, response):
        reference = behaviour.get("ResponseHeadersPolicyId")
        if not reference:
            return response
        config = self.template["Resources"][reference["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
        for name, value, override in rendered_security_headers(config["SecurityHeadersConfig"]):
            if override or name not in response.headers:
                response.headers[name] = value
        return response

    def request(self, method, path, headers=None, body=None):
        uri, _, query = path.partition("?")
        behaviour = self.behaviour(uri)
        if method not in behaviour.get("AllowedMethods", ["GET", "HEAD"]):
            return self.response_headers(behaviour, Response(403, {}, b"method not allowed by CloudFront"))
        querystring = {k: {"value": v} for k, _, v in (p.partition("=") for p in query.split("&") if p)}
        request = {"method": method, "uri": uri, "querystring": querystring, "headers": {}, "cookies": {}}
        request = self.viewer_request(behaviour, request)
        response = self.custom_error(self.origin_request(behaviour, request, headers, body))
        return self.response_headers(behaviour, response)


def rendered_security_headers(security):
    """The headers a SecurityHeadersConfig adds, as CloudFront writes them: (name, value, override)."""
    hsts = security["StrictTransportSecurity"]
    hsts_value = f"max-age={hsts['AccessControlMaxAgeSec']}" + ("; includeSubDomains" if hsts.get("IncludeSubdomains") else "") \
        + ("; preload" if hsts.get("Preload") else "")
    csp = security["ContentSecurityPolicy"]
    return [
        ("content-security-policy", substitute(csp["ContentSecurityPolicy"]), csp["Override"]),
        ("x-frame-options", security["FrameOptions"]["FrameOption"], security["FrameOptions"]["Override"]),
        ("x-content-type-options", "nosniff", security["ContentTypeOptions"]["Override"]),
        ("referrer-policy", security["ReferrerPolicy"]["ReferrerPolicy"], security["ReferrerPolicy"]["Override"]),
        ("strict-transport-security", hsts_value, hsts["Override"]),
    ]


# ---- the checks ---------------------------------------------------------------------------

def missing_file_status(template):
    """404 when CloudFront may list the console bucket, else S3's 403."""
    policy = template["Resources"]["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    lists = any(s.get("Effect") == "Allow" and "s3:ListBucket" in as_list(s.get("Action"))
                and s.get("Principal") == {"Service": "cloudfront.amazonaws.com"} for s in policy)
    return 404 if lists else 403


def as_list(value):
    return value if isinstance(value, list) else [value]


def api_problems(cdn):
    """What the CDN does wrong to the API's answers."""
    problems = []
    json_type = "application/json"

    def expect(what, response, status, code):
        if response.status != status or not response.headers.get("content-type", "").startswith(json_type):
            problems.append(f"{what}: {response.status} {response.headers.get('content-type')}, expected {status} JSON")
        elif response.json().get("error", {}).get("code") != code:
            problems.append(f"{what}: envelope {response.body[:200]!r}, expected code {code}")

    alice = {"authorization": "Bearer alice-token"}
    expect("a missing request", cdn.request("GET", "/api/v1/rescales/nope", alice), 404, "not_found")
    expect("no such endpoint", cdn.request("GET", "/api/v1/nothing-here", alice), 404, "not_found")
    expect("no token", cdn.request("GET", "/api/v1/me"), 401, "unauthenticated")
    body = json.dumps({"cluster_id": "prod", "job_id": "a" * 32, "target": {"kind": "uniform", "parallelism": 2},
                       "reason": "cdn"}).encode()
    viewer = {"authorization": "Bearer victor-token", "content-type": "application/json"}
    expect("a viewer's request", cdn.request("POST", "/api/v1/rescales", viewer, body), 403, "forbidden")
    expect("a wrong method", cdn.request("PUT", "/api/v1/me", alice, b""), 405, "method_not_allowed")
    me = cdn.request("GET", "/api/v1/me", alice)
    if me.status != 200 or me.json().get("name") != "alice":
        problems.append(f"GET /api/v1/me as alice: {me.status} {me.body[:200]!r}")
    return problems


def console_problems(cdn):
    problems = []
    index = (DIST / "index.html").read_bytes()
    for path in ("/", "/rescales/abc", "/clusters/prod/jobs/0123abcd", "/auth/callback?code=xyz&state=s1", "/inbox"):
        response = cdn.request("GET", path)
        if response.status != 200 or response.body != index:
            problems.append(f"{path}: {response.status}, expected index.html 200")
    for name in ("boot.js", "style.css", "rescaler_console.js", "rescaler_console_bg.wasm"):
        response = cdn.request("GET", "/" + name)
        if response.status != 200 or response.body != (DIST / name).read_bytes():
            problems.append(f"/{name}: {response.status}, expected the file unchanged")
    for path in ("/nope.js", "/assets/gone.css"):
        response = cdn.request("GET", path)
        # S3 answers 404 only when CloudFront may list the bucket (else 403): a missing file is a 404.
        if response.status != 404:
            problems.append(f"{path}: {response.status}, expected 404 (CloudFront needs s3:ListBucket on the console bucket)")
    return problems


def header_problems(cdn, binary_headers):
    """Every answer, on both behaviours, carries the security headers: CloudFront's, equal to the
    binary's own."""
    problems = []
    paths = ["/api/v1/me", "/api/v1/rescales/nope", "/rescales/abc", "/boot.js", "/nope.js"]
    for path in paths:
        response = cdn.request("GET", path, {"authorization": "Bearer alice-token"})
        for name in SECURITY_HEADERS:
            if response.headers.get(name) != binary_headers.get(name):
                problems.append(f"{path}: {name} is {response.headers.get(name)!r}, the binary sends "
                                f"{binary_headers.get(name)!r}")
    return problems


def oidc_environment(template):
    """The API Lambda's OIDC variables from the template, resolved for this test."""
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    variables.update(template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"])
    chosen = {k: str(substitute(v)) for k, v in variables.items() if k.startswith("RESCALER_OIDC_")}
    # The records bucket, where the browser puts jar parts: its origin is in connect-src too.
    chosen["RESCALER_STORE_BUCKET"] = str(substitute(variables["RESCALER_STORE_BUCKET"]))
    chosen["AWS_REGION"] = STACK["AWS::Region"]
    return chosen


def main():
    binary = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else \
        pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug/rescaler"
    template_path = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "infra/template.yaml"
    for needed in (binary, DIST / "index.html", DIST / "boot.js"):
        if not needed.exists():
            raise SystemExit(f"cdn: {needed} is missing (build the binary and the console first)")
    template = yaml.load(template_path.read_text(), Loader=Loader)
    for name, parameter in template["Parameters"].items():
        if "Default" in parameter:
            STACK.setdefault(name, parameter["Default"])
    # Ref UserPoolDomain is the domain prefix the resource creates.
    STACK["UserPoolDomain"] = substitute(template["Resources"]["UserPoolDomain"]["Properties"]["Domain"])
    problems = cdn_rules.cdn_problems(template)
    with tempfile.TemporaryDirectory(prefix="rescaler-cdn-") as work_dir:
        work = pathlib.Path(work_dir)
        users = "".join(f'[[auth.users]]\nname = "{n}"\ntoken = "{n}-token"\nroles = {{ "*" = "{r}" }}\n'
                        for n, r in (("alice", "requester"), ("victor", "viewer")))
        api_toml = (f'[store]\nkind = "dir"\npath = "{work / "store"}"\n[auth]\nmode = "tokens"\n{users}'
                    '[[clusters]]\nid = "prod"\nname = "Prod"\nrest_url = "http://127.0.0.1:9"\n')
        children, s3 = [], None
        try:
            api, api_url = start_binary(binary, work, "api", api_toml)
            children.append(api)
            oidc, oidc_url = start_binary(binary, work, "oidc", f'[store]\nkind = "dir"\npath = "{work / "store2"}"\n',
                                          oidc_environment(template))
            children.append(oidc)
            s3 = console_origin(missing_file_status(template))
            origins = {"api": api_url, "console": f"http://127.0.0.1:{s3.server_address[1]}"}
            cdn = Distribution(template, origins)
            problems += api_problems(cdn) + console_problems(cdn)
            # The binary's own headers, in tokens mode (no provider to call): the model applies the
            # template's policy, so compare the policy's other headers with these, and its CSP
            # with the oidc binary's, which names the same provider origins as the template.
            own = send(api_url + "/api/v1/me").headers
            oidc_own = send(oidc_url + "/api/v1/me").headers
            expected = {name: own.get(name) for name in SECURITY_HEADERS}
            expected["content-security-policy"] = oidc_own.get("content-security-policy")
            problems += header_problems(cdn, expected)
            if own.get("content-security-policy") == oidc_own.get("content-security-policy"):
                problems.append("the oidc binary's CSP names no provider origin: the comparison proves nothing")
            # The model must tell the old rule from the new one.
            old = copy.deepcopy(template)
            cdn_rules.distribution_config(old)["CustomErrorResponses"] = [
                {"ErrorCode": code, "ResponseCode": 200, "ResponsePagePath": "/index.html"} for code in (403, 404)]
            old_api = api_problems(Distribution(old, origins))
            if len(old_api) < 3:
                problems.append(f"the model does not see distribution-wide error pages break the API: {old_api}")
        finally:
            if s3:
                s3.shutdown()
            for process in children:
                process.kill()
                process.wait(timeout=10)
    for problem in problems:
        print(f"cdn: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"cdn: /api/* keeps its statuses, the console's routes load it, missing files are 404, "
          "the headers are the backend's")


if __name__ == "__main__":
    main()
