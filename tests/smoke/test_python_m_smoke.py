"""`python -m release.smoke` and `ellm-release smoke` are one command line: the same sentence and
hints on stderr, the same exit codes, the same --json document."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO_ROOT


def _both(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    def run(*prefix: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *prefix, *args], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})

    return run("-m", "release.smoke"), run("-m", "release", "smoke")


@pytest.mark.parametrize("args", [
    ("record", "--digest", "sha256:nothex", "--image", "i", "--version", "0.13.0", "--tier", "kind"),  # refused: 2
    ("run-start", "--tier", "kind"),  # a missing option: usage, 2
    ("check", "api", "--health", "missing.json", "--version", "0.13.0"),  # a failing check: 1
], ids=["refused", "usage", "check-failed"])
def test_errors_read_the_same_from_both_entry_points(tmp_path: Path, args: tuple[str, ...]) -> None:
    module, tool = _both(tmp_path, *args)
    assert module.returncode == tool.returncode != 0
    assert module.returncode in (1, 2)
    assert module.stdout == tool.stdout
    # the usage line names the program as it was started; everything else is the same text
    assert module.stderr.replace("python -m release.smoke", "PROG") == \
        tool.stderr.replace("ellm-release smoke", "PROG")
    assert "Traceback" not in module.stderr


def test_json_is_one_document_with_the_outcome(tmp_path: Path) -> None:
    module, tool = _both(tmp_path, "check", "api", "--health", "missing.json", "--version", "0.13.0", "--json")
    document = json.loads(module.stdout)
    assert document == json.loads(tool.stdout)
    assert document["ok"] is False and document["exit_code"] == 1 and document["passed"] is False
    assert document["findings"][0]["message"] == "input file not found: missing.json"
