"""Scenario files: the groups and connections (with their scripts) an emulator starts with, as YAML or JSON.

::

    groups:
      - id: warehouse                # required
        name: Warehouse
        destination:                 # optional: GET /v1/destinations/warehouse (default: a Snowflake one)
          service: postgres_warehouse
          config: {host: warehouse.internal, port: 5432, database: analytics}
    connections:
      - id: shop_postgres            # required
        group_id: warehouse          # required, a group declared above
        schema: shop_db              # required: the connection's human name
        service: postgres            # every other key is optional, with add_connection's defaults
        schedule_type: manual
        paused: false
        setup_state: connected       # connected | broken | incomplete
        schedule: {schedule_type: CRON, cron: ["0 */2 * * *"]}   # a flexible schedule (or INTERVAL, TIME_OF_DAY)
        daily_sync_time: "03:00"     # with sync_frequency 1440
        data_delay_sensitivity: CUSTOM
        data_delay_threshold: 90     # minutes, with CUSTOM
        succeeded_at: 2024-12-01T15:43:29.013729Z
        failed_at: null
        sync_frequency: 360
        config: {host: db.internal, password: hunter2}
        tables: {public: [orders, customers]}
        script:                      # every key optional, as in ConnectionScript
          queue_seconds: 2
          sync_seconds: 10
          outcome: success
          reschedules: 0
          reschedule_wait_seconds: 5
          setup_tests: [{title: Connecting to host, status: PASSED, message: "", details: null}]
          repair_on_test: false
          failures: [{status: 429, count: 2, retry_after: 1, method: POST, path_contains: /sync}]
          latency_seconds: 0
          resync_conflict: false
          failure_reason: "Source credentials expired"      # a failed sync's reason in the sync history
          errors: [{type: reconnect, title: Reconnect, reason: "Token expired", message: "Re-authorize it."}]
          # faulty answers (see ConnectionScript):
          #   setup_tests: [{title: "Auth\x1b[31m", status: FAILED, message: "key {api_key} refused"}]
          #   failures: [{status: 401, message: "bad credentials {api_key}:{api_secret} ({basic_auth})"}]
          zoneless_timestamps: [succeeded_at]       # 2024-12-01T15:43:29, no zone
          overrides: {paused: "false", status.is_historical_sync: "no"}
          # a connection whose data is late: overrides: {status.update_state: delayed}
    transformations:                 # optional (see emulator._transformations)
      - id: shop_marts               # required
        group_id: warehouse          # required
        name: shop_marts
        type: DBT_CORE               # DBT_CORE | QUICKSTART
        schedule_type: INTEGRATED    # INTEGRATED (runs after, and holds, syncs of connection_ids) | INTERVAL | ...
        connection_ids: [shop_postgres]
        output_model_names: [orders_daily, customers]
        status: SUCCEEDED            # its last run, with last_started_at / last_ended_at (NEW: never ran)
        script: {queue_seconds: 1, run_seconds: 10, outcome: SUCCEEDED, cancel_seconds: 1}
                                     # outcome: SUCCEEDED | FAILED | PARTIALLY_SUCCEEDED | BLOCKED | CANCELED;
                                     # run_seconds: null never ends by itself
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eltops.errors import ConfigError
from eltops.fivetran.emulator._script import ActiveError, ConnectionScript, FailureBurst, SetupTest
from eltops.fivetran.emulator._transformations import TransformationScript

if TYPE_CHECKING:
    from eltops.fivetran.emulator._emulator import FivetranEmulator

_GROUP_KEYS = {"id", "name", "created_at", "destination"}
_CONNECTION_KEYS = {
    "id",
    "group_id",
    "schema",
    "service",
    "schedule_type",
    "paused",
    "setup_state",
    "succeeded_at",
    "failed_at",
    "sync_frequency",
    "config",
    "tables",
    "script",
    "created_at",
    "schedule",
    "daily_sync_time",
    "data_delay_sensitivity",
    "data_delay_threshold",
}
_TRANSFORMATION_KEYS = {
    "id",
    "group_id",
    "name",
    "type",
    "schedule_type",
    "connection_ids",
    "paused",
    "output_model_names",
    "script",
    "status",
    "last_started_at",
    "last_ended_at",
    "created_at",
}

DEMO_SCENARIO: dict[str, Any] = {
    "groups": [{"id": "demo_warehouse", "name": "Demo Warehouse"}],
    "connections": [
        {
            "id": "demo_shop",
            "group_id": "demo_warehouse",
            "schema": "shop_db",
            "service": "postgres",
            "schedule_type": "auto",
            "schedule": {"schedule_type": "CRON", "cron": ["0 */2 * * *"]},
            "succeeded_at": "2024-12-01T15:43:29.013729Z",
            "tables": {"public": ["orders", "customers", "products"]},
            "script": {"queue_seconds": 2, "sync_seconds": 8, "outcome": "success"},
        },
        {
            "id": "demo_crm",
            "group_id": "demo_warehouse",
            "schema": "crm",
            "service": "salesforce",
            "schedule_type": "manual",
            "failed_at": "2024-12-01T16:02:11.500000Z",
            "tables": {"salesforce": ["account", "contact", "opportunity"]},
            "script": {
                "queue_seconds": 1,
                "sync_seconds": 5,
                "outcome": "failure",
                "failure_reason": "Salesforce rejected the connection's OAuth token (INVALID_SESSION_ID)",
                "errors": [
                    {
                        "type": "reconnect",
                        "title": "Reconnect Salesforce",
                        "reason": "The OAuth token has expired or was revoked",
                        "message": "Re-authorize the connection in Fivetran: open its Setup tab and click "
                        "Reconnect, signing in as a Salesforce user with API access.",
                    }
                ],
            },
        },
        {
            "id": "demo_billing",
            "group_id": "demo_warehouse",
            "schema": "billing_db",
            "service": "mysql",
            "schedule_type": "manual",
            "setup_state": "broken",
            "tables": {"billing": ["invoices", "payments"]},
            "script": {
                "sync_seconds": 4,
                "repair_on_test": True,
                "errors": [
                    {
                        "type": "reconnect",
                        "title": "Cannot read the binlog",
                        "reason": "The MySQL user lost its REPLICATION CLIENT grant",
                        "message": "Grant REPLICATION CLIENT and REPLICATION SLAVE to the Fivetran user, then run "
                        "the setup tests.",
                    }
                ],
                "setup_tests": [
                    {"title": "Connecting to SSH tunnel", "status": "PASSED", "message": ""},
                    {"title": "Connecting to database", "status": "PASSED", "message": ""},
                    {
                        "title": "Validating binlog retention",
                        "status": "WARNING",
                        "message": "Binlog retention is shorter than 7 days",
                        "details": {"binlog_retention_hours": 24},
                    },
                ],
            },
        },
        {
            "id": "demo_ads",
            "group_id": "demo_warehouse",
            "schema": "google_ads",
            "service": "google_ads",
            "schedule_type": "manual",
            "script": {"sync_seconds": 6, "reschedules": 1, "reschedule_wait_seconds": 15},
        },
        {
            "id": "demo_paused",
            "group_id": "demo_warehouse",
            "schema": "legacy_erp",
            "service": "sql_server",
            "paused": True,
        },
    ],
    "transformations": [
        {
            "id": "demo_marts",
            "group_id": "demo_warehouse",
            "name": "shop_marts",
            "output_model_names": ["orders_daily", "customer_ltv"],
            "status": "SUCCEEDED",
            "last_started_at": "2024-12-01T16:00:00.000000Z",
            "last_ended_at": "2024-12-01T16:04:10.000000Z",
            "script": {"queue_seconds": 1, "run_seconds": 6, "outcome": "SUCCEEDED"},
        },
        {
            "id": "demo_finance",
            "group_id": "demo_warehouse",
            "name": "finance_marts",
            "output_model_names": ["revenue", "invoices_open"],
            "script": {"queue_seconds": 1, "run_seconds": 4, "outcome": "FAILED"},
        },
        {
            "id": "demo_ads_report",
            "group_id": "demo_warehouse",
            "name": "ad_reporting",
            "type": "QUICKSTART",
            "output_model_names": ["ad_reporting__campaign_report", "ad_reporting__ad_report"],
            "script": {"run_seconds": 3, "outcome": "PARTIALLY_SUCCEEDED"},
        },
        {
            "id": "demo_crm_models",
            "group_id": "demo_warehouse",
            "name": "crm_models",
            "schedule_type": "INTEGRATED",
            "connection_ids": ["demo_crm"],
            "output_model_names": ["accounts", "pipeline"],
            "script": {"run_seconds": 5},
        },
    ],
}


def read_scenario_file(path: Path) -> Mapping[str, Any]:
    """Parse a scenario file: JSON when it ends in ``.json``, YAML otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the scenario file {path}: {exc.strerror}") from None
    try:
        import yaml  # a scenario file is the only YAML the emulator reads

        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"the scenario file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"the scenario file {path} must hold a mapping with 'groups' and 'connections'")
    return data


def apply_scenario(emulator: FivetranEmulator, data: Mapping[str, Any], *, origin: str) -> None:
    """Add the scenario's groups, then its connections, to ``emulator``; ConfigError on any mistake."""
    _check_keys(data, {"groups", "connections", "transformations"}, where=origin)
    for index, group in enumerate(_list(data, "groups", where=origin)):
        where = f"{origin}: groups[{index}]"
        group = _mapping(group, where=where)
        _check_keys(group, _GROUP_KEYS, where=where, required={"id"})
        _call(
            where,
            emulator.add_group,
            str(group["id"]),
            name=group.get("name"),
            created_at=group.get("created_at"),
            destination=group.get("destination"),
        )
    for index, connection in enumerate(_list(data, "connections", where=origin)):
        where = f"{origin}: connections[{index}]"
        connection = dict(_mapping(connection, where=where))
        _check_keys(connection, _CONNECTION_KEYS, where=where, required={"id", "group_id", "schema"})
        where = f"{origin}: connection {connection['id']!r}"
        if "script" in connection:
            connection["script"] = _script(connection["script"], where=f"{where}: script")
        connection_id = str(connection.pop("id"))
        _call(where, emulator.add_connection, connection_id, **connection)
    for index, transformation in enumerate(_list(data, "transformations", where=origin)):
        where = f"{origin}: transformations[{index}]"
        transformation = dict(_mapping(transformation, where=where))
        _check_keys(transformation, _TRANSFORMATION_KEYS, where=where, required={"id", "group_id"})
        where = f"{origin}: transformation {transformation['id']!r}"
        if "script" in transformation:
            fields = _mapping(transformation["script"], where=f"{where}: script")
            transformation["script"] = _call(f"{where}: script", TransformationScript, **fields)
        for key in ("connection_ids", "output_model_names"):
            if key in transformation and not isinstance(transformation[key], list):
                raise ConfigError(f"{where}: {key} must be a list")
        transformation_id = str(transformation.pop("id"))
        _call(where, emulator.add_transformation, transformation_id, **transformation)


def _script(raw: Any, *, where: str) -> ConnectionScript:
    fields = dict(_mapping(raw, where=where))
    if "setup_tests" in fields:
        tests = fields["setup_tests"]
        if not isinstance(tests, list):
            raise ConfigError(f"{where}: setup_tests must be a list")
        fields["setup_tests"] = tuple(
            _call(f"{where}: setup_tests[{i}]", SetupTest, **_mapping(test, where=where))
            for i, test in enumerate(tests)
        )
    if "errors" in fields:
        errors = fields["errors"]
        if not isinstance(errors, list):
            raise ConfigError(f"{where}: errors must be a list")
        fields["errors"] = tuple(
            _call(f"{where}: errors[{i}]", ActiveError, **_mapping(error, where=where))
            for i, error in enumerate(errors)
        )
    if "failures" in fields:
        bursts = fields["failures"]
        if not isinstance(bursts, list):
            raise ConfigError(f"{where}: failures must be a list")
        fields["failures"] = tuple(
            _call(f"{where}: failures[{i}]", FailureBurst, **_mapping(burst, where=where))
            for i, burst in enumerate(bursts)
        )
    script: ConnectionScript = _call(where, ConnectionScript, **fields)
    return script


def _call(where: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` and turn the TypeError/ValueError of a bad field into a ConfigError naming the place."""
    try:
        return func(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _list(data: Mapping[str, Any], key: str, *, where: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: '{key}' must be a list")
    return value


def _mapping(value: Any, *, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _check_keys(
    data: Mapping[str, Any], allowed: set[str], *, where: str, required: frozenset[str] | set[str] = frozenset()
) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(allowed))}")
    missing = sorted(set(required) - set(data))
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
