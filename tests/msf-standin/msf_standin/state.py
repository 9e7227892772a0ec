"""The stand-in's state (applications, their versions, snapshots and operations) and how the
API shows it. Rendering is pure: the self-check renders every status and validates the result."""

import dataclasses
import datetime
import math
import threading
import uuid

from .model import epoch

ACCOUNT = "123456789012"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_token() -> str:
    return uuid.uuid4().hex


@dataclasses.dataclass
class Config:
    """What an application version is: the parallelism settings and the run settings."""
    parallelism: int
    parallelism_per_kpu: int
    autoscaling: bool
    configuration_type: str = "CUSTOM"
    snapshots_enabled: bool = True
    rollback_enabled: bool = True
    restore_type: str = "RESTORE_FROM_LATEST_SNAPSHOT"
    restore_snapshot: str = None
    allow_non_restored: bool = False


@dataclasses.dataclass
class Snapshot:
    name: str
    version_id: int
    created: datetime.datetime
    status: str = "CREATING"
    path: str = None  # the Flink savepoint path: internal, never in an answer
    failure: str = None


@dataclasses.dataclass
class Operation:
    id: str
    kind: str
    started: datetime.datetime
    status: str = "IN_PROGRESS"
    ended: datetime.datetime = None
    version_from: int = None
    version_to: int = None
    error: str = None
    rollback_id: str = None


@dataclasses.dataclass
class Application:
    name: str
    region: str
    jar: str
    entry_class: str
    args: list
    runtime: str
    config: Config
    status: str = "STARTING"
    version_id: int = 1
    token: str = dataclasses.field(default_factory=new_token)
    current_parallelism: int = 0
    created: datetime.datetime = dataclasses.field(default_factory=now)
    updated: datetime.datetime = dataclasses.field(default_factory=now)
    updated_from: int = None
    rolled_back_from: int = None
    rolled_back_to: int = None
    previous: tuple = None  # (version id, Config, current parallelism) before the last update
    snapshots: list = dataclasses.field(default_factory=list)
    operations: list = dataclasses.field(default_factory=list)
    job_id: str = None
    jar_id: str = None
    fail_next_restore: bool = False
    bump_before_next_update: bool = False  # the side door's race: a change lands just before an update
    tags: dict = dataclasses.field(default_factory=dict)
    lock: threading.RLock = dataclasses.field(default_factory=threading.RLock, repr=False)

    @property
    def arn(self) -> str:
        return f"arn:aws:kinesisanalytics:{self.region}:{ACCOUNT}:application/{self.name}"

    def kpus(self, parallelism: int = None, per_kpu: int = None) -> int:
        """KPUs allocated: ceil(parallelism / parallelism per KPU) (the developer guide's
        "Allocated KPUs = Parallelism / ParallelismPerKPU"); the extra orchestration KPU is
        billed, not allocated to the job, and does not count against the limit here."""
        parallelism = self.current_parallelism if parallelism is None else parallelism
        per_kpu = self.config.parallelism_per_kpu if per_kpu is None else per_kpu
        return math.ceil(parallelism / per_kpu)

    def snapshot(self, name: str):
        return next((s for s in self.snapshots if s.name == name), None)

    def latest_ready_snapshot(self):
        ready = [s for s in self.snapshots if s.status == "READY"]
        return max(ready, key=lambda s: s.created) if ready else None

    def operation(self, operation_id: str):
        return next((o for o in self.operations if o.id == operation_id), None)

    def start_operation(self, kind: str) -> Operation:
        operation = Operation(id=uuid.uuid4().hex[:16], kind=kind, started=now(), version_from=self.version_id)
        self.operations.append(operation)
        return operation

    def new_version(self):
        self.updated_from = self.version_id
        self.version_id += 1
        self.token = new_token()
        self.updated = now()


def end_operation(operation: Operation, status: str, version_to: int, error: str = None, rollback_id: str = None):
    operation.status, operation.ended, operation.version_to = status, now(), version_to
    operation.error, operation.rollback_id = error, rollback_id


def _parallelism(app: Application) -> dict:
    c = app.config
    return {"ConfigurationType": c.configuration_type, "Parallelism": c.parallelism,
            "ParallelismPerKPU": c.parallelism_per_kpu,
            "CurrentParallelism": max(app.current_parallelism, 1), "AutoScalingEnabled": c.autoscaling}


def _restore(config: Config) -> dict:
    restore = {"ApplicationRestoreType": config.restore_type}
    if config.restore_snapshot and config.restore_type == "RESTORE_FROM_CUSTOM_SNAPSHOT":
        restore["SnapshotName"] = config.restore_snapshot
    return restore


def application_detail(app: Application) -> dict:
    c = app.config
    detail = {
        "ApplicationARN": app.arn, "ApplicationName": app.name, "RuntimeEnvironment": app.runtime,
        "ServiceExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/msf-standin",
        "ApplicationStatus": app.status, "ApplicationVersionId": app.version_id,
        "CreateTimestamp": epoch(app.created), "LastUpdateTimestamp": epoch(app.updated),
        "ApplicationVersionCreateTimestamp": epoch(app.updated), "ConditionalToken": app.token,
        "ApplicationMode": "STREAMING",
        "ApplicationConfigurationDescription": {
            "ApplicationCodeConfigurationDescription": {
                "CodeContentType": "ZIPFILE",
                "CodeContentDescription": {"S3ApplicationCodeLocationDescription": {
                    "BucketARN": "arn:aws:s3:::msf-standin-code", "FileKey": app.jar.rsplit("/", 1)[-1]}},
            },
            "RunConfigurationDescription": {
                "ApplicationRestoreConfigurationDescription": _restore(c),
                "FlinkRunConfigurationDescription": {"AllowNonRestoredState": c.allow_non_restored},
            },
            "FlinkApplicationConfigurationDescription": {
                "CheckpointConfigurationDescription": {"ConfigurationType": "DEFAULT", "CheckpointingEnabled": True,
                                                       "CheckpointInterval": 60000, "MinPauseBetweenCheckpoints": 5000},
                "ParallelismConfigurationDescription": _parallelism(app),
            },
            "ApplicationSnapshotConfigurationDescription": {"SnapshotsEnabled": c.snapshots_enabled},
            "ApplicationSystemRollbackConfigurationDescription": {"RollbackEnabled": c.rollback_enabled},
        },
    }
    for key, value in (("ApplicationVersionUpdatedFrom", app.updated_from),
                       ("ApplicationVersionRolledBackFrom", app.rolled_back_from),
                       ("ApplicationVersionRolledBackTo", app.rolled_back_to)):
        if value is not None:
            detail[key] = value
    return detail


def application_summary(app: Application) -> dict:
    return {"ApplicationName": app.name, "ApplicationARN": app.arn, "ApplicationStatus": app.status,
            "ApplicationVersionId": app.version_id, "RuntimeEnvironment": app.runtime, "ApplicationMode": "STREAMING"}


def snapshot_details(app: Application, snapshot: Snapshot) -> dict:
    return {"SnapshotName": snapshot.name, "SnapshotStatus": snapshot.status,
            "ApplicationVersionId": snapshot.version_id, "SnapshotCreationTimestamp": epoch(snapshot.created),
            "RuntimeEnvironment": app.runtime}


def operation_info(operation: Operation) -> dict:
    info = {"Operation": operation.kind, "OperationId": operation.id, "StartTime": epoch(operation.started),
            "OperationStatus": operation.status}
    if operation.ended:
        info["EndTime"] = epoch(operation.ended)
    return info


def operation_details(operation: Operation) -> dict:
    # The model requires EndTime even while IN_PROGRESS: the stand-in answers "now" then.
    details = {"Operation": operation.kind, "StartTime": epoch(operation.started),
               "EndTime": epoch(operation.ended or now()), "OperationStatus": operation.status}
    if operation.version_from is not None and operation.version_to is not None:
        details["ApplicationVersionChangeDetails"] = {"ApplicationVersionUpdatedFrom": operation.version_from,
                                                      "ApplicationVersionUpdatedTo": operation.version_to}
    if operation.status == "FAILED":
        failure = {"ErrorInfo": {"ErrorString": (operation.error or "failed")[:512]}}
        if operation.rollback_id:
            failure["RollbackOperationId"] = operation.rollback_id
        details["OperationFailureDetails"] = failure
    return details
