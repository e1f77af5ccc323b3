"""The settings of TRANSFORM, CHECK and FIVETRAN_THEN_TRANSFORM: every row read as a flag and as a variable, and
every bad input exit 2 naming it, before any request (the real command against the emulator over a socket)."""

from __future__ import annotations

import io

import pytest

from eltops.cli._app import run_command
from eltops.cli._output import CiKind, Output
from eltops.errors import ConfigError
from eltops.fivetran import ACTION_SETTINGS, FlagValues, load_settings
from tests.fivetran.conftest import Served

BASE = {"FIVETRAN_API_KEY": "k", "FIVETRAN_API_SECRET": "s"}
ROWS = {row.name: row for row in ACTION_SETTINGS}


def _env_for(action: str) -> dict[str, str]:
    if action == "TRANSFORM":
        return {**BASE, "FIVETRAN_ACTION": "TRANSFORM", "TRANSFORMATION_ID": "t1"}
    return {**BASE, "FIVETRAN_ACTION": action, "CONNECTOR_ID": "good"}


GOOD = {
    "transformation_ids": ("t1, t2,t1", ("t1", "t2")),
    "then_transform": ("t1", ("t1",)),
    "full_refresh": ("true", True),
    "allow_partial": ("yes", True),
    "max_age": ("1h30m", 5400.0),
    "wait_until_fresh": ("1", True),
}
BAD = {
    "transformation_ids": "t1,,t2",
    "then_transform": " , ",
    "full_refresh": "maybe",
    "allow_partial": "sometimes",
    "max_age": "soon",
    "wait_until_fresh": "perhaps",
}


def test_every_row_has_its_cases() -> None:
    """A new row of the table needs a good and a bad value here."""
    assert set(GOOD) == set(BAD) == set(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_each_row_reads_its_variable_and_its_flag(name: str) -> None:
    """The variable is parsed; the flag beats it; the value lands in settings.more."""
    row = ROWS[name]
    action = row.actions[0]
    text, value = GOOD[name]
    env = _env_for(action)
    extra = (
        {"FIVETRAN_THEN_TRANSFORM": "t1"} if name in ("full_refresh", "allow_partial") and action != "TRANSFORM" else {}
    )
    from_variable = load_settings({**env, **extra, row.variable: text}, FlagValues())
    assert getattr(from_variable.more, name) == value
    flag_value: str | bool = True if row.switch else text
    from_flag = load_settings({**env, **extra}, FlagValues(action_flags={name: flag_value}))
    assert getattr(from_flag.more, name) == value


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_bad_value_names_its_variable(name: str) -> None:
    """A value that cannot be read is a ConfigError naming the variable."""
    row = ROWS[name]
    with pytest.raises(ConfigError, match=row.variable):
        load_settings({**_env_for(row.actions[0]), row.variable: BAD[name]}, FlagValues())


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_setting_for_another_action_is_refused(name: str) -> None:
    """Each setting given to an action it does not apply to is refused, naming where it applies."""
    row = ROWS[name]
    other = next(a for a in ("STATUS", "TEST", "CHECK", "START") if a not in row.actions)
    with pytest.raises(ConfigError, match=f"{row.variable} only applies to"):
        load_settings({**_env_for(other), row.variable: GOOD[name][0]}, FlagValues())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FIVETRAN_ACTION": "TRANSFORM"}, "TRANSFORM needs TRANSFORMATION_ID"),
        ({"FIVETRAN_ACTION": "TRANSFORM", "TRANSFORMATION_ID": "t", "CONNECTOR_ID": "c"}, "leave CONNECTOR_ID unset"),
        (
            {"FIVETRAN_ACTION": "START", "CONNECTOR_ID": "c", "FIVETRAN_THEN_TRANSFORM": "t", "FIVETRAN_WAIT": "false"},
            "cannot run with FIVETRAN_WAIT=false",
        ),
        (
            {"FIVETRAN_ACTION": "START", "CONNECTOR_ID": "c", "FIVETRAN_FULL_REFRESH": "1"},
            "FIVETRAN_FULL_REFRESH applies",
        ),
        ({"FIVETRAN_ACTION": "CHECK"}, "CONNECTOR_ID is required"),
        ({"FIVETRAN_ACTION": "CHECK", "CONNECTOR_ID": "c", "FIVETRAN_MAX_AGE": "-2h"}, "FIVETRAN_MAX_AGE must be"),
    ],
)
def test_combinations_that_cannot_work_are_refused(env: dict[str, str], message: str) -> None:
    """Settings that contradict each other are refused with what to do."""
    with pytest.raises(ConfigError, match=message):
        load_settings({**BASE, **env}, FlagValues())


def test_a_switch_set_false_for_another_action_is_harmless() -> None:
    """FIVETRAN_FULL_REFRESH=0 left in a pipeline's variables does not stop a STATUS job."""
    settings = load_settings({**_env_for("STATUS"), "FIVETRAN_FULL_REFRESH": "0"}, FlagValues())
    assert settings.more.full_refresh is False


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["fivetran", "transform"], {}),
        (["fivetran", "transform", "--transformation-id", "a,,b"], {}),
        (["fivetran", "transform", "--transformation-id", "t1", "--max-age", "2h"], {}),
        (["fivetran", "start", "--then-transform", " ,"], {"CONNECTOR_ID": "good"}),
        (["fivetran", "start", "--full-refresh"], {"CONNECTOR_ID": "good"}),
        (["fivetran", "transform", "--transformation-id", "t1"], {"FIVETRAN_ALLOW_PARTIAL": "half"}),
        (["fivetran", "check", "--max-age", "a while"], {"CONNECTOR_ID": "good"}),
        (["fivetran", "check"], {"CONNECTOR_ID": "good", "FIVETRAN_WAIT_UNTIL_FRESH": "please"}),
        (["fivetran", "start", "--wait-until-fresh"], {"CONNECTOR_ID": "good"}),
    ],
)
def test_bad_input_is_exit_2_before_any_request(served: Served, args: list[str], env: dict[str, str]) -> None:
    """The command refuses bad input of the new settings with exit 2 and sends the emulator nothing."""
    base = {k: v for k, v in served.env().items() if k not in ("FIVETRAN_ACTION", "CONNECTOR_ID")}
    stderr = io.StringIO()
    output = Output(CiKind.NONE, colour=False, stdout=io.StringIO(), stderr=stderr)
    code = run_command(args, env={**base, **env}, output=output)
    assert code == 2, stderr.getvalue()
    assert "Error" in stderr.getvalue()
    assert served.emulator.requests == []
