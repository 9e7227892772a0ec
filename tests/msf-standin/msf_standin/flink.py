"""The few Flink REST calls the stand-in makes (jar upload and run, savepoints, stop, cancel)."""

import json
import time
import urllib.error
import urllib.request
import uuid


class FlinkError(Exception):
    pass


class Flink:
    def __init__(self, rest_url: str):
        self.rest_url = rest_url.rstrip("/")

    def _call(self, method: str, path: str, body=None, raw=None, content_type="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.rest_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise FlinkError(f"{method} {path} answered {error.code}: {error.read()[:500]!r}") from error
        except OSError as error:
            raise FlinkError(f"{method} {path} failed: {error}") from error
        return json.loads(text) if text else {}

    def upload_jar(self, jar_path: str) -> str:
        boundary = uuid.uuid4().hex
        with open(jar_path, "rb") as jar:
            content = jar.read()
        raw = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"app.jar\"\r\n"
               "Content-Type: application/x-java-archive\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        answer = self._call("POST", "/jars/upload", raw=raw, content_type=f"multipart/form-data; boundary={boundary}")
        return answer["filename"].rsplit("/", 1)[-1]

    def run_jar(self, jar_id: str, entry_class: str, args: list, parallelism: int, savepoint=None,
                allow_non_restored=False) -> str:
        body = {"entryClass": entry_class, "programArgsList": args, "parallelism": parallelism}
        if savepoint:
            body["savepointPath"] = savepoint
            body["allowNonRestoredState"] = allow_non_restored
        return self._call("POST", f"/jars/{jar_id}/run", body)["jobid"]

    def job(self, job_id: str) -> dict:
        return self._call("GET", f"/jobs/{job_id}")

    def exceptions(self, job_id: str) -> list:
        answer = self._call("GET", f"/jobs/{job_id}/exceptions")
        return (answer.get("exceptionHistory") or {}).get("entries") or []

    def cancel(self, job_id: str, timeout: float = 60):
        """Cancels the job and waits until it is gone (its slots free for the next one)."""
        try:
            self._call("PATCH", f"/jobs/{job_id}?mode=cancel")
        except FlinkError:
            pass  # already gone
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.job(job_id).get("state") in ("CANCELED", "FAILED", "FINISHED"):
                    return
            except FlinkError:
                return
            time.sleep(0.3)
        raise FlinkError(f"job {job_id} not cancelled within {timeout} s")

    def _await_savepoint(self, job_id: str, trigger: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self._call("GET", f"/jobs/{job_id}/savepoints/{trigger}")
            if answer.get("status", {}).get("id") == "COMPLETED":
                operation = answer.get("operation") or {}
                if operation.get("location"):
                    return operation["location"]
                cause = operation.get("failure-cause") or {}
                raise FlinkError(cause.get("stack-trace", "savepoint failed")[:400])
            time.sleep(0.3)
        raise FlinkError(f"savepoint of {job_id} not done within {timeout} s")

    def savepoint(self, job_id: str, directory: str, timeout: float = 120) -> str:
        trigger = self._call("POST", f"/jobs/{job_id}/savepoints",
                             {"target-directory": directory, "cancel-job": False})["request-id"]
        return self._await_savepoint(job_id, trigger, timeout)

    def stop_with_savepoint(self, job_id: str, directory: str, timeout: float = 120) -> str:
        trigger = self._call("POST", f"/jobs/{job_id}/stop", {"targetDirectory": directory, "drain": False})["request-id"]
        return self._await_savepoint(job_id, trigger, timeout)

    def running(self, job_id: str) -> bool:
        detail = self.job(job_id)
        vertices = detail.get("vertices") or []
        return detail.get("state") == "RUNNING" and bool(vertices) and all(v.get("status") == "RUNNING" for v in vertices)

    def parallelism(self, job_id: str) -> int:
        return max((v.get("parallelism", 0) for v in self.job(job_id).get("vertices") or []), default=0)
