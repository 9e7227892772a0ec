"""The stand-in as a whole, built from its start-up file:

{"flink_rest_url": "http://127.0.0.1:8081", "savepoint_dir": "file:///…/savepoints",
 "region": "eu-west-1", "credentials": {"AKID…": "secret"}, "kpu_limit": 64,
 "stable_ms": 5000, "start_timeout_s": 90,
 "applications": [{"name": "orders", "jar": "/…/job.jar", "entry_class": "…", "args": [],
   "parallelism": 1, "parallelism_per_kpu": 1, "autoscaling": false, "runtime": "FLINK-1_20",
   "snapshots_enabled": true, "rollback_enabled": true, "tags": {"team": "payments"}}]}
"""

from .flink import Flink
from .state import Application, Config
from .worker import Worker


class Standin:
    def __init__(self, apps: dict, worker: Worker, region: str, credentials: dict, kpu_limit: int):
        self.apps, self.worker, self.region = apps, worker, region
        self.credentials, self.kpu_limit = credentials, kpu_limit

    @classmethod
    def from_config(cls, config: dict) -> "Standin":
        region = config.get("region", "eu-west-1")
        apps = {}
        for spec in config.get("applications", []):
            app_config = Config(parallelism=spec.get("parallelism", 1),
                                parallelism_per_kpu=spec.get("parallelism_per_kpu", 1),
                                autoscaling=spec.get("autoscaling", True),
                                snapshots_enabled=spec.get("snapshots_enabled", True),
                                rollback_enabled=spec.get("rollback_enabled", True))
            apps[spec["name"]] = Application(name=spec["name"], region=region, jar=spec["jar"],
                                             entry_class=spec["entry_class"], args=spec.get("args", []),
                                             runtime=spec.get("runtime", "FLINK-1_20"), config=app_config,
                                             tags=dict(spec.get("tags", {})))
        worker = Worker(Flink(config["flink_rest_url"]), config["savepoint_dir"], config.get("stable_ms", 5000),
                        config.get("start_timeout_s", 90))
        return cls(apps, worker, region, config["credentials"], config.get("kpu_limit", 64))

    def boot(self):
        for app in self.apps.values():
            self.worker.spawn(self.worker.boot, app)
