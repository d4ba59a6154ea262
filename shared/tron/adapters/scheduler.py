"""Cloud Scheduler jobs paused and resumed with the google-cloud-scheduler client (`tron ops`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry

if TYPE_CHECKING:
    from google.cloud import scheduler_v1

# The real API is fast; a wrong endpoint or a network outage should fail in seconds, not in the client's
# default 600 s.
DEFAULT_TIMEOUT_S = 30.0


class UnknownJobs(Exception):
    """Some wanted jobs do not exist in the project and region (nothing was changed)."""

    def __init__(self, missing: list[str], parent: str) -> None:
        self.missing = missing
        self.parent = parent
        super().__init__(
            f"no Cloud Scheduler job {', '.join(missing)} in {parent}; nothing was changed "
            "(was `terraform apply` run for this project and region?)"
        )


class SchedulerUnavailable(Exception):
    """The jobs could not be listed (permissions, network): nothing was changed."""


@dataclass(frozen=True)
class JobChange:
    """What happened to one job: `before`/`after` are Job.State names; `error` is set when the call failed."""

    job: str
    before: str
    after: str
    error: str | None = None

    @property
    def changed(self) -> bool:
        """True when the call succeeded and the state moved."""
        return self.error is None and self.before != self.after


def make_client(endpoint: str | None = None) -> scheduler_v1.CloudSchedulerClient:
    """The real client: Application Default Credentials and Google's endpoint, or, with `endpoint`
    ("host:port", a local stand-in such as tests/support/fakes/scheduler.py), anonymous credentials and
    a plaintext gRPC channel to that address."""
    from google.cloud import scheduler_v1

    if endpoint is None:
        return scheduler_v1.CloudSchedulerClient()
    import grpc
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.scheduler_v1.services.cloud_scheduler.transports import CloudSchedulerGrpcTransport

    def transport(**kw: object) -> CloudSchedulerGrpcTransport:
        return CloudSchedulerGrpcTransport(
            **kw,  # type: ignore[arg-type]
            channel=lambda host, **_: grpc.insecure_channel(host),
        )

    return scheduler_v1.CloudSchedulerClient(
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
        transport=transport,
    )


class SchedulerJobs:
    """The jobs of one project and region. Jobs are named as terraform names them:
    `projects/P/locations/R/jobs/<name>` with <name> taken unchanged from tron/data/jobs.yaml. Every call
    has a ``timeout_s`` deadline."""

    def __init__(
        self,
        client: scheduler_v1.CloudSchedulerClient,
        project: str,
        region: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.project = project
        self.region = region
        self.timeout = timeout_s

    @property
    def parent(self) -> str:
        """`projects/P/locations/R`."""
        return f"projects/{self.project}/locations/{self.region}"

    def job_path(self, name: str) -> str:
        """The full resource name of a job."""
        return f"{self.parent}/jobs/{name}"

    def states(self) -> dict[str, str]:
        """Short job name → Job.State name of every job in the project and region; SchedulerUnavailable
        if they cannot be listed (transient errors are retried until the timeout)."""
        retry = gretry.Retry(
            predicate=gretry.if_exception_type(gexc.ServiceUnavailable, gexc.DeadlineExceeded),
            deadline=self.timeout,
        )
        try:
            pages = self.client.list_jobs(parent=self.parent, retry=retry, timeout=self.timeout)
            return {job.name.rsplit("/", 1)[-1]: job.state.name for job in pages}
        except (gexc.GoogleAPIError, gexc.RetryError) as e:
            raise SchedulerUnavailable(
                f"could not list the Cloud Scheduler jobs of {self.parent}: {_why(e)}; nothing was changed"
            ) from e

    def set_paused(self, names: list[str], paused: bool) -> list[JobChange]:
        """Pause (or resume) every named job; all-or-nothing on unknown names, per-job on API errors.

        It first lists the region's jobs (one call, :meth:`states`) and raises UnknownJobs, changing
        nothing, if any wanted job does not exist; only then does it pause or resume each job that is not
        already in the wanted state. A job whose call fails is reported with the error and the others are
        still attempted, so the caller learns exactly which jobs changed, which were already so and which
        failed (one JobChange per name, in order).
        """
        current = self.states()
        missing = [n for n in names if n not in current]
        if missing:
            raise UnknownJobs(missing, self.parent)
        want = "PAUSED" if paused else "ENABLED"
        call = self.client.pause_job if paused else self.client.resume_job
        out = []
        for name in names:
            before = current[name]
            if before == want:
                out.append(JobChange(name, before, before))
                continue
            try:
                job = call(name=self.job_path(name), timeout=self.timeout)
                out.append(JobChange(name, before, job.state.name))
            except gexc.GoogleAPIError as e:
                out.append(JobChange(name, before, before, error=_why(e)))
        return out


def _why(e: BaseException) -> str:
    if isinstance(e, gexc.GoogleAPICallError):
        code = e.grpc_status_code
        return f"{code.name if code is not None else type(e).__name__}: {e.message}"
    return f"{type(e).__name__}: {e}"
