"""The DataOps runner image's ``/dataops`` entry script, run as the image runs it, against the Fivetran emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.packaging._support import FIVETRAN_KEY, FIVETRAN_SECRET, REPO, Emulators, run
from tests.packaging.conftest import LeanVenv

pytestmark = pytest.mark.slow
DATAOPS = REPO / "docker" / "dataops" / "dataops"
DOCKERFILE = REPO / "docker" / "dataops" / "Dockerfile"


def _job_env(served: Emulators, lean_venv: LeanVenv, tmp_path: Path, **variables: str) -> dict[str, str]:
    """The job's variables only (no test runner's), the image's PATH, and the vault in the secrets dir."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    vault = {
        "FIVETRAN": {"DEFAULT": {"API_KEY": FIVETRAN_KEY, "API_SECRET": FIVETRAN_SECRET}},
        "INGESTION": {"FIVETRAN": {"PROD": {"API_KEY": FIVETRAN_KEY, "API_SECRET": FIVETRAN_SECRET}}},
    }
    (secrets / "vault.yml").write_text(yaml.safe_dump(vault), encoding="utf-8")
    return {
        "PATH": f"{lean_venv.bin}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATAOPS_SECRETS_DIR": str(secrets),
        "FIVETRAN_API_URL": served.fivetran_url,
        "FIVETRAN_POLL_INTERVAL": "0.1",
        **variables,
    }


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"FIVETRAN_ACTION": "START", "CONNECTOR_ID": "good", "SET_FIVETRAN_KEYS_TO_ENV": "1"}, 0),
        ({"FIVETRAN_ACTION": "START", "CONNECTOR_ID": "bad", "SET_FIVETRAN_KEYS_TO_ENV": "1"}, 1),
        (
            {
                "FIVETRAN_ACTION": "FORCE_RESYNC",
                "CONNECTOR_ID": "good",
                "FIVETRAN_API_KEY": "DATAOPS_VAULT(INGESTION.FIVETRAN.PROD.API_KEY)",
                "FIVETRAN_API_SECRET": "DATAOPS_VAULT(INGESTION.FIVETRAN.PROD.API_SECRET)",
            },
            2,
        ),
        ({"CONNECTOR_ID": "good", "SET_FIVETRAN_KEYS_TO_ENV": "1"}, 2),
    ],
    ids=["start-default-vault-keys", "failed-sync", "resync-without-table", "no-action"],
)
def test_the_entry_script_runs_the_orchestrator_from_the_jobs_variables(
    tmp_path: Path, served: Emulators, lean_venv: LeanVenv, variables: dict[str, str], code: int
) -> None:
    """``/dataops`` runs the orchestrator from the variables alone and exits with its code (2 names what is wrong)."""
    done = run(["sh", DATAOPS], env=_job_env(served, lean_venv, tmp_path, **variables), cwd=tmp_path)
    assert done.code == code, done.stderr
    if code == 2:
        assert "Error:" in done.stderr
        assert "Traceback" not in done.stderr


def test_status_prints_the_connection_json(tmp_path: Path, served: Emulators, lean_venv: LeanVenv) -> None:
    """STATUS prints the connection's JSON on stdout, as the DataOps orchestrator does."""
    env = _job_env(
        served, lean_venv, tmp_path, FIVETRAN_ACTION="STATUS", CONNECTOR_ID="good", SET_FIVETRAN_KEYS_TO_ENV="1"
    )
    done = run(["sh", DATAOPS], env=env, cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert '"id": "good"' in done.stdout


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("FROM python:3.11-slim", "a slim Python base"),
        ("USER 10001", "a non-root user"),
        ("COPY dist/eltops-*-py3-none-any.whl", "eltops from the wheel"),
        ("COPY --chmod=0755 docker/dataops/dataops /dataops", "the entry script at /dataops"),
    ],
)
def test_the_image_definition(pattern: str, why: str) -> None:
    """The Dockerfile (linted by hadolint in make check; no Docker engine here to build it) has each property."""
    assert pattern in DOCKERFILE.read_text(encoding="utf-8"), why
