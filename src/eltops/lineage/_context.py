"""Where eltops' runs hang in the lineage graph: under the CI job that runs eltops, rooted at the CI pipeline run.

The parent and root come from what eltops is given (``OPENLINEAGE_CONTEXT``, ``OPENLINEAGE_PARENT_ID`` /
``OPENLINEAGE_ROOT_PARENT_ID``), else from the CI system's own variables:

- GitLab (and DataOps.live, which runs on GitLab): root = the pipeline ``CI_PIPELINE_ID`` of ``CI_PROJECT_PATH``,
  parent = the job ``CI_JOB_ID`` (``CI_JOB_NAME``).
- GitHub Actions: root = the workflow run ``GITHUB_RUN_ID`` (attempt ``GITHUB_RUN_ATTEMPT``) of
  ``GITHUB_REPOSITORY``, parent = the job ``GITHUB_JOB``.

Run ids are UUIDv5 of the CI ids, so every eltops step of one CI run names the same root; the root's id is the one
eltops' run history gives the CI pipeline run (``eltops.history``), so the two can be joined. Job names hold no
``/`` (dbt-ol splits ``OPENLINEAGE_PARENT_ID`` on it): a project path's slashes become dots.

The step outputs hand the CI pipeline run on as ``OPENLINEAGE_PARENT_ID`` and ``OPENLINEAGE_ROOT_PARENT_ID``, so
a later ``dbt-ol`` (or eltops) step nests under the same CI run. An eltops step that gets back its own CI root as
parent (a GitLab dotenv report hands it to every later job) still puts its runs under its own CI job.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from eltops.lineage._settings import LineageSettings, RunRef

__all__ = ["Placement", "ci_runs", "parent_step_outputs", "placement"]

# the namespace eltops.history derives its CI run ids in (eltops.history._ci.NAMESPACE): the root run's id is the
# pipeline_run_id of the run history
_CI_NAMESPACE = uuid.UUID("6f1c2a4e-8d0b-5c1e-9a57-3e2b7d4c9f10")


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_CI_NAMESPACE, "\x1f".join(parts)))


def _name(*parts: str) -> str:
    return ".".join(part.replace("/", ".") for part in parts if part)


@dataclass(frozen=True)
class Placement:
    """The run eltops' runs are children of, and the root of the whole tree (both None outside CI and unset)."""

    parent: RunRef | None
    root: RunRef | None


def ci_runs(env: Mapping[str, str], namespace: str) -> Placement:
    """(the CI job, the CI pipeline run) from GitLab's or GitHub's variables; both None elsewhere."""
    if env.get("GITLAB_CI"):
        project = env.get("CI_PROJECT_PATH") or env.get("CI_PROJECT_NAME") or "gitlab"
        pipeline = env.get("CI_PIPELINE_ID") or "0"
        job_id = env.get("CI_JOB_ID") or "0"
        root = RunRef(namespace, _name("gitlab", project), _stable_id("gitlab", project, pipeline))
        job = RunRef(
            namespace,
            _name("gitlab", project, env.get("CI_JOB_NAME") or job_id),
            _stable_id("gitlab", project, pipeline, "job", job_id),
        )
        return Placement(job, root)
    if env.get("GITHUB_ACTIONS"):
        repo = env.get("GITHUB_REPOSITORY") or "github"
        run = env.get("GITHUB_RUN_ID") or "0"
        attempt = env.get("GITHUB_RUN_ATTEMPT") or "1"
        workflow = env.get("GITHUB_WORKFLOW") or "workflow"
        job_name = env.get("GITHUB_JOB") or "job"
        root = RunRef(namespace, _name("github", repo, workflow), _stable_id("github", repo, run))
        step = RunRef(
            namespace,
            _name("github", repo, workflow, job_name),
            _stable_id("github", repo, run, attempt, "job", job_name),
        )
        return Placement(step, root)
    return Placement(None, None)


def placement(settings: LineageSettings, env: Mapping[str, str]) -> Placement:
    """Given parents first (the root defaults to the parent, as dbt-ol does), else the CI job and pipeline run."""
    ci = ci_runs(env, settings.namespace)
    given = settings.parent
    if given is not None and not (ci.root is not None and given.run_id == ci.root.run_id):
        return Placement(given, settings.root or given)
    return ci


def parent_step_outputs(where: Placement) -> dict[str, str]:
    """The step outputs that nest a later step's lineage under the same CI run (empty outside CI)."""
    if where.root is None:
        return {}
    return {"OPENLINEAGE_PARENT_ID": str(where.root), "OPENLINEAGE_ROOT_PARENT_ID": str(where.root)}
