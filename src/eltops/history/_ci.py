"""Who ran this job: the CI pipeline and job, read from GitLab's or GitHub's own variables.

Ids are UUIDs derived (UUIDv5) from the CI system's ids, so every eltops job of one CI pipeline writes the same
pipeline run, and each (job, action) its own task run (a re-run of the same job updates its row). Outside CI each
invocation is a pipeline run of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

NAMESPACE = uuid.UUID("6f1c2a4e-8d0b-5c1e-9a57-3e2b7d4c9f10")


def stable_id(*parts: str) -> str:
    """A UUID that is always the same for the same parts."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


@dataclass(frozen=True)
class CiRun:
    """The pipeline run and task run this job records itself as."""

    system: str  # "gitlab", "github" or "local"
    pipeline_run_id: str
    pipeline_id: str
    pipeline_name: str
    env_name: str | None
    branch: str | None
    commit: str | None
    pipeline_url: str | None
    task_run_id: str
    task_name: str
    job_url: str | None
    attempt: int

    def parameters(self) -> dict[str, str | int]:
        """What the run parameters record about the CI run (no secrets: only ids, names and links)."""
        values: dict[str, str | int | None] = {
            "ci": self.system,
            "branch": self.branch,
            "commit": self.commit,
            "pipeline_url": self.pipeline_url,
            "job_url": self.job_url,
            "attempt": self.attempt,
        }
        return {k: v for k, v in values.items() if v is not None}


def _int(text: str | None, default: int = 1) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def detect_ci_run(env: Mapping[str, str], *, job_label: str) -> CiRun:
    """The CI run described by ``env``; ``job_label`` names the task when the CI system gives no job name."""
    if env.get("GITLAB_CI"):
        project = env.get("CI_PROJECT_PATH") or env.get("CI_PROJECT_NAME") or "gitlab"
        pipeline = env.get("CI_PIPELINE_ID") or "0"
        job = env.get("CI_JOB_ID") or job_label
        return CiRun(
            system="gitlab",
            pipeline_run_id=stable_id("gitlab", project, pipeline),
            pipeline_id=stable_id("gitlab", project),
            pipeline_name=project,
            env_name=env.get("CI_ENVIRONMENT_NAME") or None,
            branch=env.get("CI_COMMIT_REF_NAME") or env.get("CI_COMMIT_BRANCH") or None,
            commit=env.get("CI_COMMIT_SHA") or None,
            pipeline_url=env.get("CI_PIPELINE_URL") or None,
            task_run_id=stable_id("gitlab", project, pipeline, job, job_label),
            task_name=env.get("CI_JOB_NAME") or job_label,
            job_url=env.get("CI_JOB_URL") or None,
            attempt=1,
        )
    if env.get("GITHUB_ACTIONS"):
        repo = env.get("GITHUB_REPOSITORY") or "github"
        run = env.get("GITHUB_RUN_ID") or "0"
        attempt = _int(env.get("GITHUB_RUN_ATTEMPT"))
        job = env.get("GITHUB_JOB") or job_label
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        workflow = env.get("GITHUB_WORKFLOW") or "workflow"
        url = f"{server}/{repo}/actions/runs/{run}"
        return CiRun(
            system="github",
            pipeline_run_id=stable_id("github", repo, run),
            pipeline_id=stable_id("github", repo, workflow),
            pipeline_name=f"{repo}: {workflow}",
            env_name=None,
            branch=env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or None,
            commit=env.get("GITHUB_SHA") or None,
            pipeline_url=url,
            task_run_id=stable_id("github", repo, run, str(attempt), job, job_label),
            task_name=job if job == job_label else f"{job}: {job_label}",
            job_url=f"{url}/attempts/{attempt}",
            attempt=attempt,
        )
    local = str(uuid.uuid4())
    return CiRun(
        system="local",
        pipeline_run_id=local,
        pipeline_id=stable_id("local", "eltops"),
        pipeline_name="eltops (local)",
        env_name=None,
        branch=None,
        commit=None,
        pipeline_url=None,
        task_run_id=str(uuid.uuid4()),
        task_name=job_label,
        job_url=None,
        attempt=1,
    )
