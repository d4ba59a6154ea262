"""A local Cloud Run Admin API v2 for jobs, on 127.0.0.1: it runs a job's tasks as processes on this machine,
as Cloud Run runs them in containers.

Served, with the shapes of the real API (https://cloud.google.com/run/docs/reference/rest/v2):
- POST /v2/projects/P/locations/R/jobs/J:run  {"overrides": {"containerOverrides": [{"name", "env"}],
  "taskCount"}} → a long-running Operation whose metadata is the new Execution. The override must name
  the job's container (INVALID_ARGUMENT otherwise); an unknown job is NOT_FOUND.
- GET /v2/projects/P/locations/R/jobs/J/executions/E → the Execution: taskCount, runningCount,
  succeededCount, failedCount, retriedCount, and completionTime once every task has ended.

Each execution starts its ``taskCount`` tasks at once: the job's ``command`` with the job's environment, the
override's and CLOUD_RUN_JOB, CLOUD_RUN_EXECUTION, CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT and
CLOUD_RUN_TASK_ATTEMPT set; a task that exits non-zero is retried up to the job's ``max_retries``.
``refuse[job] = (http status, STATUS, message)`` answers every run of that job with Google's error
envelope; ``requests`` records (method, path, JSON body); ``outputs`` each task attempt's (index, attempt,
exit code, stdout + stderr). Use it as a context manager: it waits for running executions when it stops."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.fakes.http import send_json

_RUN = re.compile(r"^/v2/(projects/[^/]+/locations/[^/]+/jobs/[^/:]+):run$")
_EXECUTION = re.compile(r"^/v2/(projects/[^/]+/locations/[^/]+/jobs/[^/]+/executions/[^/]+)$")


@dataclass
class Job:
    """A job: the task's command and environment, its container's name and retries, the folder it runs in."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    container: str = "sweep"
    max_retries: int = 1


@dataclass
class Execution:
    name: str
    job: str
    task_count: int
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    completion: str | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    def doc(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "@type": "type.googleapis.com/google.cloud.run.v2.Execution",
            "name": self.name,
            "job": self.job.rsplit("/", 1)[-1],
            "taskCount": self.task_count,
            "logUri": f"https://console.cloud.google.com/logs?execution={self.name.rsplit('/', 1)[-1]}",
        }
        for key, v in (
            ("runningCount", self.running),
            ("succeededCount", self.succeeded),
            ("failedCount", self.failed),
            ("retriedCount", self.retried),
        ):
            if v:
                d[key] = v  # proto3 JSON leaves zero counts out, as the real API does
        if self.completion:
            d["completionTime"] = self.completion
        return d


def _error(handler: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
    send_json(handler, status, {"error": {"code": status, "message": message, "status": code}})


class FakeCloudRun:
    """``with FakeCloudRun() as api:``, ``api.add(project, region, job, Job(...))``, then point the launcher at
    ``api.url``."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.executions: dict[str, Execution] = {}
        self.refuse: dict[str, tuple[int, str, str]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.outputs: list[tuple[int, int, int, str]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw else None
                with fake.lock:
                    fake.requests.append(("POST", self.path, body))
                m = _RUN.match(self.path)
                if m is None:
                    return _error(self, 404, "NOT_FOUND", f"no route POST {self.path}")
                fake._run(self, m.group(1), body or {})

            def do_GET(self) -> None:
                with fake.lock:
                    fake.requests.append(("GET", self.path, None))
                    m = _EXECUTION.match(self.path)
                    ex = fake.executions.get(m.group(1)) if m else None
                    doc = ex.doc() if ex else None
                if doc is None:
                    return _error(self, 404, "NOT_FOUND", f"Resource '{self.path}' does not exist.")
                send_json(self, 200, doc)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, project: str, region: str, name: str, job: Job) -> None:
        self.jobs[f"projects/{project}/locations/{region}/jobs/{name}"] = job

    def runs(self) -> list[dict[str, Any]]:
        """The bodies of the :run requests, in order."""
        return [b for m, p, b in self.requests if m == "POST" and p.endswith(":run")]

    def wait(self, timeout_s: float = 60.0) -> None:
        """Until every task started so far has ended (a submitter may have its results before the task
        process has exited)."""
        for ex in list(self.executions.values()):
            for t in ex.threads:
                t.join(timeout_s)

    def __enter__(self) -> FakeCloudRun:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.wait()
        self._server.shutdown()
        self._server.server_close()

    # ---- the service ----------------------------------------------------------------------------------

    def _run(self, handler: BaseHTTPRequestHandler, name: str, body: dict[str, Any]) -> None:
        job = self.jobs.get(name)
        short = name.rsplit("/", 1)[-1]
        if short in self.refuse:
            status, code, message = self.refuse[short]
            return _error(handler, status, code, message)
        if job is None:
            p = name.split("/")
            return _error(
                handler, 404, "NOT_FOUND",
                f"Resource '{short}' of kind 'JOB' in region '{p[3]}' in project '{p[1]}' does not exist.",
            )  # fmt: skip
        overrides = body.get("overrides") or {}
        count = int(overrides.get("taskCount") or 1)
        if not 1 <= count <= 10_000:
            return _error(handler, 400, "INVALID_ARGUMENT", f"taskCount {count} is not 1 … 10000")
        env = dict(job.env)
        for c in overrides.get("containerOverrides") or []:
            if c.get("name") not in (None, "", job.container):
                return _error(handler, 400, "INVALID_ARGUMENT", f"no container {c.get('name')!r} in {short}")
            env.update({e["name"]: e["value"] for e in c.get("env") or []})
        exec_id = f"{short}-{uuid.uuid4().hex[:5]}"
        ex = Execution(f"{name}/executions/{exec_id}", name, count, running=count)
        with self.lock:
            self.executions[ex.name] = ex
        for i in range(count):
            t = threading.Thread(target=self._task, args=(ex, job, env, exec_id, i), daemon=True)
            ex.threads.append(t)
            t.start()
        op = {
            "name": f"{name.rsplit('/jobs/', 1)[0]}/operations/{uuid.uuid4()}",
            "metadata": ex.doc(),
            "done": False,
        }
        send_json(handler, 200, op)

    def _task(self, ex: Execution, job: Job, env: dict[str, str], exec_id: str, index: int) -> None:
        ok = False
        for attempt in range(job.max_retries + 1):
            run_env = {
                **os.environ,
                **env,
                "CLOUD_RUN_JOB": ex.job.rsplit("/", 1)[-1],
                "CLOUD_RUN_EXECUTION": exec_id,
                "CLOUD_RUN_TASK_INDEX": str(index),
                "CLOUD_RUN_TASK_COUNT": str(ex.task_count),
                "CLOUD_RUN_TASK_ATTEMPT": str(attempt),
            }
            proc = subprocess.run(
                job.command, env=run_env, cwd=job.cwd, capture_output=True, text=True, timeout=120
            )
            with self.lock:
                self.outputs.append((index, attempt, proc.returncode, proc.stdout + proc.stderr))
                if proc.returncode != 0 and attempt < job.max_retries:
                    ex.retried += 1
            if proc.returncode == 0:
                ok = True
                break
        with self.lock:
            ex.running -= 1
            if ok:
                ex.succeeded += 1
            else:
                ex.failed += 1
            if ex.running == 0:
                ex.completion = datetime.now(UTC).isoformat().replace("+00:00", "Z")
