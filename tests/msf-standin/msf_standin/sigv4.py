"""SigV4 checking: the `Authorization` header must be well formed, name the service's signing
name (`kinesisanalytics`) and the stand-in's access key, and carry the signature that the
known secret gives for this request (canonical request as in the SigV4 specification)."""

import hashlib
import hmac
import re

from .errors import AwsError

_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _canonical_request(method: str, path: str, query: str, headers, signed: list, body: bytes) -> str:
    lines = [method, path or "/", "&".join(sorted(query.split("&"))) if query else ""]
    for name in signed:
        value = headers.get(name)
        if value is None:
            raise AwsError("IncompleteSignatureException", f"signed header {name} is missing from the request")
        lines.append(f"{name}:{' '.join(value.strip().split())}")
    lines.append("")
    lines.append(";".join(signed))
    lines.append(headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest())
    return "\n".join(lines)


def check(method: str, path: str, query: str, headers, body: bytes, credentials: dict, region: str, service: str):
    """Raises the error the real endpoint answers when the request is not signed as it must be."""
    authorization = headers.get("authorization")
    if not authorization:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 400)
    match = _HEADER.match(authorization)
    if not match:
        raise AwsError("IncompleteSignatureException", f"Authorization header is not SigV4: {authorization[:80]}")
    if match["service"] != service or match["region"] != region:
        raise AwsError("InvalidSignatureException",
                       f"credential scope {match['region']}/{match['service']} is not {region}/{service}", 403)
    secret = credentials.get(match["key"])
    if secret is None:
        raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.")
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(match["date"]):
        raise AwsError("IncompleteSignatureException", "X-Amz-Date does not match the credential scope date")
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise AwsError("IncompleteSignatureException", "the host header must be signed")
    canonical = _canonical_request(method, path, query, headers, signed, body)
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret).encode(), match["date"])
    for part in (match["region"], match["service"], "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise AwsError("InvalidSignatureException",
                       "The request signature we calculated does not match the signature you provided.", 403)
