"""Every command, down to the smallest subcommand, explains itself with an example."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from release.cli import COMMAND_MODULES, cli


def _walk(group: click.Group, ctx: click.Context, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{' '.join((*prefix, name))} is listed but cannot be loaded"
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += _walk(command, ctx, (*prefix, name))
    return paths


ALL_COMMANDS = _walk(cli, click.Context(cli), ())


def test_the_tree_holds_every_command_of_the_release_loop() -> None:
    top = {path[0] for path in ALL_COMMANDS}
    assert top == set(COMMAND_MODULES)
    assert {"status", "sync", "rebase", "continue", "skip", "abort", "readme", "build", "promote", "image",
            "deploy", "smoke", "upstream", "report", "pr", "notify", "demo"} <= top


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_help_shows_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`ellm-release {' '.join(path)} --help` has no example"
    assert "ellm-release" in result.output.split("Example", 1)[1]
