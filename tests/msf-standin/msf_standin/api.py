"""The AWS operations: checks done before answering (as the real service refuses them), then
the answer; the slow half (Flink) goes to the worker."""

import dataclasses

from . import errors
from .errors import AwsError
from .state import Application, Snapshot, application_detail, application_summary, now, operation_details
from .state import operation_info, snapshot_details

# Statuses in which an application accepts an update (the real service refuses one while an
# update, an autoscaling or a rollback is under way: ResourceInUseException).
UPDATABLE = ("RUNNING", "READY")
# ParallelismPerKPU: "The default value is 1, and the maximum is 8" (developer guide, scaling).
MAX_PARALLELISM_PER_KPU = 8


def _app(standin, params) -> Application:
    app = standin.apps.get(params["ApplicationName"])
    if app is None:
        raise errors.not_found(f"Application {params['ApplicationName']} not found")
    return app


def describe_application(standin, params):
    app = _app(standin, params)
    with app.lock:
        return {"ApplicationDetail": application_detail(app)}


def list_applications(standin, params):
    return {"ApplicationSummaries": [application_summary(app) for app in standin.apps.values()]}


def list_tags_for_resource(standin, params):
    arn = params["ResourceARN"]
    app = next((app for app in standin.apps.values() if app.arn == arn), None)
    if app is None:
        raise errors.not_found(f"Resource {arn} not found")
    with app.lock:
        tags = [{"Key": key, "Value": value} for key, value in sorted(app.tags.items())]
    # The model's Tags list has at least one member: an untagged resource answers none.
    return {"Tags": tags} if tags else {}


def create_application_snapshot(standin, params):
    app = _app(standin, params)
    with app.lock:
        if not app.config.snapshots_enabled:
            raise AwsError("InvalidApplicationConfigurationException", "Snapshots are disabled for this application")
        if app.status != "RUNNING" or app.job_id is None:
            raise errors.in_use(f"Application {app.name} is {app.status}; a snapshot needs it RUNNING")
        if app.snapshot(params["SnapshotName"]):
            raise errors.invalid_argument(f"Snapshot {params['SnapshotName']} already exists")
        snapshot = Snapshot(name=params["SnapshotName"], version_id=app.version_id, created=now())
        app.snapshots.append(snapshot)
    standin.worker.spawn(standin.worker.snapshot, app, snapshot)
    return {}


def list_application_snapshots(standin, params):
    app = _app(standin, params)
    with app.lock:
        listed = sorted(app.snapshots, key=lambda s: s.created, reverse=True)[: params.get("Limit", 50)]
        return {"SnapshotSummaries": [snapshot_details(app, s) for s in listed]}


def _snapshot(app, params) -> Snapshot:
    snapshot = app.snapshot(params["SnapshotName"])
    if snapshot is None:
        raise errors.not_found(f"Snapshot {params['SnapshotName']} of {app.name} not found")
    return snapshot


def describe_application_snapshot(standin, params):
    app = _app(standin, params)
    with app.lock:
        return {"SnapshotDetails": snapshot_details(app, _snapshot(app, params))}


def delete_application_snapshot(standin, params):
    app = _app(standin, params)
    with app.lock:
        snapshot = _snapshot(app, params)
        if abs(snapshot.created.timestamp() - params["SnapshotCreationTimestamp"]) >= 1:
            raise errors.invalid_argument("SnapshotCreationTimestamp does not match the snapshot")
        if snapshot.status == "CREATING":
            raise errors.in_use(f"Snapshot {snapshot.name} is still being created")
        app.snapshots.remove(snapshot)
    return {}


def list_application_operations(standin, params):
    app = _app(standin, params)
    with app.lock:
        listed = [o for o in reversed(app.operations)
                  if params.get("Operation") in (None, o.kind) and params.get("OperationStatus") in (None, o.status)]
        return {"ApplicationOperationInfoList": [operation_info(o) for o in listed[: params.get("Limit", 50)]]}


def describe_application_operation(standin, params):
    app = _app(standin, params)
    with app.lock:
        operation = app.operation(params["OperationId"])
        if operation is None:
            raise errors.not_found(f"Operation {params['OperationId']} of {app.name} not found")
        return {"ApplicationOperationInfoDetails": operation_details(operation)}


def _check_version(app: Application, params):
    """The optimistic lock: a CurrentApplicationVersionId or a ConditionalToken, matching."""
    version, token = params.get("CurrentApplicationVersionId"), params.get("ConditionalToken")
    if version is None and token is None:
        raise errors.invalid_argument("You must provide the CurrentApplicationVersionId or the ConditionalToken")
    if version is not None and version != app.version_id:
        raise errors.concurrent(f"Current application version {app.version_id} does not match {version}")
    if token is not None and token != app.token:
        raise errors.concurrent("The ConditionalToken does not match the application's current token")


def _parallelism_update(config, update: dict):
    changes = {k: update[k] for k in ("ParallelismUpdate", "ParallelismPerKPUUpdate", "AutoScalingEnabledUpdate")
               if k in update}
    kind = update.get("ConfigurationTypeUpdate")
    if changes and kind != "CUSTOM":
        # "You must set this property to CUSTOM in order to change your application's
        # AutoScalingEnabled, Parallelism, or ParallelismPerKPU properties." (service model)
        raise errors.invalid_argument("ConfigurationTypeUpdate must be CUSTOM to change Parallelism, "
                                      "ParallelismPerKPU or AutoScalingEnabled")
    if kind == "DEFAULT":
        return dataclasses.replace(config, configuration_type="DEFAULT", parallelism=1, parallelism_per_kpu=1,
                                   autoscaling=True)
    if kind is None:
        return config
    return dataclasses.replace(
        config, configuration_type="CUSTOM",
        parallelism=changes.get("ParallelismUpdate", config.parallelism),
        parallelism_per_kpu=changes.get("ParallelismPerKPUUpdate", config.parallelism_per_kpu),
        autoscaling=changes.get("AutoScalingEnabledUpdate", config.autoscaling))
