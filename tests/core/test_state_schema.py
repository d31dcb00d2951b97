"""The replay state names its layout: a state another version wrote is said to be that, a state with
a field of the wrong shape is named as damaged, and neither ever ends in a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from repo_checks import snapshot, state_file
from support.worlds import Cli

from release.demo.sandbox import World
from release.rebase.state import SCHEMA


def _stopped(world: World, cli: Cli) -> dict[str, Any]:
    assert cli(world, "rebase", "0.13.0").code == 3
    data: dict[str, Any] = json.loads(state_file(world).read_text(encoding="utf-8"))
    assert data["schema"] == SCHEMA  # written with every save
    return data


def test_a_state_another_version_wrote_is_named_and_nothing_moves(world: World, cli: Cli) -> None:
    data = _stopped(world, cli)
    # a later layout: a field renamed, the number raised
    data["schema"] = SCHEMA + 1
    data["plan"] = data.pop("steps")
    state_file(world).write_text(json.dumps(data), encoding="utf-8")
    before = snapshot(world.fork)

    for command in ("continue", "skip", "abort", "status"):
        result = cli(world, command, json_output=True)
        assert result.code == 2, (command, result.err)
        assert (f"{state_file(world)} is not a readable replay state: it has schema {SCHEMA + 1}, and this "
                f"version of ellm-release reads schema {SCHEMA} only (it was written by a newer ellm-release)"
                ) in result.err
        assert "internal error" not in result.err and "Traceback" not in result.text
        assert json.loads(result.out)["hints"][0].startswith("finish the rebase with the version that started it")
    assert snapshot(world.fork) == before


def test_a_state_written_before_the_layout_number_goes_on(world: World, cli: Cli,
                                                          resolve_conflict: Callable[[World], None]) -> None:
    data = _stopped(world, cli)
    del data["schema"]
    state_file(world).write_text(json.dumps(data), encoding="utf-8")
    resolve_conflict(world)

    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    assert json.loads(done.out)["state"] == "complete"


@pytest.mark.parametrize("field, value", [
    ("results", {"0" * 40: {"new": None, "outcome": "vanished"}}),
    ("results", {"0" * 40: {"new": 7, "outcome": "clean"}}),
    ("results", {"0" * 40: "clean"}),
    ("steps", [{"patch_id": 1, "commit": "abc"}]),
    ("notes", {"serve-controller-capacity": ["a", "list"]}),
    ("rerere_before", {"enabled": True}),
    ("position", True),
    ("phase", "resolving"),
])
def test_a_field_of_the_wrong_shape_is_damage_not_a_traceback(world: World, cli: Cli, field: str,
                                                              value: object) -> None:
    data = _stopped(world, cli)
    data[field] = value
    state_file(world).write_text(json.dumps(data), encoding="utf-8")

    for command in ("continue", "abort"):
        result = cli(world, command, json_output=True)
        assert result.code == 2, (command, result.err)
        assert f"the replay state {state_file(world)} is damaged" in result.err
        assert "internal error" not in result.err and "Traceback" not in result.text


def test_a_schema_that_is_no_number_is_named(world: World, cli: Cli) -> None:
    data = _stopped(world, cli)
    data["schema"] = "1"
    state_file(world).write_text(json.dumps(data), encoding="utf-8")

    result = cli(world, "continue", json_output=True)

    assert result.code == 2
    assert f"{state_file(world)} is not a readable replay state: its schema is '1', not a number" in result.err
