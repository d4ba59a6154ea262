"""A tiny in-memory Cloud Scheduler serving the gRPC service the real `google-cloud-scheduler` client speaks
by default (google.cloud.scheduler.v1.CloudScheduler), on 127.0.0.1 and a free port, without TLS.

Methods served, with the real API's rules as documented for projects.locations.jobs:
- ListJobs(parent)  → the jobs of projects/P/locations/R (one page; page_size is honoured, with tokens)
- GetJob(name)      → the job, NOT_FOUND if there is none
- PauseJob(name)    → state PAUSED; FAILED_PRECONDITION unless the job is ENABLED ("a job must be in
                      ENABLED to be paused")
- ResumeJob(name)   → state ENABLED; FAILED_PRECONDITION unless the job is PAUSED
Anything else answers UNIMPLEMENTED (what grpc does for an unknown method).

Jobs are proto-plus `scheduler_v1.Job` messages, serialized with the library's own classes, so the client
decodes exactly what it would from Google. `fail[name] = grpc.StatusCode.X` makes the next Pause/Resume of
that job fail with X (an operator without cloudscheduler.jobs.pause, say); `requests` records every call
as (method, name) for tests to check what was and was not attempted. Use it as a context manager."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent import futures
from types import TracebackType
from typing import Any

import grpc
from google.cloud.scheduler_v1 import types as st

SERVICE = "google.cloud.scheduler.v1.CloudScheduler"
_PARENT = re.compile(r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+$")
_JOB = re.compile(_PARENT.pattern.removesuffix("$") + r"/jobs/[A-Za-z0-9_-]{1,500}$")


class FakeScheduler:
    def __init__(self) -> None:
        self.jobs: dict[str, st.Job] = {}  # full name → job
        self.requests: list[tuple[str, str]] = []
        self.fail: dict[str, grpc.StatusCode] = {}
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handlers = {
            "ListJobs": _unary(self._list, st.ListJobsRequest, st.ListJobsResponse),
            "GetJob": _unary(self._get, st.GetJobRequest, st.Job),
            "PauseJob": _unary(self._pause, st.PauseJobRequest, st.Job),
            "ResumeJob": _unary(self._resume, st.ResumeJobRequest, st.Job),
        }
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FakeScheduler:
        self._server.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop(grace=None).wait(5)

    # ---- test set-up ----------------------------------------------------------------------------------

    def add(self, project: str, region: str, name: str, paused: bool = False) -> None:
        full = f"projects/{project}/locations/{region}/jobs/{name}"
        state = st.Job.State.PAUSED if paused else st.Job.State.ENABLED
        with self._lock:
            self.jobs[full] = st.Job(name=full, schedule="* * * * *", time_zone="Asia/Kolkata", state=state)

    def state(self, project: str, region: str, name: str) -> str:
        return self.jobs[f"projects/{project}/locations/{region}/jobs/{name}"].state.name

    def mutations(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] in ("PauseJob", "ResumeJob")]

    # ---- the service ----------------------------------------------------------------------------------

    def _list(self, req: st.ListJobsRequest, ctx: grpc.ServicerContext) -> st.ListJobsResponse:
        with self._lock:
            self.requests.append(("ListJobs", req.parent))
            if not _PARENT.match(req.parent):
                ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource field value: {req.parent!r}")
            names = sorted(n for n in self.jobs if n.startswith(req.parent + "/jobs/"))
            start = int(req.page_token or 0)
            size = req.page_size or 500
            page = names[start : start + size]
            token = str(start + size) if start + size < len(names) else ""
            return st.ListJobsResponse(jobs=[self.jobs[n] for n in page], next_page_token=token)

    def _get(self, req: st.GetJobRequest, ctx: grpc.ServicerContext) -> st.Job:
        with self._lock:
            self.requests.append(("GetJob", req.name))
            return self._job(req.name, ctx)

    def _pause(self, req: st.PauseJobRequest, ctx: grpc.ServicerContext) -> st.Job:
        return self._set(req.name, ctx, "PauseJob", st.Job.State.ENABLED, st.Job.State.PAUSED)

    def _resume(self, req: st.ResumeJobRequest, ctx: grpc.ServicerContext) -> st.Job:
        return self._set(req.name, ctx, "ResumeJob", st.Job.State.PAUSED, st.Job.State.ENABLED)

    def _set(
        self, name: str, ctx: grpc.ServicerContext, method: str, needs: st.Job.State, to: st.Job.State
    ) -> st.Job:
        with self._lock:
            self.requests.append((method, name))
            job = self._job(name, ctx)
            code = self.fail.pop(name.rsplit("/", 1)[-1], None)
            if code is not None:
                ctx.abort(code, f"injected {code.name} for {name}")
            if job.state != needs:
                ctx.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Job {name} is {job.state.name}; {method} needs it {needs.name}.",
                )
            job.state = to
            return job

    def _job(self, name: str, ctx: grpc.ServicerContext) -> st.Job:
        if not _JOB.match(name):
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource field value: {name!r}")
        job = self.jobs.get(name)
        if job is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "Job not found.")
        return job


def _unary(
    fn: Callable[[Any, grpc.ServicerContext], Any], request_type: Any, response_type: Any
) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(
        fn, request_deserializer=request_type.deserialize, response_serializer=response_type.serialize
    )
