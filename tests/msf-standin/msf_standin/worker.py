"""What happens on Flink after an API call answered: the background half of MSF's operations.

Every flow runs in its own thread; the application's status (UPDATING, AUTOSCALING,
ROLLING_BACK, …) is what keeps a second flow out, and the app's lock is held only while its
state changes, never across a Flink call.
"""

import logging
import threading
import time

from . import errors
from .errors import AwsError
from .flink import Flink, FlinkError
from .state import Application, Config, Operation, Snapshot, end_operation, now

log = logging.getLogger("msf-standin")


class Worker:
    def __init__(self, flink: Flink, savepoint_dir: str, stable_ms: int, start_timeout_s: float):
        self.flink = flink
        self.savepoint_dir = savepoint_dir.rstrip("/")
        self.stable_ms = stable_ms
        self.start_timeout_s = start_timeout_s

    def spawn(self, target, *args):
        def run():
            try:
                target(*args)
            except Exception:  # a bug in the stand-in: said loudly, the test sees the status stuck
                log.exception("background flow %s crashed", target.__name__)
        threading.Thread(target=run, name=target.__name__, daemon=True).start()

    def directory(self, app: Application) -> str:
        return f"{self.savepoint_dir}/msf/{app.name}"

    # --- Flink steps -------------------------------------------------------------------------
    def launch(self, app: Application, parallelism: int, savepoint, fail: bool = False) -> str:
        """Runs the app's jar at `parallelism` (from `savepoint`), waits until it is healthy."""
        if app.jar_id is None:
            app.jar_id = self.flink.upload_jar(app.jar)
        args = list(app.args) + (["--fail-on-start"] if fail else [])
        job_id = self.flink.run_jar(app.jar_id, app.entry_class, args, parallelism, savepoint,
                                    app.config.allow_non_restored)
        with app.lock:
            app.job_id = job_id
        self.await_healthy(job_id)
        return job_id

    def await_healthy(self, job_id: str):
        """RUNNING with every vertex running, then `stable_ms` without a failure (how the
        stand-in tells that an application "failed to start", e.g. a restore that throws)."""
        deadline = time.monotonic() + self.start_timeout_s
        while not self.flink.running(job_id):
            if self.flink.exceptions(job_id) or self.flink.job(job_id).get("state") in ("FAILED", "FAILING"):
                raise FlinkError(f"job {job_id} failed while starting: {self._first_exception(job_id)}")
            if time.monotonic() > deadline:
                raise FlinkError(f"job {job_id} not running within {self.start_timeout_s} s")
            time.sleep(0.3)
        stable_until = time.monotonic() + self.stable_ms / 1000
        while time.monotonic() < stable_until:
            if self.flink.exceptions(job_id) or not self.flink.running(job_id):
                raise FlinkError(f"job {job_id} failed after it started: {self._first_exception(job_id)}")
            time.sleep(0.3)

    def _first_exception(self, job_id: str) -> str:
        try:
            entries = self.flink.exceptions(job_id)
        except FlinkError as error:
            return str(error)
        return (entries[0].get("exceptionName", "") + ": " + entries[0].get("stacktrace", "")[:300]) if entries else "?"

    def stop(self, app: Application, snapshot: bool, label: str):
        """Stops the app's job; with snapshots on, stop-with-savepoint recorded as a system
        snapshot (MSF takes one on update, scaling and stop when snapshots are enabled)."""
        job_id = app.job_id
        if job_id is None:
            return None
        if snapshot and not self.flink.running(job_id):
            # A job that is not running (one that failed to start, restarting) has no state to
            # snapshot: it is cancelled, and the update restores from the snapshot it names.
            log.info("%s's job %s is not running: cancelled without a snapshot", app.name, job_id)
            snapshot = False
        if not snapshot:
            self.flink.cancel(job_id)
            with app.lock:
                app.job_id = None
            return None
        path = self.flink.stop_with_savepoint(job_id, self.directory(app))
        with app.lock:
            record = Snapshot(name=f"{label}-{int(time.time() * 1000)}", version_id=app.version_id, created=now(),
                              status="READY", path=path)
            app.snapshots.append(record)
            app.job_id = None
        log.info("system snapshot %s of %s at %s", record.name, app.name, path)
        return record

    # --- flows ---------------------------------------------------------------------------------
    def boot(self, app: Application):
        try:
            self.launch(app, app.config.parallelism, None)
        except FlinkError as error:
            log.error("application %s did not start: %s", app.name, error)
            with app.lock:
                app.status = "READY"
            return
        with app.lock:
            app.status, app.current_parallelism = "RUNNING", app.config.parallelism

    def snapshot(self, app: Application, snapshot: Snapshot):
        try:
            path = self.flink.savepoint(app.job_id, self.directory(app))
        except FlinkError as error:
            log.error("snapshot %s of %s failed: %s", snapshot.name, app.name, error)
            with app.lock:
                snapshot.status, snapshot.failure = "FAILED", str(error)
            return
        with app.lock:
            snapshot.status, snapshot.path = "READY", path
        log.info("snapshot %s of %s is READY at %s", snapshot.name, app.name, path)

    def restore_path(self, app: Application, config: Config, taken):
        if config.restore_type == "SKIP_RESTORE_FROM_SNAPSHOT":
            return None
        if config.restore_type == "RESTORE_FROM_CUSTOM_SNAPSHOT":
            chosen = app.snapshot(config.restore_snapshot)
            if chosen is None or chosen.status != "READY":
                # Never a silent start without state: the named snapshot must be there.
                raise errors.invalid_argument(f"Snapshot {config.restore_snapshot} does not exist or is not READY")
            return chosen.path
        latest = app.latest_ready_snapshot()
        return (latest or taken).path if (latest or taken) else None

    def update(self, app: Application, operation: Operation, old: Config, old_current: int):
        """Stop with a snapshot, run again from the chosen snapshot at the new parallelism; on
        failure, with system rollback on, run the previous version again."""
        config, running = app.config, app.job_id is not None
        try:
            taken = self.stop(app, old.snapshots_enabled, f"{app.name}-update-v{operation.version_from}")
            if running:
                with app.lock:
                    fail, app.fail_next_restore = app.fail_next_restore, False
                self.launch(app, config.parallelism, self.restore_path(app, config, taken), fail)
        except (FlinkError, AwsError) as error:
            log.error("update %s of %s failed: %s", operation.id, app.name, error)
            self.after_failed_update(app, operation, old, old_current, str(error))
            return
        with app.lock:
            app.status = "RUNNING" if running else "READY"
            app.current_parallelism = config.parallelism if running else app.current_parallelism
            end_operation(operation, "SUCCESSFUL", app.version_id)

    def after_failed_update(self, app: Application, operation: Operation, old: Config, old_current: int, error: str):
        if not app.config.rollback_enabled:
            with app.lock:
                app.status = "RUNNING" if app.job_id else "READY"
                end_operation(operation, "FAILED", app.version_id, error)
            return
        with app.lock:
            rollback = app.start_operation("SystemRollbackApplication")
            end_operation(operation, "FAILED", app.version_id, error, rollback.id)
            app.status = "ROLLING_BACK"
        self.roll_back(app, rollback, (operation.version_from, old, old_current), snapshot=False)

    def roll_back(self, app: Application, operation: Operation, previous: tuple, snapshot: bool):
        """Runs the previous version (`previous`: its id, Config and running parallelism) again
        from the latest snapshot; the application gets a new version id that says so."""
        target_version, old, old_current = previous
        try:
            if snapshot:
                self.stop(app, app.config.snapshots_enabled, f"{app.name}-rollback-v{operation.version_from}")
            elif app.job_id:
                self.flink.cancel(app.job_id)
            latest = app.latest_ready_snapshot()
            self.launch(app, old_current, latest.path if latest else None)
        except FlinkError as error:
            log.error("rollback %s of %s failed: %s", operation.id, app.name, error)
            with app.lock:
                app.status = "RUNNING" if app.job_id else "READY"
                end_operation(operation, "FAILED", app.version_id, error)
            return
        with app.lock:
            rolled_back_from = app.version_id
            app.new_version()
            app.rolled_back_from, app.rolled_back_to = rolled_back_from, target_version
            app.config, app.current_parallelism, app.status = old, old_current, "RUNNING"
            end_operation(operation, "SUCCESSFUL", app.version_id)

    def autoscale(self, app: Application, target: int, seconds: float):
        """MSF's autoscaler scaling out: a snapshot, the job again at `target` (double)."""
        started = time.monotonic()
        try:
            taken = self.stop(app, app.config.snapshots_enabled, f"{app.name}-autoscale")
            self.launch(app, target, taken.path if taken else None)
            with app.lock:
                app.current_parallelism = target
        except FlinkError as error:
            log.error("autoscaling of %s failed: %s", app.name, error)
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        with app.lock:
            app.status = "RUNNING" if app.job_id else "READY"

    def stop_flow(self, app: Application, operation: Operation):
        try:
            self.stop(app, app.config.snapshots_enabled, f"{app.name}-stop")
        except FlinkError as error:
            with app.lock:
                app.status = "RUNNING"
                end_operation(operation, "FAILED", app.version_id, str(error))
            return
        with app.lock:
            app.status, app.job_id = "READY", None
            end_operation(operation, "SUCCESSFUL", app.version_id)

    def start_flow(self, app: Application, operation: Operation, savepoint):
        try:
            self.launch(app, app.config.parallelism, savepoint)
        except FlinkError as error:
            with app.lock:
                app.status = "READY"
                end_operation(operation, "FAILED", app.version_id, str(error))
            return
        with app.lock:
            app.status, app.current_parallelism = "RUNNING", app.config.parallelism
            end_operation(operation, "SUCCESSFUL", app.version_id)
