"""Self-check: every answer the stand-in can give validates against the service model.

Renders applications in every status the stand-in uses, with snapshots and operations in every
status, through the same `server.call` path as a real request (handlers, then output
validation), plus every error the handlers raise, checked against its error shape. Flink is not
touched: the worker's `spawn` is replaced by a recorder. Exits 1 listing what does not conform.

    python -m msf_standin.selfcheck
"""

import datetime
import json
import sys

from . import model, server
from .errors import AwsError
from .state import Application, Config, Operation, Snapshot, end_operation, now
from .standin import Standin

STATUSES = ("STARTING", "READY", "RUNNING", "UPDATING", "AUTOSCALING", "ROLLING_BACK", "STOPPING")


class _NoFlink:
    def __init__(self):
        self.spawned = []

    def spawn(self, target, *args):
        self.spawned.append(target)

    def restore_path(self, app, config, taken):
        return None

    def __getattr__(self, name):
        return lambda *args: None


def _app(status: str) -> Application:
    app = Application(name=f"app-{status.lower()}", region="eu-west-1", jar="/tmp/job.jar", entry_class="Main",
                      args=[], runtime="FLINK-1_20", config=Config(parallelism=2, parallelism_per_kpu=1,
                                                                   autoscaling=True))
    app.status, app.current_parallelism, app.job_id = status, 2, "job"
    app.previous = (1, app.config, 2)
    created = now() - datetime.timedelta(minutes=5)
    for index, state in enumerate(("CREATING", "READY", "FAILED")):
        app.snapshots.append(Snapshot(name=f"snap-{state.lower()}", version_id=1, status=state, path="file:/x",
                                      created=created + datetime.timedelta(seconds=index)))
    for state in ("IN_PROGRESS", "SUCCESSFUL", "FAILED", "CANCELLED"):
        operation = Operation(id=f"op-{state.lower()}", kind="UpdateApplication", started=created, version_from=1)
        app.operations.append(operation)
        if state != "IN_PROGRESS":
            end_operation(operation, state, 2, "boom" if state == "FAILED" else None,
                          "op-rollback" if state == "FAILED" else None)
    app.operations.append(Operation(id="op-no-rollback", kind="UpdateApplication", started=created, status="FAILED",
                                    ended=now()))
    return app


def _requests(app: Application) -> list:
    name = {"ApplicationName": app.name}
    snapshot = app.snapshot("snap-ready")
    custom = {"ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_CUSTOM_SNAPSHOT",
                                                  "SnapshotName": "snap-ready"}}
    parallelism = {"FlinkApplicationConfigurationUpdate": {"ParallelismConfigurationUpdate": {
        "ConfigurationTypeUpdate": "CUSTOM", "ParallelismUpdate": 3}}}
    return [
        ("DescribeApplication", name), ("ListApplications", {}), ("ListApplicationSnapshots", name),
        ("ListTagsForResource", {"ResourceARN": app.arn}),
        ("ListTagsForResource", {"ResourceARN": app.arn.replace(app.name, "missing")}),
        ("DescribeApplicationSnapshot", {**name, "SnapshotName": "snap-creating"}),
        ("DescribeApplicationSnapshot", {**name, "SnapshotName": "snap-failed"}),
        ("DescribeApplicationSnapshot", {**name, "SnapshotName": "missing"}),
        ("ListApplicationOperations", name),
        *[("DescribeApplicationOperation", {**name, "OperationId": o.id}) for o in app.operations],
        ("DescribeApplicationOperation", {**name, "OperationId": "missing"}),
        ("CreateApplicationSnapshot", {**name, "SnapshotName": "fresh"}),
        ("CreateApplicationSnapshot", {**name, "SnapshotName": "snap-ready"}),
        ("UpdateApplication", {**name, "ConditionalToken": "stale"}),
        ("UpdateApplication", {**name, "ApplicationConfigurationUpdate": {
            "FlinkApplicationConfigurationUpdate": {"ParallelismConfigurationUpdate": {"ParallelismUpdate": 3}}},
            "ConditionalToken": app.token}),
        ("UpdateApplication", {**name, "ApplicationConfigurationUpdate": {
            "FlinkApplicationConfigurationUpdate": {"ParallelismConfigurationUpdate": {
                "ConfigurationTypeUpdate": "CUSTOM", "ParallelismUpdate": 999}}}, "ConditionalToken": app.token}),
        ("UpdateApplication", {**name, "ApplicationConfigurationUpdate": parallelism, "RunConfigurationUpdate": custom,
                               "ConditionalToken": app.token}),
        ("RollbackApplication", {**name, "CurrentApplicationVersionId": app.version_id}),
        ("StopApplication", name), ("StartApplication", name),
        ("DeleteApplicationSnapshot", {**name, "SnapshotName": "snap-ready",
                                       "SnapshotCreationTimestamp": snapshot.created.timestamp()}),
        ("DescribeApplication", {"ApplicationName": "missing"}),
        ("DescribeApplication", {"ApplicationName": ""}), ("TagResource", {"ResourceARN": app.arn, "Tags": []}),
    ]


def run() -> int:
    answers, invalid = 0, []
    for status in STATUSES:
        app = _app(status)
        standin = Standin({app.name: app}, _NoFlink(), "eu-west-1", {}, kpu_limit=64)
        for name, params in _requests(app):
            code, body = server.call(standin, f"{model.TARGET_PREFIX}.{name}", json.dumps(params).encode())
            answers += 1
            if code >= 500:
                invalid.append(f"{status} {name}: {body}")
    for code in ("ResourceNotFoundException", "ResourceInUseException", "InvalidArgumentException",
                 "ConcurrentModificationException", "LimitExceededException", "UnsupportedOperationException",
                 "InvalidApplicationConfigurationException", "InvalidRequestException"):
        answers += 1
        if model.error_problems(AwsError(code, "x")):
            invalid.append(f"error {code}")
    print(f"selfcheck: {answers} answers rendered, {len(invalid)} invalid")
    for line in invalid:
        print("  INVALID", line)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(run())
