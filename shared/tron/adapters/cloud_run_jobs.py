"""Cloud Run jobs through the Admin API v2 (:class:`CloudRunJobs`): start an execution of the sweep job with
a task count and the run id as an environment override, and read whether it has ended.

Plain REST over google-auth's AuthorizedSession (google-auth and requests come with the Google Cloud
clients already installed): two calls, `POST /v2/{job}:run` and `GET /v2/{execution}`, do not justify the
google-cloud-run client and its gRPC stack in every install. Requests:

    POST {endpoint}/v2/projects/{project}/locations/{region}/jobs/{job}:run
    {"overrides": {"containerOverrides": [{"name": "sweep", "env": [{"name": "TRON_SWEEP_RUN",
     "value": RUN}]}], "taskCount": N}}

answers a long-running Operation whose ``metadata`` is the new Execution (its ``name`` is what
:meth:`CloudRunJobs.finished` reads back: ``completionTime`` is set once every task has succeeded or
failed for good). Needs run.jobs.runWithOverrides and run.executions.get on the job (infra/terraform
grants the operators roles/run.jobsExecutorWithOverrides and roles/run.viewer on it).
"""

from __future__ import annotations

from typing import Any

import requests

API = "https://run.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
CONTAINER = "sweep"  # the job's container (infra/terraform/sweep.tf), which the override targets
RUN_ENV = "TRON_SWEEP_RUN"


class LaunchError(RuntimeError):
    """The Admin API refused a call or could not be reached; the message names the job or execution and
    Google's status and message."""


def make_session(endpoint: str | None = None) -> requests.Session:
    """An authorized session (Application Default Credentials, cloud-platform scope), or a plain one for a
    local stand-in at ``endpoint``. google.auth's DefaultCredentialsError when there are no credentials."""
    if endpoint:
        return requests.Session()
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=[SCOPE])
    return AuthorizedSession(credentials)


class CloudRunJobs:
    """The JobLauncher of tron.backtest.sweep on one project and region."""

    def __init__(
        self,
        session: requests.Session,
        project: str,
        region: str,
        endpoint: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.session, self.project, self.region = session, project, region
        self.endpoint = (endpoint or API).rstrip("/")
        self.timeout_s = timeout_s

    def job_name(self, job: str) -> str:
        return f"projects/{self.project}/locations/{self.region}/jobs/{job}"

    def run(self, job: str, run_id: str, count: int) -> str:
        """Start one execution of ``job`` with ``count`` tasks and TRON_SWEEP_RUN=``run_id``; the execution's
        name (projects/…/jobs/JOB/executions/ID). LaunchError when Cloud Run refuses."""
        name = self.job_name(job)
        body = {
            "overrides": {
                "containerOverrides": [{"name": CONTAINER, "env": [{"name": RUN_ENV, "value": run_id}]}],
                "taskCount": count,
            }
        }
        op = self._call("POST", f"{self.endpoint}/v2/{name}:run", body, f"run the Cloud Run job {name}")
        execution = (op.get("metadata") or {}).get("name")
        if not isinstance(execution, str) or "/executions/" not in execution:
            raise LaunchError(f"Cloud Run accepted the run of {name} but named no execution: {str(op)[:300]}")
        return execution

    def finished(self, execution: str) -> str | None:
        """None while the execution runs (or its state could not be read this time: a 5xx, a timeout);
        once it has ended, how: "3 of 4 tasks succeeded, 1 failed; logs: URL". LaunchError for a 4xx."""
        try:
            doc = self._call(
                "GET", f"{self.endpoint}/v2/{execution}", None, f"read the execution {execution}"
            )
        except _Transient:
            return None
        if not doc.get("completionTime"):
            return None
        n = int(doc.get("taskCount") or 0)
        ok, failed, cancelled = (
            int(doc.get(k) or 0) for k in ("succeededCount", "failedCount", "cancelledCount")
        )
        how = f"{ok} of {n} tasks succeeded, {failed} failed" + (
            f", {cancelled} cancelled" if cancelled else ""
        )
        return how + (f"; logs: {doc['logUri']}" if doc.get("logUri") else "")

    def _call(self, method: str, url: str, body: dict[str, Any] | None, what: str) -> dict[str, Any]:
        try:
            resp = self.session.request(method, url, json=body, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise _Transient(f"could not {what}: {e}") from None
        if resp.status_code >= 500:
            raise _Transient(f"could not {what}: HTTP {resp.status_code} {_error(resp)}")
        if resp.status_code >= 400:
            raise LaunchError(f"could not {what}: HTTP {resp.status_code} {_error(resp)}")
        try:
            doc = resp.json()
        except ValueError:
            raise LaunchError(f"could not {what}: the answer is not JSON ({resp.text[:200]!r})") from None
        if not isinstance(doc, dict):
            raise LaunchError(f"could not {what}: unexpected answer {str(doc)[:200]}")
        return doc


class _Transient(LaunchError):
    """The API could not be reached or failed on its side (5xx): worth asking again later."""


def _error(resp: requests.Response) -> str:
    """Google's error as `STATUS: message` (the JSON error body), else the start of the body."""
    try:
        err = resp.json().get("error") or {}
        return f"{err.get('status') or ''}: {err.get('message') or ''}".strip(": ") or resp.text[:200]
    except (ValueError, AttributeError):
        return resp.text[:200]
