"""Every `ellm-release smoke ... --help` example names options and choices that exist."""

from __future__ import annotations

import shlex

import click
import pytest
from gpu_captures import H100
from support.cli import run_cli

from release.cli.commands.smoke import smoke
from release.cli.examples import examples_of


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = smoke
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    return cmd


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in sorted(group.commands.items()):
        found += _paths(sub, (*prefix, name)) if isinstance(sub, click.Group) else [(*prefix, name)]
    return found


@pytest.mark.parametrize("path", _paths(smoke), ids=lambda p: " ".join(p) or "smoke")
def test_example_parses(path):
    lines = examples_of(_command(path))
    assert lines, f"`ellm-release smoke {' '.join(path)}` has no example"
    for line in lines:
        example = line.split("|")[0].split("&&")[-1]
        words = shlex.split(example)
        assert words[:2] == ["ellm-release", "smoke"]
        args = words[2:]
        cmd: click.Command = smoke
        while isinstance(cmd, click.Group) and args and args[0] in cmd.commands:
            cmd = cmd.commands[args.pop(0)]
        cmd.make_context(" ".join(words[:2]), args)  # raises on an unknown option or a bad choice


def test_the_smi_example_runs_on_real_h100_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smi.csv").write_text((H100 / "nvidia-smi-query.csv").read_text())
    [example] = examples_of(_command(("check", "smi")))
    words = shlex.split(example)[2:]
    words[words.index("--expected-count") + 1] = "1"  # the fixture is a one-GPU host
    res = run_cli("smoke", *words)
    assert res.code == 0, res.text
    assert "PASS gpu.present" in res.text and "NVIDIA H100 80GB HBM3" in res.text
    assert "--format nvidia-csv" in run_cli("smoke", "check", "smi", "--help").out
