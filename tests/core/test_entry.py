"""A real `ellm-release` process starts in `release.cli.entry`: the console script, `python -m
release`, and what the entry sets up before the command line loads."""

from __future__ import annotations

import gc
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from release import __version__
from release.cli import app, entry

ROOT = Path(__file__).resolve().parents[2]


def test_the_console_script_starts_in_the_entry() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert declared == {"ellm-release": "release.cli.entry:main"}
    script = Path(sys.executable).with_name("ellm-release")  # the one the virtualenv's users run
    assert "from release.cli.entry import main" in script.read_text(encoding="utf-8"), \
        "the virtualenv's script is stale: rerun scripts/setup.sh"


def test_python_dash_m_release_runs_the_same_command_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-P", "-m", "release", "--version"], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert __version__ in done.stdout


def test_the_command_line_runs_without_the_cycle_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    monkeypatch.setattr(app, "main", lambda: seen.append(gc.isenabled()))
    try:
        entry.main()
    finally:
        gc.enable()
    assert seen == [False]


def test_a_whole_replay_leaves_little_for_the_cycle_collector(tmp_path: Path) -> None:
    # what a process without the collector keeps: the objects a rebase leaves in reference cycles
    script = ("import atexit, gc, sys\n"
              "gc.disable()\n"
              "atexit.register(lambda: sys.stderr.write(f'CYCLIC {gc.collect()}'))\n"
              "from release.cli.entry import main\n"
              "sys.argv = ['ellm-release', 'demo', '--no-images', '--workdir', sys.argv[1]]\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-P", "-c", script, str(tmp_path / "demo")], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stderr.rsplit("CYCLIC ", 1)[1]) < 20_000
