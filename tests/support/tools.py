"""Programs a test runs for real. A missing one fails the test with the command that installs it:
these tests are never skipped."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

SETUP = "scripts/setup.sh"


def need_tool(name: str, install: str) -> str:
    """The path of `name` (this environment's own bin folder first), or a failure saying `install`."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed; install it with: {install}", pytrace=False)
    return found
