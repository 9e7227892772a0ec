"""The official service model (botocore's `kinesisanalyticsv2`) and validation against it.

botocore's `ParamValidator` checks unknown and missing members, types and minimums; it does not
check enums, maximums or patterns, which the real service enforces too, so `_constraints` walks
the value once more for those.
"""

import base64
import datetime
import re

import botocore.session
import botocore.validate

from .errors import AwsError

SERVICE = "kinesisanalyticsv2"
_model = botocore.session.get_session().get_service_model(SERVICE)
TARGET_PREFIX = _model.metadata["targetPrefix"]
SIGNING_NAME = _model.metadata["signingName"]


def operation_names() -> list:
    return list(_model.operation_names)


def operation(name: str):
    """The operation model, or an `UnknownOperationException` as the real endpoint answers."""
    if name not in _model.operation_names:
        raise AwsError("UnknownOperationException", f"unknown operation {name}")
    return _model.operation_model(name)


def error_shape(code: str):
    try:
        return _model.shape_for(code)
    except Exception:
        return None


def _blobs_from_wire(value, shape):
    """AWS JSON sends blobs as base64 strings; the validator wants bytes."""
    kind = shape.type_name
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError as error:
            raise AwsError("SerializationException", f"blob is not base64: {error}") from error
    if kind == "structure" and isinstance(value, dict):
        return {k: _blobs_from_wire(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_blobs_from_wire(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _blobs_from_wire(v, shape.value) for k, v in value.items()}
    return value


def _constraints(value, shape, path, problems):
    kind, meta = shape.type_name, shape.metadata
    if kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"Value at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {meta['max']}")
        pattern = meta.get("pattern")
        if pattern and _full_match(pattern, value) is False:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long") and isinstance(value, int) and "max" in meta and value > meta["max"]:
        problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                        f"Member must have value less than or equal to {meta['max']}")
    elif kind == "structure" and isinstance(value, dict):
        for key, member in value.items():
            if key in shape.members:
                _constraints(member, shape.members[key], f"{path}.{key}" if path else key, problems)
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"Value at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {meta['max']}")
        for index, item in enumerate(value):
            _constraints(item, shape.member, f"{path}.{index + 1}", problems)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _constraints(key, shape.key, f"{path}.key", problems)
            _constraints(item, shape.value, f"{path}.{key}", problems)


def _full_match(pattern: str, value: str):
    """Whether `value` matches the model's (Java-style) pattern; None when Python cannot read it."""
    try:
        return re.fullmatch(pattern, value, re.DOTALL) is not None
    except re.error:
        return None


def problems(value, shape) -> list:
    """Everything in `value` that the model forbids for `shape` (empty when it conforms)."""
    found = []
    report = botocore.validate.ParamValidator().validate(value, shape)
    if report.has_errors():
        found.extend(line.strip() for line in report.generate_report().splitlines() if line.strip())
    _constraints(value, shape, "", found)
    return found


def validate_request(op, params: dict) -> dict:
    """The request's parameters (blobs decoded), or a `ValidationException` listing every problem."""
    params = _blobs_from_wire(params, op.input_shape)
    found = problems(params, op.input_shape)
    if found:
        # The real service's framework answers model violations this way (Coral style).
        raise AwsError("ValidationException", f"{len(found)} validation error(s) detected: " + "; ".join(found))
    return params


def output_problems(op, body: dict) -> list:
    """Problems of a response body against the operation's output shape."""
    if op.output_shape is None:
        return [] if body == {} else ["operation has no output but the body is not empty"]
    return problems(body, op.output_shape)


def error_problems(error: AwsError) -> list:
    """Problems of an error body against its modeled shape (unmodeled errors have none to check)."""
    shape = error_shape(error.code)
    if shape is None:
        return []
    body = {k: v for k, v in error.body().items() if k != "__type"}
    return problems(body, shape)


def epoch(moment: datetime.datetime) -> float:
    """A timestamp as AWS JSON 1.1 sends it: epoch seconds."""
    return round(moment.timestamp(), 3)
