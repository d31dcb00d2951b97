"""Every command, down to the smallest subcommand, explains itself with an example."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from support.cli import run_cli

from release.cli import registry
from release.cli.app import cli
from release.cli.examples import examples_of
from release.cli.output import Options


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


def _command(path: tuple[str, ...]) -> click.Command:
    ctx = click.Context(cli)
    command: click.Command | None = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(ctx, name)
    assert command is not None
    return command


def test_the_tree_holds_every_command_of_the_release_loop() -> None:
    top = {path[0] for path in ALL_COMMANDS}
    assert top == set(registry.NAMES)
    assert {"status", "sync", "rebase", "continue", "skip", "abort", "readme", "build", "promote", "image",
            "deploy", "smoke", "upstream", "report", "pr", "notify", "demo"} <= top


@pytest.mark.parametrize("path", [(), *ALL_COMMANDS], ids=lambda path: " ".join(path) or "ellm-release")
def test_help_shows_its_examples(path: tuple[str, ...]) -> None:
    lines = examples_of(_command(path))
    assert lines, f"`ellm-release {' '.join(path)}` has no @examples"
    assert all("ellm-release" in line for line in lines)
    result = run_cli(*path, "--help")
    assert result.code == 0, result.text
    shown = [text.strip() for text in result.out.split("Example", 1)[1].splitlines()]
    assert all(line in shown for line in lines), result.text


@pytest.mark.parametrize("entry", registry.REGISTRY, ids=lambda entry: entry.name)
def test_the_listing_says_what_the_command_itself_says(entry: registry.Entry) -> None:
    command = cli.get_command(click.Context(cli), entry.name)
    assert command is not None
    assert entry.summary == command.get_short_help_str(limit=1000)


# Runs the CLI in a fresh interpreter and prints, at exit, every module it had loaded.
REPORT_MODULES = ("import atexit, json, sys\n"
                  "atexit.register(lambda: sys.stderr.write('MODULES ' + json.dumps(sorted(sys.modules))))\n"
                  "from release.cli.app import main\n"
                  "main(sys.argv[1:])\n")
HEAVY = ("rich", "git", "gitdb", "yaml", "ruamel", "jinja2", "requests", "docker", "github")


def _run_reporting_modules(cwd: Path, *args: str) -> tuple[str, set[str]]:
    done = subprocess.run([sys.executable, "-P", "-c", REPORT_MODULES, *args], cwd=cwd, capture_output=True,
                          text=True, check=True)
    return done.stdout, set(json.loads(done.stderr.rsplit("MODULES ", 1)[1]))


def test_help_lists_every_command_without_loading_any(tmp_path: Path) -> None:
    out, loaded = _run_reporting_modules(tmp_path, "--help")
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith("release.cli.commands."))
    assert heavy == [], "--help should load click and the CLI module, nothing of the commands"
    listed = [line.split()[0] for line in out.split("Commands:", 1)[1].split("Examples:")[0].splitlines()
              if line.strip()]
    assert listed == list(registry.NAMES)
    assert "Fast-forward the fork's master" in out


def test_a_command_loads_only_its_own_module(tmp_path: Path) -> None:
    out, loaded = _run_reporting_modules(tmp_path, "status", "--help")
    assert "Example" in out
    assert {m for m in loaded if m.startswith("release.cli.commands.")} == {"release.cli.commands.core"}
    assert not {m for m in loaded if m.split(".")[0] in ("docker", "requests", "github", "jinja2")}


# --- every example in every --help is a command line the tool accepts ------------------------------

def _examples(command: click.Command) -> list[list[str]]:
    """The `ellm-release ...` command lines of a command's examples, as argument lists. An example
    line may chain commands (`&&`, `|`) and end with a comment or a description after two spaces."""
    found = []
    for line in examples_of(command):
        for part in re.split(r"&&|\|\||\||;", line):
            part = re.split(r"\s{2,}|\s#", part.strip(), maxsplit=1)[0]
            if part.startswith("ellm-release "):
                found.append(shlex.split(part)[1:])
    return found


def _parse(args: list[str]) -> None:
    """Parse a command line down to its last subcommand, as running it would, without running it."""
    ctx = cli.make_context("ellm-release", list(args), obj=Options())
    group: click.Group = cli
    while True:
        name, command, rest = group.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert command is not None and name is not None
        ctx = command.make_context(name, rest, parent=ctx)
        if not isinstance(command, click.Group):
            return
        group = command


HELP_EXAMPLES = sorted({(" ".join(path), shlex.join(example))
                        for path in [(), *ALL_COMMANDS]
                        for example in _examples(_command(path))})


def test_every_help_has_examples_to_check() -> None:
    assert len(HELP_EXAMPLES) > len(ALL_COMMANDS)


@pytest.mark.parametrize(("where", "example"), HELP_EXAMPLES)
def test_every_help_example_parses(where: str, example: str) -> None:
    try:
        _parse(shlex.split(example))
    except click.ClickException as exc:
        pytest.fail(f"`ellm-release {where} --help` shows `ellm-release {example}`, which fails: "
                    f"{exc.format_message()}")


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_says_what_it_does(path: tuple[str, ...]) -> None:
    """The listing of a group names each subcommand with a sentence, not a bare name."""
    command = _command(path)
    assert command.get_short_help_str(limit=1000).strip(), f"`ellm-release {' '.join(path)}` has no description"
