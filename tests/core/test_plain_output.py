"""Where no colour can show (a pipe, a file, a CI log) text goes out as it is, without loading Rich;
on a terminal, or with colour forced, the same text comes styled."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
from support.cli import child_env
from support.worlds import WorldFactory

from release.cli.output import Options, Styled, styles_show
from release.demo.sandbox import World

# A fresh interpreter runs the command line and reports, at exit, whether Rich was loaded.
REPORT_RICH = ("import atexit, json, sys\n"
               "atexit.register(lambda: sys.stderr.write('\\nRICH ' + json.dumps('rich' in sys.modules)))\n"
               "from release.cli.app import main\n"
               "main(sys.argv[1:])\n")
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _rebase_in_a_child(world: World, **env: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    done = subprocess.run([sys.executable, "-P", "-c", REPORT_RICH, "--repo", str(world.fork), "--manifest",
                           str(world.manifest_path), "rebase", "0.13.0"],
                          cwd=world.root, env=child_env(**env), capture_output=True, text=True, check=False)
    return done, json.loads(done.stderr.rsplit("RICH ", 1)[1])


def _table_rows(out: str) -> list[str]:
    """The patch ids of the summary table, in order."""
    return [line.split("│")[2].strip() for line in out.splitlines()
            if line.startswith("│") and line.split("│")[1].strip().isdigit()]


def test_a_rebase_into_a_pipe_prints_its_table_without_rich(clean_world: World) -> None:
    done, rich_loaded = _rebase_in_a_child(clean_world, FORCE_COLOR="", TTY_COMPATIBLE="")
    assert done.returncode == 0, done.stderr
    assert not rich_loaded
    assert "\x1b[" not in done.stdout
    rows = _table_rows(done.stdout)
    assert rows and "serve-controller-capacity" in rows
    assert "┏" in done.stdout and "(complete)" in done.stdout


def test_forced_colour_styles_the_same_table(clean_world: World, make_world: WorldFactory) -> None:
    plain, _ = _rebase_in_a_child(clean_world, FORCE_COLOR="", TTY_COMPATIBLE="")
    styled, rich_loaded = _rebase_in_a_child(make_world(conflict=False, upstreamed=False), FORCE_COLOR="1")
    assert styled.returncode == 0, styled.stderr
    assert rich_loaded
    assert ESCAPE.search(styled.stdout)
    assert _table_rows(ESCAPE.sub("", styled.stdout)) == _table_rows(plain.stdout)


@pytest.mark.parametrize(("environment", "terminal", "shows"), [
    ({}, False, False),
    ({}, True, True),
    ({"FORCE_COLOR": "1"}, False, True),
    ({"FORCE_COLOR": ""}, True, False),
    ({"TTY_COMPATIBLE": "1", "FORCE_COLOR": ""}, False, True),
    ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, True, False),
])
def test_styles_show_where_rich_would_style(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str],
                                            terminal: bool, shows: bool) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return terminal

    assert styles_show(Stream()) is shows


def test_plain_text_is_redacted_and_keeps_out_what_rich_keeps_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    table = Styled()
    table.append("[bold]", style="red")
    table.append(" row")
    Options().say("fetched https://user:s3cret@example.com/fork.git\r\x07 done", table, style="green")
    assert out.getvalue() == "fetched https://***@example.com/fork.git done [bold] row\n"
    assert "s3cret" not in out.getvalue()


def test_styled_text_is_rich_text_on_a_terminal() -> None:
    from rich.console import Console

    table = Styled()
    table.append("outcome ")
    table.append("clean", style="green")
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="standard").print(table)
    assert ESCAPE.sub("", buffer.getvalue()) == "outcome clean\n"
    assert "\x1b[32mclean" in buffer.getvalue()


def test_the_table_width_is_the_logs_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert Options().width == 150
