"""The HTTP contract: auth, pagination, validation errors and record shapes, as the OpenAPI spec describes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from eltops.orchestra.emulator import OrchestraEmulator, Volume
from tests._clock import NOW
from tests.orchestra_emulator.conftest import EmulatorFactory, client_for, fetch_all

RESOURCES = ["pipeline_runs", "task_runs", "operations"]
SCHEMAS = {
    "pipeline_runs": "PaginatedResponse_PipelineRunResponse_",
    "task_runs": "PaginatedResponse_TaskRunResponse_",
    "operations": "PaginatedResponse_OperationResponse_",
}


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Bearer wrong"}, "Invalid API key"),
        ({"Authorization": "Basic dGVzdC1rZXk6"}, "Not authenticated"),
        ({"Authorization": "Bearer "}, "Not authenticated"),
    ],
)
def test_requests_without_the_right_bearer_key_get_401(
    emulator: OrchestraEmulator, resource: str, headers: dict[str, str], detail: str
) -> None:
    """A missing, malformed or wrong key is answered 401 with a FastAPI-style detail string."""
    with client_for(emulator, key=None) as anonymous:
        response = anonymous.get(f"/{resource}", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_page_validates_against_the_spec_schema(
    client: httpx.Client, spec: dict[str, Any], resource: str
) -> None:
    """Whole listings validate against the spec's paginated response schema, ids are UUID4s."""
    schema = {"$ref": f"#/components/schemas/{SCHEMAS[resource]}", "components": spec["components"]}
    validator = Draft202012Validator(schema)
    page = 1
    while True:
        body = client.get(f"/{resource}", params={"page": page, "page_size": 100}).json()
        errors = sorted(validator.iter_errors(body), key=str)
        assert not errors, errors[0]
        for record in body["results"]:
            for field in ("id", "accountId", "pipelineId", "pipelineRunId", "taskRunId", "envId"):
                if record.get(field) is not None:
                    assert uuid.UUID(record[field]).version == 4
        if page * 100 >= body["total"]:
            break
        page += 1


@pytest.mark.parametrize("resource", RESOURCES)
def test_records_carry_every_field_of_their_schema(client: httpx.Client, spec: dict[str, Any], resource: str) -> None:
    """Each record has exactly the properties its schema lists, none missing, none extra."""
    page_schema = spec["components"]["schemas"][SCHEMAS[resource]]
    record_schema_name = page_schema["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]
    expected = set(spec["components"]["schemas"][record_schema_name]["properties"])
    record = client.get(f"/{resource}").json()["results"][0]
    assert set(record) == expected


@pytest.mark.parametrize("resource", RESOURCES)
def test_pages_partition_the_listing_and_total_counts_items(client: httpx.Client, resource: str) -> None:
    """Consecutive pages never overlap, together hold ``total`` records, and a page past the end is empty."""
    first = client.get(f"/{resource}", params={"page_size": 7}).json()
    total = first["total"]
    seen: list[str] = []
    pages = -(-total // 7)
    for page in range(1, pages + 1):
        body = client.get(f"/{resource}", params={"page": page, "page_size": 7}).json()
        assert body["page"] == page
        assert body["pageSize"] == 7
        assert body["total"] == total
        seen.extend(r["id"] for r in body["results"])
    assert len(seen) == len(set(seen)) == total
    beyond = client.get(f"/{resource}", params={"page": pages + 1, "page_size": 7}).json()
    assert beyond["results"] == []
    assert beyond["total"] == total


def test_page_size_defaults_to_50_and_per_page_is_ignored(client: httpx.Client) -> None:
    """Without page_size a page holds 50; ``per_page`` (older clients) is an unknown parameter, so ignored."""
    body = client.get("/task_runs", params={"per_page": 100}).json()
    assert body["pageSize"] == 50
    assert len(body["results"]) == 50


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"page_size": "101"},
            {
                "type": "less_than_equal",
                "loc": ["query", "page_size"],
                "msg": "Input should be less than or equal to 100",
                "input": "101",
                "ctx": {"le": 100},
            },
        ),
        (
            {"page_size": "0"},
            {
                "type": "greater_than_equal",
                "loc": ["query", "page_size"],
                "msg": "Input should be greater than or equal to 1",
                "input": "0",
                "ctx": {"ge": 1},
            },
        ),
        (
            {"page": "0"},
            {
                "type": "greater_than_equal",
                "loc": ["query", "page"],
                "msg": "Input should be greater than or equal to 1",
                "input": "0",
                "ctx": {"ge": 1},
            },
        ),
        (
            {"page": "two"},
            {
                "type": "int_parsing",
                "loc": ["query", "page"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "two",
            },
        ),
    ],
)
def test_out_of_range_paging_gets_a_fastapi_422(client: httpx.Client, params: dict[str, str], error: Any) -> None:
    """Paging parameters outside the spec's bounds are answered 422 with FastAPI's detail list."""
    response = client.get("/pipeline_runs", params=params)
    assert response.status_code == 422
    assert response.json() == {"detail": [error]}


@pytest.mark.parametrize(
    ("resource", "params", "loc"),
    [
        ("task_runs", {"time_from": "2025-04-30T00:00:00Z"}, ["query", "time_to"]),
        ("task_runs", {"time_to": "2025-04-30T00:00:00Z"}, ["query", "time_from"]),
        ("task_runs", {"time_from": "2025-04-01T00:00:00Z", "time_to": "2025-04-08T00:00:01Z"}, ["query", "time_to"]),
        ("task_runs", {"time_from": "2025-04-08T00:00:00Z", "time_to": "2025-04-01T00:00:00Z"}, ["query", "time_from"]),
        ("task_runs", {"time_from": "yesterday", "time_to": "2025-04-01T00:00:00Z"}, ["query", "time_from"]),
        ("pipeline_runs", {"status": "SUCCEEDED,DONE"}, ["query", "status"]),
        ("task_runs", {"status": "SUCCESS"}, ["query", "status"]),
        ("task_runs", {"integration": "SNOWFLAKE,EXCEL"}, ["query", "integration"]),
        ("operations", {"status": "SUCCEEDED,FAILED"}, ["query", "status"]),
        ("operations", {"integration": "DBT_CORE,SNOWFLAKE"}, ["query", "integration"]),
        ("operations", {"operation_type": "MODEL"}, ["query", "operation_type"]),
        ("operations", {"task_run_id": "not-a-uuid"}, ["query", "task_run_id"]),
        ("operations", {"task_run_id": "6f1c2d3e-4b5a-1c7d-8e9f-0a1b2c3d4e5f"}, ["query", "task_run_id"]),
    ],
)
def test_invalid_parameters_get_422_naming_the_parameter(
    client: httpx.Client, resource: str, params: dict[str, str], loc: list[str]
) -> None:
    """Half a window, a window over 7 days or reversed, bad enums and bad UUIDs are 422s located on the parameter."""
    response = client.get(f"/{resource}", params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [loc]
    assert {"type", "msg", "loc"} <= set(detail[0])


def test_a_window_of_exactly_seven_days_is_accepted(client: httpx.Client) -> None:
    """The 7-day limit is inclusive."""
    params = {"time_from": "2025-04-24T12:00:00+00:00", "time_to": "2025-05-01T12:00:00+00:00"}
    assert client.get("/task_runs", params=params).status_code == 200


def test_unknown_paths_and_methods_answer_like_fastapi(client: httpx.Client) -> None:
    """Unknown paths are 404 and other methods 405, both with a detail string."""
    assert client.get("/pipelines_runs").json() == {"detail": "Not Found"}
    response = client.post("/task_runs")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}


def test_an_empty_workspace_answers_empty_pages(make_emulator: EmulatorFactory) -> None:
    """With no history every listing is empty, total 0."""
    emulator = make_emulator(volume=Volume(task_runs=0))
    with client_for(emulator) as client:
        for resource in RESOURCES:
            assert client.get(f"/{resource}").json() == {"page": 1, "pageSize": 50, "total": 0, "results": []}


@pytest.mark.parametrize("resource", RESOURCES)
def test_results_are_newest_first(client: httpx.Client, resource: str) -> None:
    """Runs come newest createdAt first; operations follow their task runs' order."""
    records = fetch_all(client, resource)
    if resource == "operations":
        week = {"time_from": (NOW - timedelta(days=7)).isoformat(), "time_to": NOW.isoformat()}  # as operations'
        task_order = {r["id"]: n for n, r in enumerate(fetch_all(client, "task_runs", **week))}
        positions = [task_order[r["taskRunId"]] for r in records]
        assert positions == sorted(positions)
    else:
        created = [r["createdAt"] for r in records]
        assert created == sorted(created, reverse=True)


def test_assets_validate_against_the_spec_and_hold_every_operations_asset(
    client: httpx.Client, spec: dict[str, Any]
) -> None:
    """Every page of /assets validates; each operation's assetExternalId is an asset; dependencies point both ways."""
    schema = {"$ref": "#/components/schemas/PaginatedResponse_AssetResponse_", "components": spec["components"]}
    validator = Draft202012Validator(schema)
    first = client.get("/assets").json()
    assert first["pageSize"] == 50
    assets: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get("/assets", params={"page": page, "page_size": 7}).json()
        errors = sorted(validator.iter_errors(body), key=str)
        assert not errors, errors[0]
        assets += body["results"]
        if page * 7 >= body["total"]:
            break
        page += 1
    by_id = {a["assetId"]: a for a in assets}
    assert len(by_id) == len(assets) == first["total"] > 0
    assert all(uuid.UUID(a["assetId"]).version == 4 for a in assets)
    week = {"time_from": (NOW - timedelta(days=7)).isoformat(), "time_to": NOW.isoformat()}
    used = {op["assetExternalId"] for op in fetch_all(client, "operations", **week) if op["assetExternalId"]}
    assert used <= {a["externalId"] for a in assets}
    assert any(a["upstreamDependencies"] for a in assets)
    for asset in assets:
        assert asset["freshnessConfig"]["maxAgeHours"] > 0
        for upstream in asset["upstreamDependencies"]:
            assert asset["assetId"] in by_id[upstream]["downstreamDependencies"]


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"sort_column": "asset_name", "sort_direction": "asc"}, lambda r: r["assetName"]),
        ({"sort_column": "created_in_integration"}, lambda r: r["createdInIntegration"]),
    ],
)
def test_assets_sort_as_asked(client: httpx.Client, params: dict[str, str], check: Any) -> None:
    """sort_column and sort_direction order the listing (newest created_in_integration first by default)."""
    results = client.get("/assets", params={**params, "page_size": 100}).json()["results"]
    keys = [check(r) for r in results]
    assert keys == sorted(keys, reverse=params.get("sort_direction", "desc") == "desc")


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"sort_column": "size"}, ["query", "sort_column"]),
        ({"sort_direction": "up"}, ["query", "sort_direction"]),
        ({"asset_type": "TABLE,SHEET"}, ["query", "asset_type"]),
        ({"page_size": "101"}, ["query", "page_size"]),
        ({"page": "0"}, ["query", "page"]),
    ],
)
def test_bad_asset_queries_get_422(client: httpx.Client, params: dict[str, str], loc: list[str]) -> None:
    """An unknown sort, type or an out-of-range page is answered 422 naming the parameter."""
    response = client.get("/assets", params=params)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["detail"]] == [loc]
