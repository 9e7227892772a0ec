"""The CDN rules of infra/template.yaml, read and checked (check_template.py runs the checks,
test_cdn.py models CloudFront's request flow from the same reading).

- the console's viewer-request function is infra/console-routes.js, inline, on the default
  (console) behaviour only; no other behaviour runs a function, and the distribution has no
  CustomErrorResponses (they would apply to /api/* too);
- every behaviour carries the one response-headers policy, which sets CSP (with
  frame-ancestors 'none'), X-Frame-Options DENY, nosniff, a Referrer-Policy and HSTS, each
  overriding what the origin sent;
- the HTTP API's default route is throttled by parameters.
The checks are also run against wrong copies of the template, each of which they must refuse.
"""
import copy
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUNCTION_SOURCE = ROOT / "infra/console-routes.js"
FUNCTION = "ConsoleRoutesFunction"
HEADERS_POLICY = "ConsoleSecurityHeaders"


def distribution_config(template):
    return template["Resources"]["ConsoleDistribution"]["Properties"]["DistributionConfig"]


def behaviours(template):
    """The cache behaviours as CloudFront matches them: the path patterns in order, then the
    default (pattern None)."""
    config = distribution_config(template)
    ordered = [(b["PathPattern"], b) for b in config.get("CacheBehaviors", [])]
    return ordered + [(None, config["DefaultCacheBehavior"])]


def headers_policy(template):
    return template["Resources"][HEADERS_POLICY]["Properties"]["ResponseHeadersPolicyConfig"]


def function_code(template):
    return template["Resources"][FUNCTION]["Properties"]["FunctionCode"]


def function_arn():
    return {"GetAtt": f"{FUNCTION}.FunctionMetadata.FunctionARN"}


def _function_problems(template):
    problems = []
    resource = template["Resources"].get(FUNCTION)
    if not resource or resource.get("Type") != "AWS::CloudFront::Function":
        return [f"the template needs the AWS::CloudFront::Function {FUNCTION}"]
    if function_code(template) != FUNCTION_SOURCE.read_text():
        problems.append(f"{FUNCTION}'s inline FunctionCode differs from infra/console-routes.js: copy the file")
    if resource["Properties"].get("FunctionConfig", {}).get("Runtime") != "cloudfront-js-2.0":
        problems.append(f"{FUNCTION} must run on cloudfront-js-2.0")
    for pattern, behaviour in behaviours(template):
        associations = behaviour.get("FunctionAssociations", [])
        if behaviour.get("LambdaFunctionAssociations"):
            problems.append(f"behaviour {pattern or 'default'} runs a Lambda@Edge function")
        wanted = [{"EventType": "viewer-request", "FunctionARN": function_arn()}] if pattern is None else []
        if associations != wanted:
            problems.append(f"behaviour {pattern or 'default'} must run {'only ' + FUNCTION + ' on viewer-request' if wanted else 'no function'}")
    if not any(pattern == "/api/*" and b.get("TargetOriginId") == "api" for pattern, b in behaviours(template)):
        problems.append("/api/* must be its own behaviour, to the api origin")
    if distribution_config(template).get("CustomErrorResponses"):
        problems.append("the distribution must have no CustomErrorResponses: they turn the API's errors into the console")
    return problems


def _headers_problems(template):
    if template["Resources"].get(HEADERS_POLICY, {}).get("Type") != "AWS::CloudFront::ResponseHeadersPolicy":
        return [f"the template needs the AWS::CloudFront::ResponseHeadersPolicy {HEADERS_POLICY}"]
    problems = []
    for pattern, behaviour in behaviours(template):
        if behaviour.get("ResponseHeadersPolicyId") != {"Ref": HEADERS_POLICY}:
            problems.append(f"behaviour {pattern or 'default'} must carry {HEADERS_POLICY}")
    security = headers_policy(template).get("SecurityHeadersConfig", {})
    for key in ("ContentSecurityPolicy", "FrameOptions", "ContentTypeOptions", "ReferrerPolicy", "StrictTransportSecurity"):
        if security.get(key, {}).get("Override") is not True:
            problems.append(f"{HEADERS_POLICY} must set {key}, overriding the origin")
    if security.get("FrameOptions", {}).get("FrameOption") != "DENY":
        problems.append(f"{HEADERS_POLICY} must send X-Frame-Options DENY")
    csp = str(security.get("ContentSecurityPolicy", {}).get("ContentSecurityPolicy", ""))
    if "frame-ancestors 'none'" not in csp or "unsafe-inline" in csp:
        problems.append(f"{HEADERS_POLICY}'s CSP must say frame-ancestors 'none' and allow no inline script")
    return problems


def _throttling_problems(template):
    settings = template["Resources"]["HttpApi"]["Properties"].get("DefaultRouteSettings", {})
    problems = []
    for key, parameter in (("ThrottlingBurstLimit", "ApiThrottlingBurstLimit"), ("ThrottlingRateLimit", "ApiThrottlingRateLimit")):
        if settings.get(key) != {"Ref": parameter} or "Default" not in template["Parameters"].get(parameter, {}):
            problems.append(f"HttpApi's DefaultRouteSettings.{key} must be the parameter {parameter}, with a default")
    return problems


def cdn_problems(template):
    """What in the template breaks the CDN rules above."""
    return _function_problems(template) + _headers_problems(template) + _throttling_problems(template)


def wrong_copies(template):
    """Copies of the template that break a CDN rule, each with what was done."""
    def api(copied):
        return next(b for pattern, b in behaviours(copied) if pattern == "/api/*")

    mutations = {
        "error responses back": lambda c: distribution_config(c).update(
            CustomErrorResponses=[{"ErrorCode": 404, "ResponseCode": 200, "ResponsePagePath": "/index.html"}]),
        "the function on /api/* too": lambda c: api(c).update(
            FunctionAssociations=[{"EventType": "viewer-request", "FunctionARN": function_arn()}]),
        "the inline code edited": lambda c: c["Resources"][FUNCTION]["Properties"].update(
            FunctionCode=function_code(c).replace('"/index.html"', '"/"')),
        "no headers on /api/*": lambda c: api(c).pop("ResponseHeadersPolicyId"),
        "framing allowed": lambda c: headers_policy(c)["SecurityHeadersConfig"].pop("FrameOptions"),
        "no throttling": lambda c: c["Resources"]["HttpApi"]["Properties"].pop("DefaultRouteSettings"),
    }
    for name, mutate in mutations.items():
        copied = copy.deepcopy(template)
        mutate(copied)
        yield name, copied
