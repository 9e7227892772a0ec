"""The tests' side door, `/_standin/...` on the same port: not part of the AWS API, unsigned.

GET  /_standin/health                               200 once the server answers
GET  /_standin/applications/<name>                  internal state: job id, snapshot paths, KPUs
POST /_standin/applications/<name>/autoscale        {"seconds": N}: AUTOSCALING, CurrentParallelism x2
POST /_standin/applications/<name>/fail-next-restore  the next resubmitted job throws at once
POST /_standin/applications/<name>/bump-token       a change behind the client's back: new version and token
POST /_standin/applications/<name>/bump-token-before-next-update  the same, just before the next update is checked
"""

from . import errors
from .errors import AwsError


def _app(standin, name):
    app = standin.apps.get(name)
    if app is None:
        raise errors.not_found(f"Application {name} not found")
    return app


def internal(app) -> dict:
    with app.lock:
        return {
            "name": app.name, "status": app.status, "job_id": app.job_id, "version_id": app.version_id,
            "current_parallelism": app.current_parallelism, "kpus_allocated": app.kpus(max(app.current_parallelism, 1)),
            # The extra KPU MSF bills per application for orchestration (developer guide, scaling).
            "kpus_billed": app.kpus(max(app.current_parallelism, 1)) + 1,
            "fail_next_restore": app.fail_next_restore,
            "snapshots": [{"name": s.name, "status": s.status, "path": s.path, "failure": s.failure}
                          for s in app.snapshots],
        }


def handle(standin, method: str, path: str, body: dict):
    parts = path.strip("/").split("/")[1:]
    if method == "GET" and parts == ["health"]:
        return {"ok": True}
    if len(parts) < 2 or parts[0] != "applications":
        raise AwsError("NotFound", f"no side-door route {method} {path}", 404)
    app = _app(standin, parts[1])
    action = parts[2] if len(parts) > 2 else None
    if method == "GET" and action is None:
        return internal(app)
    if method != "POST":
        raise AwsError("NotFound", f"no side-door route {method} {path}", 404)
    if action == "autoscale":
        return _autoscale(standin, app, float(body.get("seconds", 10)))
    if action == "fail-next-restore":
        with app.lock:
            app.fail_next_restore = True
        return internal(app)
    if action == "bump-token":
        with app.lock:
            app.new_version()
        return internal(app)
    if action == "bump-token-before-next-update":
        with app.lock:
            app.bump_before_next_update = True
        return internal(app)
    raise AwsError("NotFound", f"no side-door route {method} {path}", 404)


def _autoscale(standin, app, seconds: float):
    with app.lock:
        if app.status != "RUNNING" or not app.config.autoscaling:
            raise errors.in_use(f"{app.name} is {app.status}, autoscaling {app.config.autoscaling}: no autoscaling")
        # The developer guide (autoscaling): a ScaleUp doubles CurrentParallelism (ParallelismPerKPU
        # unchanged), the application is AUTOSCALING meanwhile and "the only valid API operation"
        # then is StopApplication with Force (not implemented here: every other call is refused).
        # ScaleDown (halving, never below Parallelism) is not injected. Whether a scale event
        # changes ApplicationVersionId/ConditionalToken is not documented: here it does not.
        target = min(app.current_parallelism * 2, app.config.parallelism_per_kpu * standin.kpu_limit)
        app.status = "AUTOSCALING"
    standin.worker.spawn(standin.worker.autoscale, app, target, seconds)
    return {"target": target, **internal(app)}
